// Unlocking a volume of either version with a passphrase or key-file bytes.
import { unlockLuks1 } from '../luks1/unlock.ts';
import { unlockLuks2, type UnlockConcurrency } from '../luks2/index.ts';

export type { UnlockConcurrency };
import type { KeyslotSummary } from '../protocol/messages.ts';
import { keyslotSummaries } from './summary.ts';
import type { LuksVolume } from './volume.ts';

export interface UnlockOptions {
  /** Try this key slot only (cryptsetup's --key-slot). */
  readonly onlySlot?: number;
  /** Hears of each key slot before its derivation starts (LUKS1, whose slots are tried all at once: of the slowest). */
  readonly onSlot?: (slot: KeyslotSummary) => void;
  /** How many LUKS2 key slots are derived at once (the caller knows the machine; shared/ does not ask it). */
  readonly concurrency?: UnlockConcurrency;
}

export interface VolumeUnlocked {
  readonly keyslot: number;
  /** The volume key: the caller zeroes it when done. */
  readonly volumeKey: Buffer;
}

/** The volume key for `secret`; throws WrongPassphraseError when no key slot opens. */
export async function unlockVolume(volume: LuksVolume, secret: Uint8Array, options: UnlockOptions = {}): Promise<VolumeUnlocked> {
  const summaries = keyslotSummaries(volume).filter((slot) => options.onlySlot === undefined || slot.id === options.onlySlot);
  if (volume.type === 'luks1') {
    const slowest = [...summaries].sort((a, b) => b.iterations - a.iterations)[0];
    if (slowest) options.onSlot?.(slowest);
    return unlockLuks1(volume.header, volume.area, secret, options.onlySlot);
  }
  const { keyslot, volumeKey } = await unlockLuks2(volume.header, volume.area, secret, {
    ...(options.onlySlot === undefined ? {} : { onlySlot: options.onlySlot }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    onSlot: (slot) => {
      const summary = summaries.find((candidate) => candidate.id === slot.id);
      if (summary) options.onSlot?.(summary);
    },
  });
  return { keyslot, volumeKey };
}
