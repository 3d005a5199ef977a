// cryptsetup's validation of a LUKS2 JSON object (lib/luks2/luks2_json_metadata.c: LUKS2_hdr_validate, with the repair it retries
// after), in its order. A copy passing these is one cryptsetup would use; everything we add (caps, what we do not implement) comes
// after, in metadata.ts, so a copy is never judged unusable for a reason cryptsetup does not have. Rule ids: docs/LUKS2-RULES.md.
import { LUKS2_HEADER_SIZES, LUKS2_MAX_KEYSLOTS_SIZE } from './constants.ts';
import type { JsonObject, JsonValue } from './json-text.ts';
import { checkAreas, checkKeyslotFields, checkKeyslotTypes, isReencryptCandidate, metadataSize } from './rules-keyslots.ts';
import { checkSegments, isBackupSegment } from './rules-segments.ts';
import { arrayAt, entries, fail, isObject, member, numbered, numberedU64, objectAt, stringAt, strtoull } from './rules-fields.ts';

const allStrings = (items: JsonValue[]): boolean => items.every((item) => typeof item === 'string');

/** hdr_validate_requirements: an optional object whose optional "mandatory" is an array of strings, one online-reencrypt flag at most. */
function checkRequirements(json: JsonObject): void {
  const config = objectAt(json, 'config', 'config');
  if (!Object.hasOwn(config, 'requirements')) return;
  const requirements = objectAt(config, 'requirements', 'config.requirements');
  if (!Object.hasOwn(requirements, 'mandatory')) return;
  const mandatory = arrayAt(requirements, 'mandatory', 'config.requirements.mandatory');
  if (!allStrings(mandatory)) fail('config.requirements.mandatory', 'not all strings');
  const online = (mandatory as string[]).filter(isReencryptCandidate);
  if (online.length > 1) fail('config.requirements.mandatory', 'more than one online-reencrypt requirement');
}

/** validate_keyslots_array / validate_segments_array: strings naming objects that exist in `section`. */
function checkReferences(items: JsonValue[], section: JsonValue, path: string, what: string): void {
  for (const item of items) {
    if (typeof item !== 'string') fail(path, 'not all strings');
    if (!isObject(member(section, item))) fail(path, `names missing ${what} '${item.slice(0, 8)}'`);
  }
}

/** hdr_validate_tokens (LUKS2_token_validate): a type and the key slots the token unlocks, all existing. */
function checkTokens(json: JsonObject): void {
  const keyslots = member(json, 'keyslots');
  if (keyslots === undefined) fail('keyslots', 'missing');
  for (const [key, token] of entries(objectAt(json, 'tokens', 'tokens'))) {
    if (!numbered(key)) fail(`tokens.${key}`, 'id is not a number');
    stringAt(token, 'type', `tokens.${key}.type`);
    checkReferences(arrayAt(token, 'keyslots', `tokens.${key}.keyslots`), keyslots, `tokens.${key}.keyslots`, 'key slot');
  }
}

/** hdr_validate_digests: a type, and key-slot and segment lists naming existing objects. */
function checkDigests(json: JsonObject): void {
  const digests = objectAt(json, 'digests', 'digests');
  const keyslots = objectAt(json, 'keyslots', 'keyslots');
  const segments = objectAt(json, 'segments', 'segments');
  for (const [key, digest] of entries(digests)) {
    if (!numbered(key)) fail(`digests.${key}`, 'id is not a number');
    stringAt(digest, 'type', `digests.${key}.type`);
    const slotList = arrayAt(digest, 'keyslots', `digests.${key}.keyslots`);
    const segmentList = arrayAt(digest, 'segments', `digests.${key}.segments`);
    checkReferences(slotList, keyslots, `digests.${key}.keyslots`, 'key slot');
    checkReferences(segmentList, segments, `digests.${key}.segments`, 'segment');
  }
}

/** The lowest offset of the regular segments (json_segments_get_minimal_offset): 0 when one starts at 0 (detached header). */
function minimalSegmentOffset(json: JsonObject): bigint {
  let min: bigint | undefined;
  for (const segment of Object.values(member(json, 'segments') as JsonObject)) {
    if (isBackupSegment(segment)) continue;
    const offset = numberedU64(member(segment, 'offset') as string)!;
    if (offset === 0n) return 0n;
    if (min === undefined || offset < min) min = offset;
  }
  return min ?? 2n ** 64n - 1n;
}

/** hdr_validate_config: sizes cryptsetup knows, a key-slot area between the headers and the data, flags as strings. */
function checkConfig(json: JsonObject): void {
  const config = objectAt(json, 'config', 'config');
  const jsonSize = strtoull(stringAt(config, 'json_size', 'config.json_size'));
  if (jsonSize === undefined) fail('config.json_size', 'not a decimal number below 2^64');
  const keyslotsSize = strtoull(stringAt(config, 'keyslots_size', 'config.keyslots_size'));
  if (keyslotsSize === undefined) fail('config.keyslots_size', 'not a decimal number below 2^64');
  const metadata = metadataSize(json);
  if (!LUKS2_HEADER_SIZES.some((size) => BigInt(size) === metadata)) fail('config.json_size', `${jsonSize} + 4096 is not a LUKS2 header size (16 KiB to 4 MiB, powers of two)`);
  if (keyslotsSize % 4096n !== 0n || keyslotsSize > BigInt(LUKS2_MAX_KEYSLOTS_SIZE)) fail('config.keyslots_size', `${keyslotsSize} is not 4 KiB aligned or exceeds 128 MiB`);
  const dataOffset = minimalSegmentOffset(json);
  if (dataOffset !== 0n && (dataOffset < keyslotsSize || dataOffset - keyslotsSize < 2n * metadata)) {
    fail('config.keyslots_size', `the headers and key-slot area (${2n * metadata + keyslotsSize} bytes) reach past the data at ${dataOffset}`);
  }
  if (Object.hasOwn(config, 'flags') && !allStrings(arrayAt(config, 'flags', 'config.flags'))) fail('config.flags', 'not all strings');
}

/** hdr_validate_json_size: config.json_size is the JSON area the binary header gives. */
function checkJsonSize(json: JsonObject, hdrJsonSize: number): void {
  const jsonSize = strtoull(member(member(json, 'config'), 'json_size') as string);
  if (jsonSize !== BigInt(hdrJsonSize)) fail('config.json_size', `${jsonSize} does not match the binary header's JSON area of ${hdrJsonSize} bytes`);
  // Its second test, that the JSON re-serialized by json-c fits the area, holds for every text we accept: we refuse the raw
  // control characters json-c would expand, and every other re-serialization is no longer than its text.
}

/**
 * Applies every rule cryptsetup's loader applies to the JSON object of a copy whose JSON area is `hdrJsonSize` bytes. Throws a
 * ParseError naming the field; returns normally when cryptsetup would use the copy.
 */
export function validateLuks2Json(json: JsonObject, hdrJsonSize: number): void {
  checkRequirements(json);
  checkTokens(json);
  checkDigests(json);
  checkSegments(json);
  checkKeyslotFields(json);
  checkConfig(json);
  checkAreas(json);
  checkJsonSize(json, hdrJsonSize);
  checkKeyslotTypes(json);
}
