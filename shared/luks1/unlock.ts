// Unlocking a LUKS1 volume: every active key slot tried at once on the thread pool; the first slot that opens wins.
import { WrongPassphraseError } from '../errors.ts';
import { zeroize } from '../bytes.ts';
import type { Luks1Header } from './header.ts';
import { openKeyslot } from './keyslot.ts';

export interface Luks1Unlocked {
  readonly keyslot: number;
  /** The volume key: the caller zeroes it when done. */
  readonly volumeKey: Buffer;
}

/**
 * Opens the volume key with a passphrase or key-file bytes. `area` is the header area (at least every active slot's material).
 * `onlySlot` restricts the trial to one slot (as cryptsetup's --key-slot does).
 */
export async function unlockLuks1(header: Luks1Header, area: Uint8Array, secret: Uint8Array, onlySlot?: number): Promise<Luks1Unlocked> {
  const slots = header.keyslots.filter((slot) => slot.active && (onlySlot === undefined || slot.index === onlySlot));
  // All trials run concurrently; a match is reported in slot order so the answer does not depend on thread timing.
  const results = await Promise.all(slots.map((slot) => openKeyslot(header, area, slot, secret)));
  let found: Luks1Unlocked | undefined;
  results.forEach((volumeKey, i) => {
    if (!volumeKey) return;
    if (found) zeroize(volumeKey);
    else found = { keyslot: slots[i]!.index, volumeKey };
  });
  if (!found) throw new WrongPassphraseError();
  return found;
}
