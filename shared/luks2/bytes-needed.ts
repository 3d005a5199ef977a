// How much of a disk the LUKS2 parser needs, asked for in steps by a header DisposableVM that receives the disk piece by piece:
// the same reads cryptsetup makes (lib/luks2/luks2_disk_metadata.c: LUKS2_disk_hdr_read), each asked for only once the bytes
// before it have shown that it is needed.
import { SplitError } from '../errors.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../luks1/constants.ts';
import { bytesEqual } from '../bytes.ts';
import { parseLuks2BinaryHeader, type Luks2Copy } from './binary-header.ts';
import { LUKS2_BINARY_HEADER_BYTES, LUKS2_HEADER_SIZES, LUKS2_MAGIC_PRIMARY, LUKS2_MAX_HEADER_AREA_BYTES } from './constants.ts';
import { chooseCopy, readCopy, type CopyResult } from './header-copies.ts';

/** The binary header cryptsetup's pre-checks accept at `offset`, or undefined. */
function binaryAt(prefix: Uint8Array, copy: Luks2Copy, offset: number): { hdrSize: number } | undefined {
  try {
    return parseLuks2BinaryHeader(prefix.subarray(offset), copy, offset);
  } catch (error) {
    if (error instanceof SplitError) return undefined;
    throw error;
  }
}

/** Bytes from 0 the chosen copy needs: both copies and the key-slot area (every key-slot area lies inside it). */
function extentOf(result: CopyResult & { state: 'ok' }, have: number): number {
  if (!('metadata' in result.decoded)) return have; // refused whatever follows: nothing more helps
  const { metadata } = result.decoded;
  const areaEnds = metadata.keyslots.map((slot) => slot.area.offset + slot.area.size);
  return Math.max(2 * result.binary.hdrSize, 2 * result.binary.hdrSize + metadata.config.keyslotsSize, ...areaEnds);
}

/** The primary is unusable: the secondary at each header size in turn, as far as the bytes received show it is needed. */
function scanNeeds(prefix: Uint8Array): number {
  const have = prefix.length;
  for (const offset of LUKS2_HEADER_SIZES) {
    if (have < offset + LUKS2_BINARY_HEADER_BYTES) return offset + LUKS2_BINARY_HEADER_BYTES;
    if (!binaryAt(prefix, 'secondary', offset)) continue;
    if (have < 2 * offset) return 2 * offset;
    const secondary = readCopy(prefix, 'secondary', offset);
    if (secondary.state === 'fail') continue; // its checksum failed: cryptsetup goes on to the next offset
    return secondary.state === 'ok' ? extentOf(secondary, have) : have;
  }
  return have;
}

function needs(prefix: Uint8Array): number {
  const have = prefix.length;
  if (have < LUKS2_BINARY_HEADER_BYTES) return LUKS2_BINARY_HEADER_BYTES;
  // A LUKS1 primary makes cryptsetup read the volume as LUKS1 (setup.c: _crypt_load_luks): its fixed header area.
  if (bytesEqual(prefix.subarray(0, LUKS2_MAGIC_PRIMARY.length), LUKS2_MAGIC_PRIMARY)) {
    const version = (prefix[6]! << 8) | prefix[7]!;
    if (version === 1) return LUKS1_HEADER_AREA_BYTES;
    if (version !== 2) return have; // refused as an unsupported LUKS version, whatever follows
  }
  const primaryBinary = binaryAt(prefix, 'primary', 0);
  if (!primaryBinary) return scanNeeds(prefix);
  const both = 2 * primaryBinary.hdrSize;
  if (have < both) return both;
  const primary = readCopy(prefix, 'primary', 0);
  if (primary.state === 'fail') return scanNeeds(prefix);
  const secondary = readCopy(prefix, 'secondary', primaryBinary.hdrSize);
  if (primary.state !== 'ok' && secondary.state !== 'ok') return have;
  return extentOf(chooseCopy(primary, secondary, primaryBinary.hdrSize).chosen, have);
}

/**
 * How many bytes from offset 0 parseLuks2Header needs to parse the volume and unlock it, given the first bytes received so far:
 * 4096 for the primary binary header; then both copies (2 x hdr_size); once the JSON is readable, the end of the key-slot area
 * (2 x hdr_size + config.keyslots_size, which holds every key-slot area); when the primary is unusable, the next place the
 * secondary may start (16 KiB to 4 MiB, plus 4096) and then that copy's own needs; for a LUKS1 primary, the LUKS1 header area.
 * A result no larger than `prefix.length` means nothing more is needed (or nothing more would help: the parser then refuses).
 * Never more than LUKS2_MAX_HEADER_AREA_BYTES (16 MiB): slots beyond it cannot be tried, as before. A pure function; it does not
 * throw on any input. Call it again with the longer prefix until it asks for no more (or the disk ends).
 */
export function luks2BytesNeeded(prefix: Uint8Array): number {
  return Math.min(needs(prefix), LUKS2_MAX_HEADER_AREA_BYTES);
}
