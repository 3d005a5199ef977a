// What cryptsetup loads but we do not implement, refused by name (UnsupportedError, the word "unsupported" and the feature in the
// message) before anything is decoded. Runs only on JSON that passed cryptsetup's rules (rules.ts), so "unsupported" never hides
// "invalid".
import { UnsupportedError } from '../errors.ts';
import { LUKS2_MAX_KEYSLOTS, LUKS2_MAX_SEGMENTS, LUKS2_MAX_TOKENS } from './constants.ts';
import type { JsonObject } from './json-text.ts';
import { isObject, member } from './rules-fields.ts';

/** Digest ids we read. cryptsetup creates at most 8 (LUKS2_DIGEST_MAX) but finds any id when it looks a digest up by slot. */
export const LUKS2_MAX_DIGEST_ID = 31;

const SECTIONS = [
  ['keyslots', 'key slot', LUKS2_MAX_KEYSLOTS],
  ['tokens', 'token', LUKS2_MAX_TOKENS],
  ['digests', 'digest', LUKS2_MAX_DIGEST_ID + 1],
  ['segments', 'segment', LUKS2_MAX_SEGMENTS],
] as const;

/**
 * Objects per section we let cryptsetup's rules walk: they compare every pair of key-slot areas and of segments, and a 4 MiB JSON
 * area could hold 25 000 key slots. 1024 keeps that under a million comparisons and is far above the 32 ids cryptsetup uses, so
 * a header cryptsetup could use is never refused by it; past it we refuse without judging further.
 */
export const MAX_SECTION_OBJECTS = 1024;

/** Caps the object counts before cryptsetup's rules walk them. */
export function refuseCrowdedSections(json: JsonObject): void {
  for (const [section, what] of SECTIONS) {
    const value = member(json, section);
    // An array where an object belongs is cryptsetup's refusal to make, not a count of ours.
    const count = isObject(value) ? Object.keys(value).length : 0;
    if (count > MAX_SECTION_OBJECTS) throw new UnsupportedError(`unsupported luks2 metadata: ${count} ${what} objects (we read at most ${MAX_SECTION_OBJECTS}; cryptsetup uses ids 0 to 31)`);
  }
}

/**
 * Ids cryptsetup reaches by number: "0" to "31". Its loader accepts any digits ("07", "40"), but it looks objects up by the
 * number printed back ("%u"), so such an object is never used or shown; we refuse it rather than carry a ghost along.
 */
function refuseOddIds(json: JsonObject): void {
  for (const [section, what, cap] of SECTIONS) {
    for (const key of Object.keys(member(json, section) as JsonObject)) {
      if (String(Number(key)) !== key || Number(key) >= cap) throw new UnsupportedError(`unsupported luks2 ${what} id '${key}' (only 0 to ${cap - 1}, written without leading zeros)`);
    }
  }
}

function refuseRequirements(json: JsonObject): void {
  const mandatory = member(member(member(json, 'config'), 'requirements'), 'mandatory');
  if (Array.isArray(mandatory) && mandatory.length > 0) {
    throw new UnsupportedError(`unsupported luks2 requirements: ${mandatory.map((r) => `'${String(r).slice(0, 32)}'`).join(', ')} (reencryption or other features in progress)`);
  }
}

function refuseKeyslotTypes(json: JsonObject): void {
  for (const [key, slot] of Object.entries(member(json, 'keyslots') as JsonObject)) {
    const type = member(slot, 'type') as string;
    if (type === 'reencrypt') throw new UnsupportedError(`unsupported luks2 reencryption in progress (key slot ${key} is a reencrypt slot)`);
    if (type !== 'luks2') throw new UnsupportedError(`unsupported luks2 key slot type '${type.slice(0, 32)}' in key slot ${key}`);
    const kdf = member(member(slot, 'kdf'), 'type') as string;
    if (!['pbkdf2', 'argon2i', 'argon2id'].includes(kdf)) throw new UnsupportedError(`unsupported luks2 kdf '${kdf.slice(0, 32)}' in key slot ${key}`);
  }
}

function refuseSegments(json: JsonObject): void {
  const segments = Object.entries(member(json, 'segments') as JsonObject);
  for (const [key, segment] of segments) {
    const flags = (member(segment, 'flags') ?? []) as string[];
    const flagged = flags.find((flag) => flag === 'in-reencryption' || flag.startsWith('backup-'));
    if (flagged) throw new UnsupportedError(`unsupported luks2 reencryption in progress (segment ${key} flagged '${flagged.slice(0, 32)}')`);
    const type = member(segment, 'type') as string;
    if (type !== 'crypt') throw new UnsupportedError(`unsupported luks2 segment type '${type.slice(0, 32)}' in segment ${key} (only crypt is implemented)`);
    if (member(segment, 'integrity') !== undefined) throw new UnsupportedError(`unsupported luks2 segment ${key}: authenticated encryption (integrity) is not implemented`);
  }
  if (segments.length !== 1) throw new UnsupportedError(`unsupported luks2 layout: ${segments.length} segments (only one crypt segment is implemented)`);
}

function refuseDigestTypes(json: JsonObject): void {
  for (const [key, digest] of Object.entries(member(json, 'digests') as JsonObject)) {
    const type = member(digest, 'type') as string;
    if (type !== 'pbkdf2') throw new UnsupportedError(`unsupported luks2 digest type '${type.slice(0, 32)}' in digest ${key}`);
  }
}

/** Refuses, by name, each feature of a cryptsetup-valid JSON object that we do not implement. */
export function refuseUnsupported(json: JsonObject): void {
  refuseOddIds(json);
  refuseRequirements(json);
  refuseKeyslotTypes(json);
  refuseSegments(json);
  refuseDigestTypes(json);
}
