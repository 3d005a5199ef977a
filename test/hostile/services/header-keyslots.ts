// A compromised splitdmcrypt.HeaderKeyslots: takes the header in steps and reports it honestly (our own parser), asks for the
// existing passphrase, then returns, per --args `reply`: `short` (a header area 512 bytes shorter than it was sent), `long` (512
// bytes longer), `garbage` (random bytes of the right length, which no VM parses), `other` (a valid header of the same version
// with a new volume key: the verify VM parses it, but it is not the change asked for) or `same` (the disk's own header back).
// Observes: request, secret (the passphrase opened), replied.
import { randomBytes } from 'node:crypto';
import { formatVolume, headerBytesNeeded, parseVolume, summarizeVolume } from '../../../shared/luks/index.ts';
import { KeyslotsRequest } from '../../../shared/protocol/messages.ts';
import { receiveHeaderInSteps } from '../../../vm/lib/header-transfer.ts';
import { requestSecret } from '../../../vm/lib/secret-request.ts';
import { dom0Channel, hostileArgs, hostileMain, observe } from '../service-kit.ts';

type Reply = 'short' | 'long' | 'garbage' | 'other' | 'same';

await hostileMain(async () => {
  const { reply } = hostileArgs<{ reply: Reply }>();
  const channel = dom0Channel();
  const request = await channel.receive(KeyslotsRequest);
  observe('request', { operation: request.operation });
  const received = await receiveHeaderInSteps(channel, headerBytesNeeded);
  const volume = parseVolume(received);
  channel.send(summarizeVolume(volume));
  const secret = await requestSecret(channel, request.secretKind, 1);
  observe('secret', { text: Buffer.from(secret).toString('utf8') });
  const area = await areaFor(reply, received, volume.type);
  channel.sendBytes(area);
  observe('replied', { reply, length: area.length, sent: received.length });
});

async function areaFor(reply: Reply, received: Buffer, type: 'luks1' | 'luks2'): Promise<Buffer> {
  switch (reply) {
    case 'short':
      return randomBytes(received.length - 512);
    case 'long':
      return randomBytes(received.length + 512);
    case 'garbage':
      return randomBytes(received.length);
    case 'same':
      return Buffer.from(received);
    case 'other': {
      const { volume } = await formatVolume(Buffer.from('attacker'), { type, keyBytes: 64, hash: 'sha256', forcedIterations: type === 'luks1' ? 1000 : 4, ...(type === 'luks2' ? { memoryKiB: 8192 } : {}) });
      const area = Buffer.alloc(received.length);
      Buffer.from(volume.area).copy(area, 0, 0, Math.min(area.length, volume.area.length));
      return area;
    }
  }
}
