// The LUKS2 JSON metadata: the typed form, and the one decoder to it from a JSON object that passed cryptsetup's rules (rules.ts).
// It refuses by name what we do not handle (metadata-refusals.ts), drops unknown keys, and applies our caps.
import { UnsupportedError } from '../errors.ts';
import { z } from 'zod';
import { LUKS2_HASHES, LUKS2_SECTOR_SIZES, type Luks2Hash, type Luks2SectorSize } from './constants.ts';
import { checkKeyslot, type Luks2Keyslot } from './metadata-keyslot.ts';
import { configSchema, cryptSegmentSchema, luks2KeyslotSchema, pbkdf2DigestSchema, tokenSchema, type Luks2JsonCryptSegment, type Luks2JsonDigest, type Luks2JsonToken } from './json-schema.ts';
import type { JsonObject } from './json-text.ts';
import { decodeSalt, fail, safeInteger } from './metadata-fields.ts';
import { refuseUnsupported } from './metadata-refusals.ts';
import { strtoull } from './rules-fields.ts';

export type { Luks2Keyslot, Luks2Kdf } from './metadata-keyslot.ts';

export interface Luks2Digest {
  readonly id: number;
  readonly type: 'pbkdf2';
  readonly keyslots: readonly number[];
  readonly segments: readonly number[];
  readonly hash: Luks2Hash;
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly digest: Uint8Array;
}

export interface Luks2Segment {
  readonly id: number;
  readonly type: 'crypt';
  /** Start of the encrypted data, in bytes from the start of the device. */
  readonly offset: number;
  readonly size: 'dynamic' | number;
  /** The IV of the first data sector, in 512-byte units (dm-crypt's iv_offset). */
  readonly ivTweak: number;
  /** The data cipher as cryptsetup names it (e.g. aes-xts-plain64); reported even when we cannot map it. */
  readonly encryption: string;
  readonly sectorSize: Luks2SectorSize;
  readonly flags?: readonly string[];
}

export interface Luks2Token {
  readonly id: number;
  /** The token object as found, carried along untouched except for its key-slot list. */
  readonly json: Luks2JsonToken;
}

export interface Luks2Config {
  readonly jsonSize: number;
  readonly keyslotsSize: number;
  readonly flags?: readonly string[];
  readonly requirements?: Readonly<Record<string, unknown>>;
}

export interface Luks2Metadata {
  readonly keyslots: readonly Luks2Keyslot[];
  readonly tokens: readonly Luks2Token[];
  /** The one crypt segment (more than one is refused). */
  readonly segment: Luks2Segment;
  readonly digests: readonly Luks2Digest[];
  readonly config: Luks2Config;
}

/** An encryption string goes into a device-mapper table later: only the characters cipher specs use. */
const CIPHER_SPEC = /^[A-Za-z0-9][A-Za-z0-9:_()\-.,]{0,63}$/;

/** Narrows one section with its schema (unknown keys dropped); a mismatch is a ParseError naming the path. */
function narrow<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const checked = schema.safeParse(value);
  if (checked.success) return checked.data;
  const issue = checked.error.issues[0]!;
  return fail([path, ...issue.path].join('.'), issue.message.toLowerCase());
}

function narrowSection<T>(schema: z.ZodType<T>, json: JsonObject, section: string): [string, T][] {
  return Object.entries(json[section] as JsonObject).map(([key, value]) => [key, narrow(schema, value, `${section}.${key}`)]);
}

function decodeConfig(json: JsonObject): Luks2Config {
  const raw = narrow(configSchema, json.config, 'config');
  // cryptsetup's rules have checked both against the header sizes and the 128 MiB cap: small, exact numbers.
  const jsonSize = Number(strtoull(raw.json_size));
  const keyslotsSize = Number(strtoull(raw.keyslots_size));
  const requirements = raw.requirements?.mandatory ? { requirements: { mandatory: raw.requirements.mandatory } } : {};
  return { jsonSize, keyslotsSize, ...(raw.flags ? { flags: raw.flags } : {}), ...requirements };
}

function decodeSegment(key: string, raw: Luks2JsonCryptSegment): Luks2Segment {
  const field = `segments.${key}`;
  const offset = safeInteger(raw.offset, `${field}.offset`);
  if (offset === 0) throw new UnsupportedError('unsupported luks2 layout: data offset 0 (a detached header)');
  const sectorSize = LUKS2_SECTOR_SIZES.find((size) => size === raw.sector_size);
  if (sectorSize === undefined) throw new UnsupportedError(`unsupported luks2 sector size ${raw.sector_size} in ${field} (dm-crypt: 512, 1024, 2048 or 4096)`);
  const size = raw.size === 'dynamic' ? 'dynamic' : safeInteger(raw.size, `${field}.size`);
  if (!CIPHER_SPEC.test(raw.encryption)) throw new UnsupportedError(`unsupported luks2 segment encryption in ${field}: not a cipher specification dm-crypt names`);
  // The null cipher leaves the data in the clear (and opens with any passphrase its maker chose): never a volume, whoever made it.
  if (/^(?:cipher_)?null(?:$|-)/i.test(raw.encryption)) throw new UnsupportedError(`refused luks2 segment encryption '${raw.encryption}' in ${field}: the null cipher stores data unencrypted`);
  const ivTweak = safeInteger(raw.iv_tweak, `${field}.iv_tweak`);
  return { id: Number(key), type: 'crypt', offset, size, ivTweak, encryption: raw.encryption, sectorSize, ...(raw.flags ? { flags: raw.flags } : {}) };
}

function decodeHash(value: string, field: string): Luks2Hash {
  if (Object.hasOwn(LUKS2_HASHES, value)) return value as Luks2Hash;
  throw new UnsupportedError(`unsupported hash '${value.slice(0, 32)}' in ${field} (supported: sha1, sha256, sha512)`);
}

function decodeDigest(key: string, raw: Luks2JsonDigest, maxIterations: number): Luks2Digest {
  const field = `digests.${key}`;
  const hash = decodeHash(raw.hash, `${field}.hash`);
  if (raw.iterations < 1 || raw.iterations > maxIterations) fail(`${field}.iterations`, `${raw.iterations} is not within 1..${maxIterations}`);
  const digest = decodeSalt(raw.digest, `${field}.digest`);
  if (digest.length !== 20 && digest.length !== LUKS2_HASHES[hash]) fail(`${field}.digest`, `${digest.length} bytes (must be 20 or the ${hash} size)`);
  // Each list names existing objects (rules.ts), so once each is all it says; a hostile header may repeat a name a million times.
  const ids = (list: string[]): number[] => [...new Set(list)].map(Number);
  return { id: Number(key), type: 'pbkdf2', keyslots: ids(raw.keyslots), segments: ids(raw.segments), hash, iterations: raw.iterations, salt: decodeSalt(raw.salt, `${field}.salt`, 32), digest };
}

export interface DecodeLimits {
  readonly maxPbkdf2Iterations: number;
}

/**
 * Turns a JSON object that passed cryptsetup's rules into metadata, or throws UnsupportedError (a feature we do not implement,
 * by name) / ParseError (one of our caps). `notes` receives what is ignored the way cryptsetup ignores it.
 */
export function decodeLuks2Metadata(json: JsonObject, limits: DecodeLimits, notes: string[]): Luks2Metadata {
  refuseUnsupported(json);
  const config = decodeConfig(json);
  const [segmentKey, rawSegment] = narrowSection(cryptSegmentSchema, json, 'segments')[0]!;
  const segment = decodeSegment(segmentKey, rawSegment);
  const digests = narrowSection(pbkdf2DigestSchema, json, 'digests').map(([key, raw]) => decodeDigest(key, raw, limits.maxPbkdf2Iterations));
  const keyslots = narrowSection(luks2KeyslotSchema, json, 'keyslots').map(([key, raw]) => checkKeyslot(key, raw, limits.maxPbkdf2Iterations, notes));
  const tokens = narrowSection(tokenSchema, json, 'tokens').map(([key, raw]): Luks2Token => ({ id: Number(key), json: raw }));
  const byId = <T extends { id: number }>(items: T[]): T[] => items.sort((a, b) => a.id - b.id);
  return { keyslots: byId(keyslots), tokens: byId(tokens), segment, digests: byId(digests), config };
}
