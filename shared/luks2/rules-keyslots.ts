// cryptsetup's rules for the "keyslots" section: the fields every key slot has (hdr_validate_keyslots), the areas
// (hdr_validate_areas, validate_intervals), and the per-type rules run last (lib/luks2/luks2_keyslot.c: LUKS2_keyslots_validate;
// luks2_keyslot_luks2.c: luks2_keyslot_validate after luks2_keyslot_repair; luks2_keyslot_reenc.c: reenc_keyslot_validate).
import type { JsonObject, JsonValue } from './json-text.ts';
import { mandatoryRequirements, onlineReencryptRequirement } from './rules-segments.ts';
import { atoiName, entries, fail, intAt, member, numbered, numberedU64At, objectAt, stringAt, strtoull, UINT64_MAX, uint32At } from './rules-fields.ts';

/** The keys each KDF type keeps. cryptsetup's repair deletes every other key of a KDF object before validating again. */
const KDF_KEYS: Readonly<Record<string, readonly string[]>> = {
  pbkdf2: ['type', 'salt', 'hash', 'iterations'],
  argon2i: ['type', 'salt', 'time', 'memory', 'cpus'],
  argon2id: ['type', 'salt', 'time', 'memory', 'cpus'],
};

/** The KDF members cryptsetup keeps after its repair (leftovers of the other KDF type, or any unknown key, dropped). */
export function repairedKdf(kdf: JsonObject): JsonObject {
  const keep = KDF_KEYS[member(kdf, 'type') as string];
  return keep ? Object.fromEntries(Object.entries(kdf).filter(([key]) => keep.includes(key))) : kdf;
}

/** hdr_validate_keyslots: numbered ids, a type, and a 32-bit key_size. */
export function checkKeyslotFields(json: JsonObject): void {
  for (const [key, slot] of entries(objectAt(json, 'keyslots', 'keyslots'))) {
    if (!numbered(key)) fail(`keyslots.${key}`, 'id is not a number');
    stringAt(slot, 'type', `keyslots.${key}.type`);
    uint32At(slot, 'key_size', `keyslots.${key}.key_size`);
  }
}

/** One copy's size (binary header + JSON area) from config.json_size, wrapping like cryptsetup's uint64 sum. */
export const metadataSize = (json: JsonObject): bigint => ((strtoull(member(member(json, 'config'), 'json_size') as string) ?? 0n) + 4096n) % 2n ** 64n;
/** LUKS2_hdr_and_areas_size: both copies and the key-slot area. */
export const headerAndAreasSize = (json: JsonObject): bigint => 2n * metadataSize(json) + (strtoull(member(member(json, 'config'), 'keyslots_size') as string) ?? 0n);

/** hdr_validate_areas: every area inside the key-slot area, after both copies, non-empty, no two overlapping. */
export function checkAreas(json: JsonObject): void {
  const start = 2n * metadataSize(json);
  const end = headerAndAreasSize(json);
  const areas = entries(member(json, 'keyslots') as JsonObject).map(([key, slot]) => {
    const area = objectAt(slot, 'area', `keyslots.${key}.area`);
    stringAt(area, 'type', `keyslots.${key}.area.type`);
    return { key, offset: numberedU64At(area, 'offset', `keyslots.${key}.area.offset`), length: numberedU64At(area, 'size', `keyslots.${key}.area.size`) };
  });
  for (const a of areas) {
    const path = `keyslots.${a.key}.area`;
    if (a.offset < start) fail(`${path}.offset`, `${a.offset} lies inside the two header copies (${start} bytes)`);
    if (a.length === 0n) fail(`${path}.size`, 'zero');
    if (a.offset > UINT64_MAX - a.length) fail(path, 'offset plus size overflows');
    if (a.offset + a.length > end) fail(path, `ends at ${a.offset + a.length}, beyond the key-slot area's end ${end}`);
    for (const b of areas) {
      if (b !== a && a.offset >= b.offset && a.offset < b.offset + b.length) fail(path, `overlaps key slot ${b.key}`);
    }
  }
}

/** luks2_keyslot_validate on the repaired KDF: kdf, af and area objects with the members of their types. */
function checkLuks2Keyslot(key: string, slot: JsonValue): void {
  const path = `keyslots.${key}`;
  const kdf = repairedKdf(objectAt(slot, 'kdf', `${path}.kdf`));
  const af = objectAt(slot, 'af', `${path}.af`);
  const area = objectAt(slot, 'area', `${path}.area`);
  const kdfType = stringAt(kdf, 'type', `${path}.kdf.type`);
  if (kdfType === 'pbkdf2') {
    stringAt(kdf, 'hash', `${path}.kdf.hash`);
    intAt(kdf, 'iterations', `${path}.kdf.iterations`);
    stringAt(kdf, 'salt', `${path}.kdf.salt`);
  } else if (kdfType === 'argon2i' || kdfType === 'argon2id') {
    for (const field of ['time', 'memory', 'cpus']) intAt(kdf, field, `${path}.kdf.${field}`);
    stringAt(kdf, 'salt', `${path}.kdf.salt`);
  }
  if (stringAt(af, 'type', `${path}.af.type`) !== 'luks1') fail(`${path}.af.type`, "not 'luks1'");
  stringAt(af, 'hash', `${path}.af.hash`);
  intAt(af, 'stripes', `${path}.af.stripes`);
  if (stringAt(area, 'type', `${path}.area.type`) !== 'raw') fail(`${path}.area.type`, "not 'raw'");
  stringAt(area, 'encryption', `${path}.area.encryption`);
  intAt(area, 'key_size', `${path}.area.key_size`);
  stringAt(area, 'offset', `${path}.area.offset`);
  stringAt(area, 'size', `${path}.area.size`);
}

/** reenc_keyslot_validate: key_size 1, a known mode and direction, and the members its resilience type needs. */
function checkReencryptKeyslot(key: string, slot: JsonValue): void {
  const path = `keyslots.${key}`;
  const area = member(slot, 'area');
  const areaType = member(area, 'type') as string;
  if (uint32At(slot, 'key_size', `${path}.key_size`) !== 1) fail(`${path}.key_size`, 'a reencrypt key slot has key_size 1');
  if (!['reencrypt', 'encrypt', 'decrypt'].includes(stringAt(slot, 'mode', `${path}.mode`))) fail(`${path}.mode`, 'unknown reencryption mode');
  if (!['forward', 'backward'].includes(stringAt(slot, 'direction', `${path}.direction`))) fail(`${path}.direction`, 'unknown reencryption direction');
  if (areaType === 'checksum' || areaType === 'datashift-checksum') {
    stringAt(area, 'hash', `${path}.area.hash`);
    const sectorSize = uint32At(area, 'sector_size', `${path}.area.sector_size`);
    if (sectorSize < 512 || (sectorSize & (sectorSize - 1)) !== 0) fail(`${path}.area.sector_size`, 'not a power of two of at least 512');
  } else if (areaType === 'datashift' || areaType === 'datashift-journal') {
    const shift = strtoull(stringAt(area, 'shift_size', `${path}.area.shift_size`)) ?? 0n;
    if (shift === 0n || shift % 512n !== 0n) fail(`${path}.area.shift_size`, 'zero or not a multiple of 512');
  }
}

/**
 * For each name, how many digests list it among their key slots. Counted once: a 4 MiB JSON area can hold a million list
 * entries, and looking each slot up in every list would cost a billion comparisons.
 */
function digestCounts(json: JsonObject): Map<JsonValue, number> {
  const counts = new Map<JsonValue, number>();
  for (const digest of Object.values(member(json, 'digests') as JsonObject)) {
    for (const name of new Set(member(digest, 'keyslots') as JsonValue[])) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** LUKS2_keyslots_validate: per-type rules, each luks2 slot bound to exactly one digest, reencrypt slots matching the requirements. */
export function checkKeyslotTypes(json: JsonObject): void {
  const counts = digestCounts(json);
  let reencrypt = 0;
  for (const [key, slot] of entries(member(json, 'keyslots') as JsonObject)) {
    const type = member(slot, 'type');
    if (type === 'luks2') {
      checkLuks2Keyslot(key, slot);
      // Why: a slot no digest vouches for would hand out an unverified key; one under two digests has no single meaning.
      // By the name cryptsetup looks the slot up by (LUKS2_get_keyslot_digests_count): its atoi() value printed back.
      const count = counts.get(atoiName(key)) ?? 0;
      if (count !== 1) fail(`keyslots.${key}`, `referenced by ${count} digests (must be exactly 1)`);
    } else if (type === 'reencrypt') {
      checkReencryptKeyslot(key, slot);
      reencrypt++;
    }
  }
  const requirements = mandatoryRequirements(json);
  const online = onlineReencryptRequirement(json);
  if (reencrypt === 0 && online !== undefined) fail('keyslots', `requirement '${online}' (online reencryption) without a reencrypt key slot`);
  if (reencrypt > 0 && !requirements.some(isReencryptCandidate)) fail('keyslots', 'a reencrypt key slot without a reencryption requirement');
  if (reencrypt > 1) fail('keyslots', `${reencrypt} reencrypt key slots (at most 1)`);
}

/** reencrypt_candidate_flag: "online-reencrypt" or "online-reencrypt-v" followed by digits. */
export const isReencryptCandidate = (name: string): boolean => name === 'online-reencrypt' || /^online-reencrypt-v[0-9]+$/.test(name);
