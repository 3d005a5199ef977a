// The LUKS2 header: both copies read and checked as cryptsetup reads them (header-copies.ts), the one it would use chosen and
// reported, and the serializer that writes both copies back with a new seqid. The single entry for untrusted LUKS2 headers.
import { ParseError, UnsupportedError } from '../errors.ts';
import { binaryHeaderNotes, serializeLuks2Copy, type Luks2BinaryHeader, type Luks2Copy } from './binary-header.ts';
import { bytesEqual } from '../bytes.ts';
import { LUKS2_MAGIC_PRIMARY, LUKS2_MAX_HEADER_AREA_BYTES } from './constants.ts';
import { chooseCopy, readCopy, readSecondary, type CopyResult } from './header-copies.ts';
import { luks2JsonText } from './metadata-encode.ts';
import type { Luks2Metadata } from './metadata.ts';

export interface Luks2Header {
  readonly version: 2;
  /** The binary header of the copy in use. */
  readonly binary: Luks2BinaryHeader;
  readonly metadata: Luks2Metadata;
  /** Which copy the metadata comes from (binary.copy); when it is the secondary, `warnings` says why. */
  readonly copyUsed: Luks2Copy;
  /** Each copy's 64-byte salt (the other copy's when it was unreadable is undefined: a rewrite makes a fresh one). */
  readonly salts: { readonly primary?: Uint8Array; readonly secondary?: Uint8Array };
  /**
   * Never silent: why the other copy was not used (unusable, older, or equal but different), and what was ignored the way
   * cryptsetup ignores it. The volume is usable; the caller shows these.
   */
  readonly warnings: readonly string[];
}

/** cryptsetup reads the UUID without checking it; we refuse anything else, as it goes into dom0's messages and dm names. */
const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A primary magic with a version other than 2 is never read as LUKS2, whatever the secondary (cryptsetup's _crypt_load_luks in
 * lib/setup.c takes the LUKS2 path only for version 2 or no primary magic at all).
 */
function refuseOtherVersions(area: Uint8Array): void {
  if (area.length < 8 || !bytesEqual(area.subarray(0, LUKS2_MAGIC_PRIMARY.length), LUKS2_MAGIC_PRIMARY)) return;
  const version = (area[6]! << 8) | area[7]!;
  if (version === 1) throw new ParseError('luks2 primary header', 'version', 6, 'version 1: a LUKS1 header');
  if (version !== 2) throw new UnsupportedError(`unsupported LUKS version ${version}`);
}

/**
 * Parses a LUKS2 header area (from byte 0 of the volume). It needs the bytes luks2BytesNeeded asks for: both copies and the
 * key-slot area, at most 16 MiB; a longer area is fine. Throws ParseError (cryptsetup would refuse it too, or one of our caps)
 * or UnsupportedError (cryptsetup would load it, we do not implement the feature named).
 */
export function parseLuks2Header(area: Uint8Array): Luks2Header {
  refuseOtherVersions(area);
  const primary = readCopy(area, 'primary', 0);
  const secondary = readSecondary(area, primary);
  const secondaryOffset = secondary.state === 'fail' ? 0 : secondary.binary.hdrOffset;
  const { chosen, warnings } = chooseCopy(primary, secondary, secondaryOffset);
  if ('refusal' in chosen.decoded) throw chosen.decoded.refusal;
  const { metadata, notes } = chosen.decoded;
  const { binary } = chosen;
  if (!UUID_PATTERN.test(binary.uuid)) throw new UnsupportedError('unsupported luks2 uuid: not of the form 8-4-4-4-12 hexadecimal digits');
  // cryptsetup refuses a device shorter than its headers and key-slot area; we hold at most the first 16 MiB of it.
  const needed = Math.min(2 * binary.hdrSize + metadata.config.keyslotsSize, LUKS2_MAX_HEADER_AREA_BYTES);
  if (area.length < needed) throw new ParseError('luks2 header', 'key-slot area', area.length, `cut off: the headers and key-slot area need ${needed} bytes`);
  const copyBytes = area.subarray(binary.hdrOffset, binary.hdrOffset + binary.hdrSize);
  const saltOf = (result: CopyResult): Uint8Array | undefined => (result.state === 'fail' ? undefined : result.binary.salt);
  return {
    version: 2,
    binary,
    metadata,
    copyUsed: binary.copy,
    salts: { primary: saltOf(primary), secondary: saltOf(secondary) },
    warnings: [...warnings, ...notes, ...binaryHeaderNotes(copyBytes)],
  };
}

/** Both copies of a header with `metadata` and `seqid`: the primary at 0, the secondary at hdrSize, each hdrSize bytes. */
export function serializeLuks2Headers(header: Luks2Header, metadata: Luks2Metadata, seqid: bigint, freshSalt: () => Uint8Array): { offset: number; bytes: Buffer }[] {
  const jsonText = luks2JsonText(metadata);
  const common = { ...header.binary, seqid };
  const primary = serializeLuks2Copy({ ...common, copy: 'primary', hdrOffset: 0, salt: header.salts.primary ?? freshSalt() }, jsonText);
  const secondary = serializeLuks2Copy({ ...common, copy: 'secondary', hdrOffset: header.binary.hdrSize, salt: header.salts.secondary ?? freshSalt() }, jsonText);
  return [
    { offset: 0, bytes: primary },
    { offset: header.binary.hdrSize, bytes: secondary },
  ];
}
