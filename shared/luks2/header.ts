// The LUKS2 header: both copies (binary header + JSON area) read and checked, the valid one with the higher seqid used, and the
// serializer that writes both copies back with a new seqid. The single entry for untrusted LUKS2 headers.
import { ParseError, SplitError, UnsupportedError } from '../errors.ts';
import { bytesEqual } from '../bytes.ts';
import { MAX_PBKDF2_ITERATIONS } from '../luks1/constants.ts';
import { parseLuks2BinaryHeader, serializeLuks2Copy, verifyLuks2Checksum, type Luks2BinaryHeader, type Luks2Copy } from './binary-header.ts';
import {
  LUKS2_BINARY_HEADER_BYTES,
  LUKS2_HEADER_SIZES,
  LUKS2_MAX_DIGESTS,
  LUKS2_MAX_HEADER_AREA_BYTES,
  LUKS2_MAX_KEYSLOTS,
  LUKS2_MAX_SEGMENTS,
  LUKS2_MAX_TOKENS,
} from './constants.ts';
import { luks2JsonSchema } from './json-schema.ts';
import { luks2JsonText } from './metadata-encode.ts';
import { decodeLuks2Metadata, type Luks2Metadata } from './metadata.ts';

export interface Luks2Header {
  readonly version: 2;
  /** The binary header of the copy in use. */
  readonly binary: Luks2BinaryHeader;
  readonly metadata: Luks2Metadata;
  /** Each copy's 64-byte salt (the other copy's when it was unreadable is undefined: a rewrite makes a fresh one). */
  readonly salts: { readonly primary?: Uint8Array; readonly secondary?: Uint8Array };
  /** Disagreements between the copies (one invalid, different seqid or metadata): the volume is usable, but say so. */
  readonly warnings: readonly string[];
}

type CopyResult =
  | { readonly kind: 'valid'; readonly binary: Luks2BinaryHeader; readonly jsonText: Uint8Array; readonly metadata?: Luks2Metadata; readonly refusal?: UnsupportedError }
  | { readonly kind: 'invalid'; readonly error: SplitError; readonly binary?: Luks2BinaryHeader };

function jsonFail(copy: Luks2Copy, offset: number, reason: string): never {
  throw new ParseError(`luks2 ${copy} header`, 'JSON area', offset, reason);
}

/** The JSON text of one copy: starts with '{', ends at the first NUL, only NULs after it; valid UTF-8. */
function jsonTextOf(copyBytes: Uint8Array, binary: Luks2BinaryHeader): Uint8Array {
  const area = copyBytes.subarray(LUKS2_BINARY_HEADER_BYTES);
  const base = binary.hdrOffset + LUKS2_BINARY_HEADER_BYTES;
  if (area[0] !== 0x7b) jsonFail(binary.copy, base, "does not start with '{'");
  const end = area.indexOf(0);
  if (end < 0) jsonFail(binary.copy, base, 'no terminating NUL');
  for (let i = end; i < area.length; i++) if (area[i] !== 0) jsonFail(binary.copy, base + i, 'bytes after the JSON text are not NUL');
  return area.subarray(0, end);
}

function parseJson(text: Uint8Array, binary: Luks2BinaryHeader): unknown {
  const base = binary.hdrOffset + LUKS2_BINARY_HEADER_BYTES;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch {
    return jsonFail(binary.copy, base, 'not valid UTF-8 JSON');
  }
}

/** Caps the object counts before the schema walks them: a 4 MiB JSON area could otherwise hold 100 000 key slots. */
function refuseCrowdedSections(value: unknown, binary: Luks2BinaryHeader): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [section, cap] of [['keyslots', LUKS2_MAX_KEYSLOTS], ['tokens', LUKS2_MAX_TOKENS], ['digests', LUKS2_MAX_DIGESTS], ['segments', LUKS2_MAX_SEGMENTS]] as const) {
    const entries = (value as Record<string, unknown>)[section];
    if (typeof entries === 'object' && entries !== null && Object.keys(entries).length > cap) {
      throw new ParseError('luks2 metadata', section, binary.hdrOffset + LUKS2_BINARY_HEADER_BYTES, `${Object.keys(entries).length} entries exceed the cap of ${cap}`);
    }
  }
}

function decodeCopy(copyBytes: Uint8Array, binary: Luks2BinaryHeader): CopyResult {
  verifyLuks2Checksum(binary, copyBytes);
  const jsonText = jsonTextOf(copyBytes, binary);
  const value = parseJson(jsonText, binary);
  refuseCrowdedSections(value, binary);
  const checked = luks2JsonSchema.safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new ParseError('luks2 metadata', issue.path.join('.') || 'JSON', binary.hdrOffset + LUKS2_BINARY_HEADER_BYTES, issue.message.toLowerCase());
  }
  try {
    const metadata = decodeLuks2Metadata(checked.data, { hdrSize: binary.hdrSize }, { maxPbkdf2Iterations: MAX_PBKDF2_ITERATIONS });
    return { kind: 'valid', binary, jsonText, metadata };
  } catch (error) {
    // A copy that is well-formed but uses a feature we refuse still counts for the seqid comparison, as in cryptsetup.
    if (error instanceof UnsupportedError) return { kind: 'valid', binary, jsonText, refusal: error };
    throw error;
  }
}

function readCopy(area: Uint8Array, copy: Luks2Copy, offset: number): CopyResult {
  let binary: Luks2BinaryHeader | undefined;
  try {
    binary = parseLuks2BinaryHeader(area.subarray(offset), copy, offset);
    if (area.length < offset + binary.hdrSize) throw new ParseError(`luks2 ${copy} header`, 'JSON area', offset, `the ${binary.hdrSize}-byte header is cut off at byte ${area.length}`);
    return decodeCopy(area.subarray(offset, offset + binary.hdrSize), binary);
  } catch (error) {
    if (error instanceof SplitError) return binary ? { kind: 'invalid', error, binary } : { kind: 'invalid', error };
    throw error;
  }
}

/**
 * The secondary copy: right after a valid primary, else (its size field may be the corrupt part) at the first of the places cryptsetup
 * scans that holds a valid one.
 */
function readSecondary(area: Uint8Array, primary: CopyResult): CopyResult {
  if (primary.kind === 'valid') return readCopy(area, 'secondary', primary.binary.hdrSize);
  let first: CopyResult | undefined;
  for (const offset of LUKS2_HEADER_SIZES) {
    if (area.length < offset + LUKS2_BINARY_HEADER_BYTES) break;
    const result = readCopy(area, 'secondary', offset);
    if (result.kind === 'valid') return result;
    first ??= result;
  }
  return first ?? { kind: 'invalid', error: new ParseError('luks2 secondary header', 'magic', LUKS2_HEADER_SIZES[0], 'no secondary header found') };
}

/** Picks the copy to use and says how the two disagree. */
function choose(primary: CopyResult, secondary: CopyResult): { chosen: CopyResult & { kind: 'valid' }; warnings: string[] } {
  if (primary.kind === 'invalid' && secondary.kind === 'invalid') throw primary.error;
  if (primary.kind === 'invalid') return { chosen: secondary as CopyResult & { kind: 'valid' }, warnings: [`primary header is unusable (${primary.error.message}); using the secondary`] };
  if (secondary.kind === 'invalid') return { chosen: primary, warnings: [`secondary header is unusable (${secondary.error.message}); using the primary`] };
  const [p, s] = [primary.binary.seqid, secondary.binary.seqid];
  if (p !== s) return { chosen: p > s ? primary : secondary, warnings: [`primary and secondary headers disagree (seqid ${p} and ${s}); using the ${p > s ? 'primary' : 'secondary'}`] };
  if (!bytesEqual(primary.jsonText, secondary.jsonText)) return { chosen: primary, warnings: [`primary and secondary headers have the same seqid ${p} but different metadata; using the primary`] };
  return { chosen: primary, warnings: [] };
}

/** Parses a LUKS2 header area (from byte 0 of the volume; at least both header copies). Throws ParseError or UnsupportedError. */
export function parseLuks2Header(area: Uint8Array): Luks2Header {
  const primary = readCopy(area, 'primary', 0);
  const secondary = readSecondary(area, primary);
  const { chosen, warnings } = choose(primary, secondary);
  if (chosen.refusal) throw chosen.refusal;
  if (!chosen.metadata) throw new ParseError('luks2 header', 'metadata', 0, 'no usable metadata');
  // cryptsetup refuses a device shorter than its headers and key-slot area; we hold at most the first 16 MiB of it.
  const needed = Math.min(2 * chosen.binary.hdrSize + chosen.metadata.config.keyslotsSize, LUKS2_MAX_HEADER_AREA_BYTES);
  if (area.length < needed) throw new ParseError('luks2 header', 'key-slot area', area.length, `cut off: the headers and key-slot area need ${needed} bytes`);
  const saltOf = (result: CopyResult): Uint8Array | undefined => (result.kind === 'valid' ? result.binary.salt : undefined);
  return { version: 2, binary: chosen.binary, metadata: chosen.metadata, salts: { primary: saltOf(primary), secondary: saltOf(secondary) }, warnings };
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
