// A LUKS volume of either version, parsed from its header area: the version is read from the bytes here, once, and every other
// module of the facade branches on `volume.type` so that callers never do.
import { UnsupportedError } from '../errors.ts';
import { detectLuksType } from '../luks-common/detect.ts';
import { LUKS1_HEADER_AREA_BYTES, LUKS1_MAGIC, LUKS1_PHDR_BYTES, SECTOR_BYTES } from '../luks1/constants.ts';
import { parseLuks1Header, type Luks1Header } from '../luks1/header.ts';
import { LUKS2_BINARY_HEADER_BYTES, LUKS2_MAX_HEADER_AREA_BYTES, luks2BytesNeeded, parseLuks2Header, type Luks2Header } from '../luks2/index.ts';
import type { LuksType } from '../protocol/contract.ts';

/** A parsed header and the header area it was read from (key material included). */
export type LuksVolume =
  | { readonly type: 'luks1'; readonly header: Luks1Header; readonly area: Uint8Array }
  | { readonly type: 'luks2'; readonly header: Luks2Header; readonly area: Uint8Array };

/** The most of a device that is header, per version: what a reader hands parseVolume (LUKS1 2068480 bytes, LUKS2 16 MiB). */
export const MAX_VOLUME_AREA_BYTES = Math.max(LUKS1_HEADER_AREA_BYTES, LUKS2_MAX_HEADER_AREA_BYTES);

/**
 * Parses the start of a device as the LUKS version it really is. `sentFor` is the type a transfer was sized for (dom0's --type):
 * a LUKS2 volume cannot be parsed from a LUKS1-sized area, so that is refused with the option to use; a LUKS1 volume inside a
 * LUKS2-sized area is fine (its area is the first 2068480 bytes).
 */
export function parseVolume(area: Uint8Array, sentFor: LuksType = 'luks2'): LuksVolume {
  const type = detectLuksType(area);
  if (type === 'luks2') {
    if (sentFor === 'luks1') throw new UnsupportedError('this is a LUKS2 volume, but only a LUKS1 header area was sent: use --type=luks2 (the default)');
    return { type, header: parseLuks2Header(area), area };
  }
  return { type, header: parseLuks1Header(area), area: area.subarray(0, LUKS1_HEADER_AREA_BYTES) };
}

/** Start of the data in bytes: LUKS1 its payload offset, LUKS2 its segment's offset. */
export function dataOffsetBytes(volume: LuksVolume): number {
  return volume.type === 'luks1' ? volume.header.payloadOffset * SECTOR_BYTES : volume.header.metadata.segment.offset;
}

/** Whether the bytes start with a LUKS1 header (magic and version 1): the one case where the payload offset bounds the transfer. */
function isLuks1Start(prefix: Uint8Array): boolean {
  return prefix.length >= LUKS1_PHDR_BYTES && LUKS1_MAGIC.every((byte, i) => prefix[i] === byte) && prefix[6] === 0 && prefix[7] === 1;
}

/** Whether the bytes start with a LUKS magic at all (a damaged LUKS2 primary aside, whose secondary the parser looks for). */
export function hasLuksMagic(prefix: Uint8Array): boolean {
  return prefix.length >= LUKS1_MAGIC.length && LUKS1_MAGIC.every((byte, i) => prefix[i] === byte);
}

/**
 * How many bytes from the start of the disk the parser needs, given the `prefix` it has (<= prefix.length: enough, or nothing
 * more would help and the parse that follows says why). LUKS1: up to its payload, at most the 2068480-byte area (key material must
 * lie inside it), or with `reach` 'data' up to its payload, at most 16 MiB (a conversion to LUKS2 rewrites all of it). LUKS2 (or
 * no primary header): luks2BytesNeeded, both copies and the key-slot area, or the secondary's search.
 */
export function headerBytesNeeded(prefix: Uint8Array, reach: 'header' | 'data' = 'header'): number {
  if (prefix.length < LUKS1_PHDR_BYTES) return LUKS2_BINARY_HEADER_BYTES;
  if (isLuks1Start(prefix)) {
    const payloadOffset = new DataView(prefix.buffer, prefix.byteOffset, LUKS1_PHDR_BYTES).getUint32(104);
    return Math.min(payloadOffset * SECTOR_BYTES, reach === 'data' ? LUKS2_MAX_HEADER_AREA_BYTES : LUKS1_HEADER_AREA_BYTES);
  }
  return luks2BytesNeeded(prefix);
}
