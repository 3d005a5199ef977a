// cryptsetup's rules for the "segments" section (lib/luks2/luks2_json_metadata.c: hdr_validate_segments, hdr_validate_crypt_segment,
// validate_segment_intervals, validate_reencrypt_segments), applied to any segment type, including those we do not map.
import type { JsonObject, JsonValue } from './json-text.ts';
import { arrayAt, atoiName, entries, fail, intAt, isObject, member, numbered, numberedU64, numberedU64At, objectAt, stringAt, UINT64_MAX, uint32At } from './rules-fields.ts';

/** Requirement names that mean online reencryption (cryptsetup's requirements_flags with CRYPT_REQUIREMENT_ONLINE_REENCRYPT). */
export const ONLINE_REENCRYPT_REQUIREMENTS = ['online-reencrypt', 'online-reencrypt-v2', 'online-reencrypt-v3'];

/** The mandatory requirement strings (already checked to be an array of strings), or none. */
export function mandatoryRequirements(json: JsonObject): string[] {
  const mandatory = member(member(member(json, 'config'), 'requirements'), 'mandatory');
  return Array.isArray(mandatory) ? mandatory.filter((item): item is string => typeof item === 'string') : [];
}

/** The online-reencryption requirement named in config.requirements.mandatory, if any (quoted in messages: it says what is going on). */
export function onlineReencryptRequirement(json: JsonObject): string | undefined {
  return mandatoryRequirements(json).find((name) => ONLINE_REENCRYPT_REQUIREMENTS.includes(name))?.slice(0, 32);
}

function flagsOf(segment: JsonValue): string[] {
  const flags = member(segment, 'flags');
  return Array.isArray(flags) ? flags.filter((flag): flag is string => typeof flag === 'string') : [];
}

/** json_segment_is_backup: a flag starting with "backup-" (reencryption's saved segments). */
export const isBackupSegment = (segment: JsonValue): boolean => flagsOf(segment).some((flag) => flag.startsWith('backup-'));

/** Every name some digest lists among its segments, gathered once (the lists may hold a million entries). */
function segmentsWithDigest(digests: JsonObject): Set<JsonValue> {
  return new Set(Object.values(digests).flatMap((digest) => member(digest, 'segments') as JsonValue[]));
}

/** hdr_validate_crypt_segment: the crypt fields (also of hw-opal-crypt), and a digest must cover the segment. */
function checkCryptSegment(key: string, segment: JsonObject, digests: Set<JsonValue>, size: bigint): void {
  const path = `segments.${key}`;
  const ivTweak = stringAt(segment, 'iv_tweak', `${path}.iv_tweak`);
  stringAt(segment, 'encryption', `${path}.encryption`);
  intAt(segment, 'sector_size', `${path}.sector_size`);
  if (Object.hasOwn(segment, 'integrity')) {
    const integrity = objectAt(segment, 'integrity', `${path}.integrity`);
    for (const field of ['type', 'journal_encryption', 'journal_integrity']) stringAt(integrity, field, `${path}.integrity.${field}`);
  }
  const sectorSize = uint32At(segment, 'sector_size', `${path}.sector_size`);
  if (sectorSize === 0 || sectorSize % 512 !== 0) fail(`${path}.sector_size`, `${sectorSize} is not a non-zero multiple of 512`);
  if (!numbered(ivTweak) || numberedU64(ivTweak) === undefined) fail(`${path}.iv_tweak`, 'not a decimal number below 2^64');
  if (size % BigInt(sectorSize) !== 0n) fail(`${path}.size`, `not a multiple of the sector size ${sectorSize}`);
  if (!digests.has(key)) fail(path, 'no digest covers the crypt segment');
}

/** The hw-opal rules cryptsetup 2.7 added: a fixed size within the OPAL locking range. */
function checkOpalSegment(key: string, segment: JsonObject, type: string, digests: Set<JsonValue>, size: bigint): void {
  const path = `segments.${key}`;
  if (size === 0n) fail(`${path}.size`, `a ${type} segment cannot be dynamic`);
  intAt(segment, 'opal_segment_number', `${path}.opal_segment_number`);
  intAt(segment, 'opal_key_size', `${path}.opal_key_size`);
  const range = numberedU64At(segment, 'opal_segment_size', `${path}.opal_segment_size`);
  if (range === 0n || size > range) fail(`${path}.opal_segment_size`, 'zero or smaller than the segment');
  if (type === 'hw-opal-crypt') checkCryptSegment(key, segment, digests, size);
}

interface Interval {
  readonly offset: bigint;
  /** UINT64_MAX for "dynamic". */
  readonly length: bigint;
}

/** validate_segment_intervals: only the last regular segment may be dynamic; regular segments never overlap. */
function checkSegmentIntervals(intervals: readonly Interval[]): void {
  intervals.forEach((a, i) => {
    if (a.length === UINT64_MAX && i !== intervals.length - 1) fail(`segments.${i}.size`, 'only the last regular segment may be dynamic');
    intervals.forEach((b, j) => {
      if (i === j) return;
      if (b.length !== UINT64_MAX && b.offset > UINT64_MAX - b.length) fail(`segments.${j}`, 'offset plus size overflows');
      if (a.offset >= b.offset && (b.length === UINT64_MAX || a.offset < b.offset + b.length)) fail(`segments.${i}`, `overlaps segment ${j}`);
    });
  });
}

/** validate_reencrypt_segments: during online reencryption both backup segments exist and every regular one matches one of them. */
function checkReencryptSegments(json: JsonObject, segments: JsonObject, firstBackup: number, count: number): void {
  const requirement = onlineReencryptRequirement(json);
  if (requirement === undefined) return;
  const at = (i: number): JsonValue | undefined => member(segments, String(i));
  let final: JsonValue | undefined;
  let previous: JsonValue | undefined;
  for (let i = firstBackup; i < count; i++) {
    const flags = flagsOf(at(i)!);
    if (flags.includes('backup-final')) final = at(i);
    else if (flags.includes('backup-previous')) previous = at(i);
  }
  if (!final || !previous) fail('segments', `requirement '${requirement}' (online reencryption) without both backup segments`);
  const same = (a: JsonValue, b: JsonValue): boolean => {
    if (member(a, 'type') !== member(b, 'type')) return false;
    if (member(a, 'type') !== 'crypt') return true;
    return member(a, 'sector_size') === member(b, 'sector_size') && member(a, 'encryption') === member(b, 'encryption');
  };
  for (let i = 0; i < firstBackup; i++) {
    const segment = at(i)!;
    const matches = flagsOf(segment).includes('in-reencryption') ? same(segment, final) : same(segment, final) || same(segment, previous);
    if (!matches) fail(`segments.${i}`, 'does not match the backup segments of the reencryption');
  }
}

/** hdr_validate_segments on the whole JSON object (digests already validated). */
export function checkSegments(json: JsonObject): void {
  const segments = objectAt(json, 'segments', 'segments');
  const digests = segmentsWithDigest(member(json, 'digests') as JsonObject);
  const all = entries(segments);
  if (all.length === 0) fail('segments', 'empty');
  let firstBackup = -1;
  for (const [key, segment] of all) {
    const path = `segments.${key}`;
    if (!numbered(key)) fail(path, 'id is not a number');
    const type = stringAt(segment, 'type', `${path}.type`);
    const offset = numberedU64At(segment, 'offset', `${path}.offset`);
    stringAt(segment, 'size', `${path}.size`);
    const size = member(segment, 'size') === 'dynamic' ? 0n : numberedU64At(segment, 'size', `${path}.size`);
    if (member(segment, 'size') !== 'dynamic' && size === 0n) fail(`${path}.size`, 'zero');
    if (offset % 512n !== 0n || size % 512n !== 0n) fail(path, 'offset or size is not a multiple of 512');
    if (isObject(segment) && Object.hasOwn(segment, 'flags')) {
      if (!arrayAt(segment, 'flags', `${path}.flags`).every((flag) => typeof flag === 'string')) fail(`${path}.flags`, 'not all strings');
    }
    const index = Number(atoiName(key)) | 0;
    if (isBackupSegment(segment)) {
      if (firstBackup < 0 || index < firstBackup) firstBackup = index;
    } else if (firstBackup >= 0 && index >= firstBackup) fail(path, `regular segment after backup segment ${firstBackup}`);
    if (type === 'crypt') checkCryptSegment(key, segment as JsonObject, digests, size);
    if (type.startsWith('hw-opal')) checkOpalSegment(key, segment as JsonObject, type, digests, size);
  }
  if (firstBackup === 0) fail('segments', 'no regular segment');
  if (firstBackup >= all.length) fail('segments', `gap before backup segment ${firstBackup}`);
  if (firstBackup < 0) firstBackup = all.length;
  const intervals: Interval[] = [];
  for (let i = 0; i < firstBackup; i++) {
    const segment = member(segments, String(i));
    if (segment === undefined) fail('segments', `gap at id ${i}`);
    const size = member(segment, 'size') === 'dynamic' ? 0n : numberedU64(member(segment, 'size') as string)!;
    intervals.push({ offset: numberedU64(member(segment, 'offset') as string)!, length: size === 0n ? UINT64_MAX : size });
  }
  checkSegmentIntervals(intervals);
  for (let i = firstBackup; i < all.length; i++) if (member(segments, String(i)) === undefined) fail('segments', `gap at id ${i}`);
  checkReencryptSegments(json, segments, firstBackup, all.length);
}
