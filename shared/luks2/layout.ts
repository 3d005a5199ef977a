// Key-slot area allocation the way cryptsetup does it (lib/luks2/luks2_json_format.c): 4 KiB-aligned areas of key-bytes * 4000 bytes,
// the lowest gap from the end of the secondary header that fits; and the lowest free key-slot id.
import { OperationError, UsageError } from '../errors.ts';
import { LUKS2_AREA_ALIGN, LUKS2_MAX_KEYSLOTS, LUKS2_STRIPES } from './constants.ts';
import type { Luks2Metadata } from './metadata.ts';

/** Size of a new key-slot area for a key: the AF material rounded up to 4 KiB. */
export const areaSizeFor = (keyBytes: number): number => Math.ceil((keyBytes * LUKS2_STRIPES) / LUKS2_AREA_ALIGN) * LUKS2_AREA_ALIGN;

/** The lowest free gap for a new area of `keyBytes`, or an OperationError when the key-slot area is full. */
export function findAreaGap(metadata: Luks2Metadata, hdrSize: number, keyBytes: number): { offset: number; size: number } {
  const size = areaSizeFor(keyBytes);
  const end = 2 * hdrSize + metadata.config.keyslotsSize;
  const used = metadata.keyslots.map((slot) => slot.area).sort((a, b) => a.offset - b.offset);
  let offset = 2 * hdrSize;
  for (const area of used) {
    if (offset + size <= area.offset) break;
    offset = Math.max(offset, Math.ceil((area.offset + area.size) / LUKS2_AREA_ALIGN) * LUKS2_AREA_ALIGN);
  }
  if (offset + size > end) throw new OperationError('no room left in the luks2 key-slot area for another key slot');
  return { offset, size };
}

/** The wanted free slot id, or the lowest free one. */
export function pickFreeKeyslot(metadata: Luks2Metadata, wanted: number | undefined): number {
  const used = new Set(metadata.keyslots.map((slot) => slot.id));
  if (wanted !== undefined) {
    if (wanted < 0 || wanted >= LUKS2_MAX_KEYSLOTS) throw new UsageError(`--key-slot expects 0-${LUKS2_MAX_KEYSLOTS - 1} for luks2, received ${wanted}`);
    if (used.has(wanted)) throw new OperationError(`key slot ${wanted} is already in use`);
    return wanted;
  }
  for (let id = 0; id < LUKS2_MAX_KEYSLOTS; id++) if (!used.has(id)) return id;
  throw new OperationError(`all ${LUKS2_MAX_KEYSLOTS} key slots are in use`);
}
