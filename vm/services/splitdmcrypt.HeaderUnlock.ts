// qrexec service splitdmcrypt.HeaderUnlock+luks1|luks2 (header DisposableVM): parses the untrusted header with our own engine,
// asks dom0 for the passphrase (or key file), unlocks, and returns the volume key sealed to the device VM's key: this VM never
// talks to the device VM.
import { OperationError, WrongPassphraseError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { receiveHeaderArea } from '../../shared/protocol/luks-types.ts';
import { UnlockRequest } from '../../shared/protocol/messages.ts';
import { sealTo } from '../../shared/seal.ts';
import { mappableSegment, parseHeaderArea, unlockHeaderArea, type ParsedHeaderArea } from '../lib/header-engine.ts';
import { requestSecret } from '../lib/secret-request.ts';
import { runService } from '../lib/service.ts';

/** cryptsetup's default number of passphrase tries. */
const PASSPHRASE_ATTEMPTS = 3;

async function unlockWithRetries(channel: Channel, parsed: ParsedHeaderArea, kind: 'passphrase' | 'key-file'): Promise<{ keyslot: number; volumeKey: Buffer }> {
  const attempts = kind === 'key-file' ? 1 : PASSPHRASE_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const secret = await requestSecret(channel, kind, attempt);
    try {
      return await unlockHeaderArea(parsed, secret);
    } catch (error) {
      if (!(error instanceof WrongPassphraseError) || attempt >= attempts) {
        if (error instanceof WrongPassphraseError) throw new WrongPassphraseError(`no key slot matches the ${kind === 'key-file' ? 'key file' : 'passphrase'}${attempts > 1 ? ` (${attempts} attempts)` : ''}`);
        throw error;
      }
    } finally {
      zeroize(secret);
    }
  }
}

await runService(async (channel) => {
  const request = await channel.receive(UnlockRequest);
  if (request.luksType !== process.env.QREXEC_SERVICE_ARGUMENT) throw new OperationError(`service argument does not match the requested type ${request.luksType}`);
  const area = await receiveHeaderArea(channel, request.luksType);
  try {
    const parsed = parseHeaderArea(request.luksType, area);
    const segment = mappableSegment(parsed);
    const { keyslot, volumeKey } = await unlockWithRetries(channel, parsed, request.secretKind);
    try {
      const sealedKey = sealTo(request.devicePublicKey, volumeKey);
      channel.send({ type: 'unlocked', cipher: 'aes-xts-plain64', keyBytes: segment.keyBytes, payloadOffset: segment.payloadOffset, sectorSize: segment.sectorSize, keyslot, sealedKey });
    } finally {
      zeroize(volumeKey);
    }
  } finally {
    zeroize(area);
  }
});
