// Reading the two LUKS2 header copies the way cryptsetup does (lib/luks2/luks2_disk_metadata.c: hdr_read_disk, LUKS2_disk_hdr_read):
// each copy ends in one of cryptsetup's three states, the secondary is looked for where cryptsetup looks, and the copy to use is
// chosen by its rules. What cryptsetup would use but we refuse (our caps, features we do not implement) stays a usable copy for the
// choice, so a refusal never makes us fall back to an older copy than cryptsetup would use.
import { ParseError, SplitError, UnsupportedError } from '../errors.ts';
import { MAX_PBKDF2_ITERATIONS } from '../luks1/constants.ts';
import { parseLuks2BinaryHeader, verifyLuks2Checksum, type Luks2BinaryHeader, type Luks2Copy } from './binary-header.ts';
import { LUKS2_BINARY_HEADER_BYTES, LUKS2_HEADER_SIZES } from './constants.ts';
import { readLuks2JsonArea, type JsonObject } from './json-text.ts';
import { decodeLuks2Metadata, type Luks2Metadata } from './metadata.ts';
import { refuseCrowdedSections } from './metadata-refusals.ts';
import { validateLuks2Json } from './rules.ts';

/**
 * cryptsetup's HDR_FAIL (binary header or checksum failed, or the bytes are not there), HDR_OBSOLETE (checksum right, JSON
 * invalid) and HDR_OK (it would use the copy). An ok copy carries our decoded metadata, or the error we refuse it with.
 */
export type CopyResult =
  | { readonly state: 'fail'; readonly error: SplitError }
  | { readonly state: 'obsolete'; readonly error: ParseError; readonly binary: Luks2BinaryHeader }
  | { readonly state: 'ok'; readonly binary: Luks2BinaryHeader; readonly jsonText: Uint8Array; readonly decoded: { readonly metadata: Luks2Metadata; readonly notes: readonly string[] } | { readonly refusal: SplitError } };

export type OkCopy = CopyResult & { state: 'ok' };

/** Decodes a copy cryptsetup would use; our refusal is kept, not thrown, so the copy still takes part in the choice. */
function decode(json: JsonObject): OkCopy['decoded'] {
  const notes: string[] = [];
  try {
    return { metadata: decodeLuks2Metadata(json, { maxPbkdf2Iterations: MAX_PBKDF2_ITERATIONS }, notes), notes };
  } catch (error) {
    if (error instanceof SplitError) return { refusal: error };
    throw error;
  }
}

/** One copy at `offset` of `area`: its binary header, checksum, JSON and cryptsetup's rules, then our decoding. */
export function readCopy(area: Uint8Array, copy: Luks2Copy, offset: number): CopyResult {
  let binary: Luks2BinaryHeader;
  try {
    binary = parseLuks2BinaryHeader(area.subarray(offset), copy, offset);
    if (area.length < offset + binary.hdrSize) throw new ParseError(`luks2 ${copy} header`, 'JSON area', offset, `the ${binary.hdrSize}-byte header is cut off at byte ${area.length}`);
    verifyLuks2Checksum(binary, area.subarray(offset, offset + binary.hdrSize));
  } catch (error) {
    if (error instanceof SplitError) return { state: 'fail', error };
    throw error;
  }
  try {
    const { value, text } = readLuks2JsonArea(area.subarray(offset + LUKS2_BINARY_HEADER_BYTES, offset + binary.hdrSize), copy, offset + LUKS2_BINARY_HEADER_BYTES);
    try {
      // Why first: cryptsetup's rules compare every pair of key-slot areas and segments; hostile JSON must not make that costly.
      refuseCrowdedSections(value);
    } catch (error) {
      if (error instanceof UnsupportedError) return { state: 'ok', binary, jsonText: text, decoded: { refusal: error } };
      throw error;
    }
    validateLuks2Json(value, binary.hdrSize - LUKS2_BINARY_HEADER_BYTES);
    return { state: 'ok', binary, jsonText: text, decoded: decode(value) };
  } catch (error) {
    if (error instanceof ParseError) return { state: 'obsolete', error, binary };
    throw error;
  }
}

/**
 * The secondary copy where cryptsetup looks for it: at the primary's hdr_size when the primary's binary header and checksum
 * were right (even if its JSON was not); else at each of the nine header sizes in turn, taking the first whose binary header and
 * checksum are right. Offsets beyond the bytes held are not looked at (luks2BytesNeeded asks for them first).
 */
export function readSecondary(area: Uint8Array, primary: CopyResult): CopyResult {
  if (primary.state !== 'fail') return readCopy(area, 'secondary', primary.binary.hdrSize);
  let first: CopyResult | undefined;
  for (const offset of LUKS2_HEADER_SIZES) {
    if (area.length < offset + LUKS2_BINARY_HEADER_BYTES) break;
    const result = readCopy(area, 'secondary', offset);
    if (result.state !== 'fail') return result;
    // A secondary we cannot check (an algorithm we lack) is the most telling failure to report.
    if (!first || (result.error instanceof UnsupportedError && !(first.state === 'fail' && first.error instanceof UnsupportedError))) first = result;
  }
  return first ?? { state: 'fail', error: new ParseError('luks2 secondary header', 'magic', LUKS2_HEADER_SIZES[0], 'no secondary header found at any of the LUKS2 header offsets') };
}

const usable = (result: CopyResult): result is OkCopy => result.state === 'ok';

/** Why a copy cannot be used, for the warning that says the other one was. */
const reasonOf = (result: CopyResult): string => (result.state === 'ok' ? 'superseded' : result.error.message);

export interface Choice {
  readonly chosen: OkCopy;
  readonly warnings: string[];
}

/** The error to throw when neither copy is usable: a feature we lack is named first, then a JSON fault, then the primary's. */
function neither(primary: CopyResult, secondary: CopyResult): never {
  const ranked = [primary, secondary].sort((a, b) => rank(b) - rank(a));
  throw (ranked[0] as CopyResult & { error: SplitError }).error;
}
const rank = (result: CopyResult): number => (result.state === 'ok' ? 0 : result.error instanceof UnsupportedError ? 3 : result.state === 'obsolete' ? 2 : 1);

/** cryptsetup's choice: both usable, the higher seqid (the primary on a tie); one usable, that one; none, refused. */
export function chooseCopy(primary: CopyResult, secondary: CopyResult, secondaryOffset: number): Choice {
  if (!usable(primary) && !usable(secondary)) return neither(primary, secondary);
  if (!usable(primary)) {
    return { chosen: secondary as OkCopy, warnings: [`primary header is unusable (${reasonOf(primary)}); using the secondary header at byte ${secondaryOffset}`] };
  }
  if (!usable(secondary)) return { chosen: primary, warnings: [`secondary header is unusable (${reasonOf(secondary)}); using the primary`] };
  const [p, s] = [primary.binary.seqid, secondary.binary.seqid];
  if (p !== s) return { chosen: p > s ? primary : secondary, warnings: [`primary and secondary headers disagree (seqid ${p} and ${s}); using the ${p > s ? 'primary' : 'secondary'}, whose seqid is higher`] };
  if (!Buffer.from(primary.jsonText).equals(Buffer.from(secondary.jsonText))) {
    return { chosen: primary, warnings: [`primary and secondary headers have the same seqid ${p} but different metadata; using the primary, as cryptsetup does`] };
  }
  return { chosen: primary, warnings: [] };
}
