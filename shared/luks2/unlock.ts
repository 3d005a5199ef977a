// Unlocking a LUKS2 volume: key slots tried one at a time (Argon2 slots may each need up to 1 GiB), preferred slots first.
import { ParseError, WrongPassphraseError } from '../errors.ts';
import { MAPPABLE_CIPHER, MAPPABLE_KEY_BYTES, SECTOR_BYTES, type Luks2SectorSize } from './constants.ts';
import type { Luks2Header } from './header.ts';
import { openLuks2Keyslot } from './keyslot.ts';
import type { Luks2Keyslot } from './metadata.ts';

/** What the device VM needs to map the data segment, besides the key. */
export interface Luks2Mapping {
  /** The segment's cipher as cryptsetup names it; only aes-xts-plain64 with a 32- or 64-byte key is mappable. */
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
    mappable: segment.encryption === MAPPABLE_CIPHER && (MAPPABLE_KEY_BYTES as readonly number[]).includes(keyBytes),
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
 * Opens the volume key with a passphrase or key-file bytes. `area` is the header area from byte 0 of the volume (it must include
 * the key-slot areas). `onlySlot` restricts the trial to one slot (cryptsetup's --key-slot). `onSlot` hears of each slot just
 * before it is tried (the header VM tells dom0, whose wait for the answer then follows the slot's cost).
 */
export async function unlockLuks2(header: Luks2Header, area: Uint8Array, secret: Uint8Array, onlySlot?: number, onSlot: (slot: Luks2Keyslot) => void = () => undefined): Promise<Luks2Unlocked> {
  let unreachable: ParseError | undefined;
  for (const slot of candidates(header.metadata.keyslots, onlySlot)) {
    try {
      onSlot(slot);
      const volumeKey = await openLuks2Keyslot(header.metadata, area, slot, secret);
      if (volumeKey) return { keyslot: slot.id, volumeKey, mapping: luks2Mapping(header, volumeKey.length) };
    } catch (error) {
      // A slot whose area lies beyond the header area we hold (past 16 MiB) cannot be tried; the others still can.
      if (!(error instanceof ParseError)) throw error;
      unreachable ??= error;
    }
  }
  throw unreachable ?? new WrongPassphraseError();
}
