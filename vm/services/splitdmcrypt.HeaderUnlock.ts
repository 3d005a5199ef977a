// qrexec service splitdmcrypt.HeaderUnlock+luks1 (header DisposableVM): parses the untrusted header with our own engine, asks dom0 for
// the passphrase (or key file), unlocks, and returns the volume key sealed to the device VM's key: this VM never talks to the device VM.
import { UnsupportedError, WrongPassphraseError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import { parseLuks1Header, type Luks1Header } from '../../shared/luks1/header.ts';
import { unlockLuks1, type Luks1Unlocked } from '../../shared/luks1/unlock.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { headerAreaBytes } from '../../shared/protocol/luks-types.ts';
import { UnlockRequest } from '../../shared/protocol/messages.ts';
import { sealTo } from '../../shared/seal.ts';
import { requestSecret } from '../lib/secret-request.ts';
import { runService } from '../lib/service.ts';

/** cryptsetup's default number of passphrase tries. */
const PASSPHRASE_ATTEMPTS = 3;

/** Only AES-XTS volumes are mapped: refuse anything else before asking for a passphrase, saying why. */
function assertMappable(header: Luks1Header): void {
  if (header.cipherMode !== 'xts-plain64' || (header.keyBytes !== 32 && header.keyBytes !== 64)) {
    throw new UnsupportedError(
      `the volume uses ${header.cipherName}-${header.cipherMode} with a ${header.keyBytes * 8}-bit key; only aes-xts-plain64 with 256- or 512-bit keys ` +
        'is mapped (the device VM validates exactly that kind of key)',
    );
  }
}

async function unlockWithRetries(channel: Channel, header: Luks1Header, area: Uint8Array, kind: 'passphrase' | 'key-file'): Promise<Luks1Unlocked> {
  const attempts = kind === 'key-file' ? 1 : PASSPHRASE_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const secret = await requestSecret(channel, kind, attempt);
    try {
      return await unlockLuks1(header, area, secret);
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
  const area = await channel.receiveBytes('header area', headerAreaBytes(request.luksType));
  const header = parseLuks1Header(area);
  assertMappable(header);
  const { keyslot, volumeKey } = await unlockWithRetries(channel, header, area, request.secretKind);
  try {
    const sealedKey = sealTo(request.devicePublicKey, volumeKey);
    channel.send({ type: 'unlocked', cipher: 'aes-xts-plain64', keyBytes: header.keyBytes, payloadOffset: header.payloadOffset, sectorSize: 512, keyslot, sealedKey });
  } finally {
    zeroize(volumeKey, area);
  }
});
