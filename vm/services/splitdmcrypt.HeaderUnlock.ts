// qrexec service splitdmcrypt.HeaderUnlock+luks1|luks2 (header DisposableVM): receives the disk's header in steps (asking for no
// more than the parser needs), parses it with our own engine, tells dom0 what it found, asks dom0 for the passphrase (or key file),
// unlocks, and returns the volume key sealed to the device VM's key: this VM never talks to the device VM.
import { WrongPassphraseError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { expectedSlotMs } from '../../shared/protocol/keyslot-cost.ts';
import { UnlockRequest } from '../../shared/protocol/messages.ts';
import { sealTo } from '../../shared/seal.ts';
import { headerBytesNeeded, mappableSegment, parseVolume, summarizeVolume, unlockVolume, type LuksVolume, type VolumeUnlocked } from '../../shared/luks/index.ts';
import { receiveHeaderInSteps } from '../lib/header-transfer.ts';
import { requestSecret } from '../lib/secret-request.ts';
import { unlockConcurrency } from '../lib/unlock-concurrency.ts';
import { LUKS_TYPES } from '../../shared/protocol/contract.ts';
import { matchArgument, runService } from '../lib/service.ts';

/** cryptsetup's default number of passphrase tries; dom0 enforces the same count on its side. */
const PASSPHRASE_ATTEMPTS = 3;

async function unlockWithRetries(channel: Channel, volume: LuksVolume, kind: 'passphrase' | 'key-file'): Promise<VolumeUnlocked> {
  const attempts = kind === 'key-file' ? 1 : PASSPHRASE_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const secret = await requestSecret(channel, kind, attempt);
    try {
      // A keep-alive per key slot with its expected cost: dom0 waits that long for the next message, so heavy (but capped) slots
      // tried one after another end in an answer, not in dom0's reply timeout.
      return await unlockVolume(volume, secret, {
        concurrency: unlockConcurrency(),
        onSlot: (slot) => channel.send({ type: 'unlock-progress', keyslot: slot.id, expectedMs: Math.min(expectedSlotMs(slot), 2 ** 31) }),
      });
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

await runService(LUKS_TYPES, async (channel, luksType) => {
  const request = await channel.receive(UnlockRequest);
  matchArgument(luksType, request.luksType);
  const area = await receiveHeaderInSteps(channel, headerBytesNeeded);
  try {
    const volume = parseVolume(area, luksType);
    // Refused here, before any passphrase is asked: a volume the device VM could not map.
    mappableSegment(volume);
    channel.send(summarizeVolume(volume));
    const { keyslot, volumeKey } = await unlockWithRetries(channel, volume, request.secretKind);
    try {
      channel.send({ type: 'unlocked', keyslot, sealedKey: sealTo(request.devicePublicKey, volumeKey) });
    } finally {
      zeroize(volumeKey);
    }
  } finally {
    zeroize(area);
  }
});
