// Unlocking a LUKS2 volume: key slots tried in cryptsetup's order (preferred slots first), one at a time or as many at once as
// a memory budget allows (Argon2 slots may each need up to 1 GiB).
import { firstInOrder } from '../luks-common/first-in-order.ts';
import { ParseError, WrongPassphraseError } from '../errors.ts';
import { isMappable } from '../luks-common/ciphers.ts';
import { SECTOR_BYTES, type Luks2SectorSize } from './constants.ts';
import type { Luks2Header } from './header.ts';
import { openLuks2Keyslot } from './keyslot.ts';
import type { Luks2Keyslot } from './metadata.ts';

/** What the device VM needs to map the data segment, besides the key. */
export interface Luks2Mapping {
  /** The segment's cipher as cryptsetup names it; mappable when the cipher table maps it with this key size. */
  readonly cipher: string;
  readonly keyBytes: number;
  readonly mappable: boolean;
  readonly offsetBytes: number;
  /** offsetBytes in 512-byte sectors (device-mapper units). */
  readonly offsetSectors: number;
  readonly sectorSize: Luks2SectorSize;
  /** dm-crypt's iv_offset, in 512-byte sectors. */
  readonly ivTweak: number;
  /** Data size in bytes, or 'dynamic' for "to the end of the device". */
  readonly size: 'dynamic' | number;
}

export interface Luks2Unlocked {
  readonly keyslot: number;
  /** The volume key: the caller zeroes it when done. */
  readonly volumeKey: Buffer;
  readonly mapping: Luks2Mapping;
}

/** The mapping facts of a header's segment for a volume key of `keyBytes`. */
export function luks2Mapping(header: Luks2Header, keyBytes: number): Luks2Mapping {
  const { segment } = header.metadata;
  return {
    cipher: segment.encryption,
    keyBytes,
    mappable: isMappable(segment.encryption, keyBytes),
    offsetBytes: segment.offset,
    offsetSectors: segment.offset / SECTOR_BYTES,
    sectorSize: segment.sectorSize,
    ivTweak: segment.ivTweak,
    size: segment.size,
  };
}

/** Slots to try: priority 2 before 1; priority-0 slots only when asked for by number (as cryptsetup does). */
function candidates(slots: readonly Luks2Keyslot[], onlySlot: number | undefined): Luks2Keyslot[] {
  if (onlySlot !== undefined) return slots.filter((slot) => slot.id === onlySlot);
  const rank = (slot: Luks2Keyslot): number => (slot.priority === 2 ? 0 : 1);
  return slots.filter((slot) => slot.priority !== 0).sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

/**
 * How many key slots may be derived at once: their Argon2 memory together within `memoryBudgetKiB` (PBKDF2 slots count as none)
 * and at most `maxConcurrent` of them. One slot is always tried, whatever its memory. The default tries one at a time.
 */
export interface UnlockConcurrency {
  readonly memoryBudgetKiB: number;
  readonly maxConcurrent: number;
}

export interface UnlockLuks2Options {
  /** Only this slot (cryptsetup's --key-slot). */
  readonly onlySlot?: number;
  /** Hears of each slot just before it is tried (the header VM tells dom0, whose wait then follows the slot's cost). */
  readonly onSlot?: (slot: Luks2Keyslot) => void;
  readonly concurrency?: UnlockConcurrency;
}

const slotMemoryKiB = (slot: Luks2Keyslot): number => (slot.kdf.type === 'pbkdf2' ? 0 : slot.kdf.memoryKiB);

/** The candidates in order, cut into runs that fit the budget together. */
export function unlockBatches(slots: readonly Luks2Keyslot[], concurrency: UnlockConcurrency | undefined): Luks2Keyslot[][] {
  const runs: Luks2Keyslot[][] = [];
  let run: Luks2Keyslot[] = [];
  let memory = 0;
  for (const slot of slots) {
    const fits = concurrency !== undefined && run.length < concurrency.maxConcurrent && memory + slotMemoryKiB(slot) <= concurrency.memoryBudgetKiB;
    if (run.length > 0 && !fits) {
      runs.push(run);
      run = [];
      memory = 0;
    }
    run.push(slot);
    memory += slotMemoryKiB(slot);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Opens the volume key with a passphrase or key-file bytes. `area` is the header area from byte 0 of the volume (it must include
 * the key-slot areas). Slots are tried in cryptsetup's order; with `concurrency`, as many at once as fit its memory budget (on
 * worker threads), the first in order that opens winning, so the answer is the sequential one, only sooner.
 */
export async function unlockLuks2(header: Luks2Header, area: Uint8Array, secret: Uint8Array, options: UnlockLuks2Options = {}): Promise<Luks2Unlocked> {
  let unreachable: ParseError | undefined;
  const attempt = async (slot: Luks2Keyslot, signal: AbortSignal): Promise<Buffer | undefined> => {
    try {
      return await openLuks2Keyslot(header.metadata, area, slot, secret, signal);
    } catch (error) {
      // A slot whose area lies beyond the header area we hold (past 16 MiB) cannot be tried; the others still can.
      if (!(error instanceof ParseError)) throw error;
      unreachable ??= error;
      return undefined;
    }
  };
  for (const run of unlockBatches(candidates(header.metadata.keyslots, options.onlySlot), options.concurrency)) {
    for (const slot of run) options.onSlot?.(slot);
    // The answer is given as soon as the slot order makes it certain; the batch's other derivations are then stopped (Argon2
    // workers terminated, with their copies of the secret), and a key one of them opens meanwhile is zeroed when it lands.
    const stop = new AbortController();
    try {
      const found = await firstInOrder(run.map((slot) => attempt(slot, stop.signal)), (key) => key.fill(0));
      if (found) return { keyslot: run[found.index]!.id, volumeKey: found.value, mapping: luks2Mapping(header, found.value.length) };
    } finally {
      stop.abort();
    }
  }
  throw unreachable ?? new WrongPassphraseError();
}
