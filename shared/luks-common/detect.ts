// Telling LUKS1 from LUKS2 by magic and version alone; nothing else is read. shared/luks parseVolume calls it once per volume.
import { ParseError, UnsupportedError } from '../errors.ts';
import { bytesEqual } from '../bytes.ts';
import type { LuksType } from '../protocol/contract.ts';
import { LUKS1_MAGIC } from '../luks1/constants.ts';
import { LUKS2_HEADER_SIZES, LUKS2_MAGIC_SECONDARY } from '../luks2/constants.ts';


/** Magic and version: what tells a primary header, and a LUKS2 secondary header, apart. */
const TYPE_BYTES = 8;

/**
 * Bytes to read for detectLuksType: 8 tell a primary header; a LUKS2 volume whose primary header is destroyed is told by a
 * secondary header, which may start at any of the nine LUKS2 header sizes, the last at 4 MiB.
 */
export const LUKS_PROBE_BYTES = LUKS2_HEADER_SIZES[LUKS2_HEADER_SIZES.length - 1]! + TYPE_BYTES;

const version = (bytes: Uint8Array, at: number): number => (bytes[at + 6]! << 8) | bytes[at + 7]!;

/** A LUKS2 secondary magic and version 2 at one of the places it may start, within the bytes given. */
function hasSecondary(bytes: Uint8Array): boolean {
  return LUKS2_HEADER_SIZES.some((at) => bytes.length >= at + TYPE_BYTES && bytesEqual(bytes.subarray(at, at + LUKS2_MAGIC_SECONDARY.length), LUKS2_MAGIC_SECONDARY) && version(bytes, at) === 2);
}

/**
 * The LUKS type of a device from its first bytes: the primary magic "LUKS\xba\xbe" and its big-endian version (1 or 2), as
 * cryptsetup decides (lib/setup.c: _crypt_load_luks). Without a primary magic, cryptsetup still tries LUKS2 (its secondary
 * header); we say 'luks2' when the bytes given hold a secondary magic, so pass up to LUKS_PROBE_BYTES to find one.
 */
export function detectLuksType(firstBytes: Uint8Array): LuksType {
  if (firstBytes.length < TYPE_BYTES) throw new ParseError('luks header', 'magic', 0, `only ${firstBytes.length} bytes`);
  if (!bytesEqual(firstBytes.subarray(0, LUKS1_MAGIC.length), LUKS1_MAGIC)) {
    if (hasSecondary(firstBytes)) return 'luks2';
    throw new ParseError('luks header', 'magic', 0, 'not a LUKS header');
  }
  const found = version(firstBytes, 0);
  if (found === 1) return 'luks1';
  if (found === 2) return 'luks2';
  throw new UnsupportedError(`unsupported LUKS version ${found}`);
}
