// Unlocking with the secret dom0 sends, retried as cryptsetup retries a passphrase: the header VM's side of every service that must
// open a key slot first (HeaderUnlock, HeaderKeyslots). A keep-alive per key slot tells dom0 how long to wait.
import { WrongPassphraseError } from '../../shared/errors.ts';
import { zeroize } from '../../shared/bytes.ts';
import type { Channel } from '../../shared/protocol/channel.ts';
import { expectedSlotMs } from '../../shared/protocol/keyslot-cost.ts';
import { unlockVolume, type LuksVolume, type VolumeUnlocked } from '../../shared/luks/index.ts';
import { requestSecret } from './secret-request.ts';
import { unlockConcurrency } from './unlock-concurrency.ts';

/** cryptsetup's default number of passphrase tries; dom0 enforces the same count on its side. */
const PASSPHRASE_ATTEMPTS = 3;

/** The unlocked volume key and the secret that opened it; the caller zeroes both. */
export interface UnlockedWith extends VolumeUnlocked {
  readonly secret: Uint8Array;
}

/** Asks dom0 for the secret (a passphrase at most 3 times, a key file once) until a key slot opens; WrongPassphraseError otherwise. */
export async function unlockWithRetries(channel: Channel, volume: LuksVolume, kind: 'passphrase' | 'key-file'): Promise<UnlockedWith> {
  const attempts = kind === 'key-file' ? 1 : PASSPHRASE_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const secret = await requestSecret(channel, kind, attempt);
    try {
      // A keep-alive per key slot with its expected cost: dom0 waits that long for the next message, so heavy (but capped) slots
      // tried one after another end in an answer, not in dom0's reply timeout.
      const unlocked = await unlockVolume(volume, secret, {
        concurrency: unlockConcurrency(),
        onSlot: (slot) => channel.send({ type: 'unlock-progress', keyslot: slot.id, expectedMs: Math.min(expectedSlotMs(slot), 2 ** 31) }),
      });
      return { ...unlocked, secret };
    } catch (error) {
      zeroize(secret);
      if (!(error instanceof WrongPassphraseError) || attempt >= attempts) {
        if (error instanceof WrongPassphraseError) throw new WrongPassphraseError(`no key slot matches the ${kind === 'key-file' ? 'key file' : 'passphrase'}${attempts > 1 ? ` (${attempts} attempts)` : ''}`);
        throw error;
      }
    }
  }
}
