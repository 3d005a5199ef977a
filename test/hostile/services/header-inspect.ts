// A compromised splitdmcrypt.HeaderInspect: observes that it was called ({event: 'inspect-called'}), takes the first bytes and
// answers the `parsed` of --args (a LUKS1 volume with key slot 0 only, unless overridden), whatever the header says.
import { InspectRequest, type HeaderParsed } from '../../../shared/protocol/messages.ts';
import { dom0Channel, hostileArgs, hostileMain, observe } from '../service-kit.ts';

await hostileMain(async () => {
  const { parsed = {} } = hostileArgs<{ parsed?: Partial<Omit<HeaderParsed, 'type'>> }>();
  observe('inspect-called');
  const channel = dom0Channel();
  await channel.receive(InspectRequest);
  const probe = await channel.receiveBytes('probe', undefined, 16 * 1024 * 1024);
  observe('header-bytes', { offset: 0, length: probe.length });
  channel.send({
    type: 'header-parsed', luksType: 'luks1', uuid: '0b5d8f8e-4b1e-4c4a-9d67-6f1a2b3c4d5e', cipher: 'aes-xts-plain64', keyBytes: 64, dataOffset: 4096,
    sectorSize: 512, headerBytes: 2068480, keyslots: [{ id: 0, kdf: 'pbkdf2', iterations: 1000, memoryKiB: 0, parallel: 0, hash: 'sha256' }],
    copy: 'primary', warnings: [], ...parsed,
  });
});
