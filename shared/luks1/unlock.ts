// Unlocking a LUKS1 volume: every active key slot tried at once on the thread pool; the first slot in order that opens wins.
import { WrongPassphraseError } from '../errors.ts';
import { zeroize } from '../bytes.ts';
import { firstInOrder } from '../luks-common/first-in-order.ts';
import { concurrencyLimiter } from '../luks-common/limiter.ts';
import type { Luks1Header } from './header.ts';
import { openKeyslot } from './keyslot.ts';

export interface Luks1Unlocked {
  readonly keyslot: number;
  /** The volume key: the caller zeroes it when done. */
  readonly volumeKey: Buffer;
}

/**
 * Slot derivations running at once: libuv's default thread pool (4 threads) less one. Why: the slot that opens checks its candidate
 * key with another PBKDF2 (the volume-key digest) on the same pool; with every thread busy deriving later slots, that check queued
 * behind them and the answer (with the passphrase and key in memory meanwhile) waited for the slowest slot.
 */
export const LUKS1_CONCURRENT_SLOTS = 3;

/**
 * Opens the volume key with a passphrase or key-file bytes. `area` is the header area (at least every active slot's material).
 * `onlySlot` restricts the trial to one slot (as cryptsetup's --key-slot does).
 */
export async function unlockLuks1(header: Luks1Header, area: Uint8Array, secret: Uint8Array, onlySlot?: number): Promise<Luks1Unlocked> {
  const slots = header.keyslots.filter((slot) => slot.active && (onlySlot === undefined || slot.index === onlySlot));
  // Trials run concurrently; the answer is the first slot in order that opens, given as soon as that is certain (later slots
  // already deriving run to their end on the thread pool, and a key they open is zeroed when it lands), so it does not depend on
  // timing.
  const limited = concurrencyLimiter(LUKS1_CONCURRENT_SLOTS);
  let answered = false;
  // A slot not yet started when the answer is known is not started at all.
  const attempts = slots.map((slot) => limited(async () => (answered ? undefined : openKeyslot(header, area, slot, secret))));
  const found = await firstInOrder(attempts, (volumeKey) => zeroize(volumeKey)).finally(() => (answered = true));
  if (!found) throw new WrongPassphraseError();
  return { keyslot: slots[found.index]!.index, volumeKey: found.value };
}
