// The LUKS2 JSON metadata: the typed form, and the one decoder from the schema-checked JSON to it. It applies cryptsetup's validation
// rules (lib/luks2/luks2_json_metadata.c), our caps, and refuses by name what we do not handle (requirements, reencryption, integrity).
import { UnsupportedError } from '../errors.ts';
import {
  LUKS2_AREA_CIPHERS,
  LUKS2_BINARY_HEADER_BYTES,
  LUKS2_HASHES,
  LUKS2_MAX_DIGESTS,
  LUKS2_MAX_KEYSLOTS,
  LUKS2_MAX_KEYSLOTS_SIZE,
  LUKS2_MAX_SEGMENTS,
  LUKS2_MAX_TOKENS,
  LUKS2_SECTOR_SIZES,
  type Luks2AreaCipher,
  type Luks2Hash,
  type Luks2SectorSize,
} from './constants.ts';
import { checkKeyslot, type Luks2Keyslot } from './metadata-keyslot.ts';
import type { Luks2Json, Luks2JsonCryptSegment, Luks2JsonDigest, Luks2JsonToken } from './json-schema.ts';
import { decodeSalt, fail, safeInteger } from './metadata-fields.ts';

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

/** Bounds on the layout every offset is checked against. */
export interface Luks2Bounds {
  /** Binary header plus JSON area of one copy. */
  readonly hdrSize: number;
}

const ids = (record: Record<string, unknown>): number[] => Object.keys(record).map(Number);

/** An encryption string goes into a device-mapper table later: only the characters cipher specs use. */
const CIPHER_SPEC = /^[A-Za-z0-9][A-Za-z0-9:_()\-.,]{0,63}$/;

function checkCounts(json: Luks2Json): void {
  const caps = [
    ['keyslots', LUKS2_MAX_KEYSLOTS],
    ['tokens', LUKS2_MAX_TOKENS],
    ['digests', LUKS2_MAX_DIGESTS],
    ['segments', LUKS2_MAX_SEGMENTS],
  ] as const;
  for (const [section, cap] of caps) {
    const found = ids(json[section]);
    if (found.length > cap) fail(section, `${found.length} entries exceed the cap of ${cap}`);
    for (const n of found) if (n >= cap) fail(`${section}.${n}`, `id ${n} is beyond the largest id ${cap - 1}`);
  }
}

/** Refuses the features we do not implement, each with its name, before any other work. */
function refuseUnsupported(json: Luks2Json): void {
  const mandatory = json.config.requirements?.mandatory ?? [];
  if (mandatory.length > 0) throw new UnsupportedError(`unsupported luks2 requirements: ${mandatory.map((r) => `'${r}'`).join(', ')} (reencryption or other features in progress)`);
  for (const [key, slot] of Object.entries(json.keyslots)) {
    if (slot.type === 'reencrypt') throw new UnsupportedError(`luks2 reencryption in progress (key slot ${key} is a reencrypt slot)`);
  }
  const segments = Object.entries(json.segments);
  for (const [key, segment] of segments) {
    if (segment.type !== 'crypt') throw new UnsupportedError(`unsupported luks2 segment ${key} of type '${segment.type}'`);
    const flagged = segment.flags?.find((flag) => flag === 'in-reencryption' || flag.startsWith('backup-'));
    if (flagged) throw new UnsupportedError(`luks2 reencryption in progress (segment ${key} flagged '${flagged}')`);
    if (segment.integrity) throw new UnsupportedError(`unsupported luks2 segment ${key}: authenticated encryption (integrity) is not implemented`);
  }
  if (segments.length !== 1) throw new UnsupportedError(`unsupported luks2 layout: ${segments.length} segments (only one crypt segment is implemented)`);
}

function decodeConfig(json: Luks2Json, bounds: Luks2Bounds): Luks2Config {
  const jsonSize = safeInteger(json.config.json_size, 'config.json_size');
  if (jsonSize !== bounds.hdrSize - LUKS2_BINARY_HEADER_BYTES) fail('config.json_size', `${jsonSize} does not match the binary header's JSON area of ${bounds.hdrSize - LUKS2_BINARY_HEADER_BYTES} bytes`);
  const keyslotsSize = safeInteger(json.config.keyslots_size, 'config.keyslots_size');
  if (keyslotsSize % 4096 !== 0 || keyslotsSize > LUKS2_MAX_KEYSLOTS_SIZE) fail('config.keyslots_size', `${keyslotsSize} is not 4 KiB aligned or exceeds 128 MiB`);
  const { flags, requirements } = json.config;
  return { jsonSize, keyslotsSize, ...(flags ? { flags } : {}), ...(requirements ? { requirements } : {}) };
}

function decodeSegment(key: string, raw: Luks2JsonCryptSegment, config: Luks2Config, hdrSize: number): Luks2Segment {
  const field = `segments.${key}`;
  const offset = safeInteger(raw.offset, `${field}.offset`);
  if (offset % 512 !== 0) fail(`${field}.offset`, `${offset} is not a multiple of 512`);
  if (offset === 0) throw new UnsupportedError('unsupported luks2 layout: data offset 0 (a detached header)');
  if (offset < 2 * hdrSize + config.keyslotsSize) fail(`${field}.offset`, `data at ${offset} overlaps the headers and key-slot area (${2 * hdrSize + config.keyslotsSize} bytes)`);
  const sectorSize = LUKS2_SECTOR_SIZES.find((size) => size === raw.sector_size);
  if (sectorSize === undefined) fail(`${field}.sector_size`, `${raw.sector_size} is not 512, 1024, 2048 or 4096`);
  let size: 'dynamic' | number = 'dynamic';
  if (raw.size !== 'dynamic') {
    size = safeInteger(raw.size, `${field}.size`);
    if (size === 0 || size % sectorSize !== 0) fail(`${field}.size`, `${size} is zero or not a multiple of the sector size`);
  }
  if (!CIPHER_SPEC.test(raw.encryption)) fail(`${field}.encryption`, 'not a cipher specification');
  const ivTweak = safeInteger(raw.iv_tweak, `${field}.iv_tweak`);
  return { id: Number(key), type: 'crypt', offset, size, ivTweak, encryption: raw.encryption, sectorSize, ...(raw.flags ? { flags: raw.flags } : {}) };
}

function decodeHash(value: string, field: string): Luks2Hash {
  if (Object.hasOwn(LUKS2_HASHES, value)) return value as Luks2Hash;
  throw new UnsupportedError(`unsupported hash '${value}' in ${field} (supported: sha1, sha256, sha512)`);
}

function decodeDigest(key: string, raw: Luks2JsonDigest, json: Luks2Json, maxIterations: number): Luks2Digest {
  const field = `digests.${key}`;
  for (const slot of raw.keyslots) if (!Object.hasOwn(json.keyslots, slot)) fail(`${field}.keyslots`, `names missing key slot ${slot}`);
  for (const segment of raw.segments) if (!Object.hasOwn(json.segments, segment)) fail(`${field}.segments`, `names missing segment ${segment}`);
  const hash = decodeHash(raw.hash, `${field}.hash`);
  if (raw.iterations < 1 || raw.iterations > maxIterations) fail(`${field}.iterations`, `${raw.iterations} is not within 1..${maxIterations}`);
  const digest = decodeSalt(raw.digest, `${field}.digest`);
  if (digest.length !== 20 && digest.length !== LUKS2_HASHES[hash]) fail(`${field}.digest`, `${digest.length} bytes (must be 20 or the ${hash} size)`);
  return { id: Number(key), type: 'pbkdf2', keyslots: raw.keyslots.map(Number), segments: raw.segments.map(Number), hash, iterations: raw.iterations, salt: decodeSalt(raw.salt, `${field}.salt`, 32), digest };
}

function decodeTokens(json: Luks2Json): Luks2Token[] {
  return Object.entries(json.tokens).map(([key, token]) => {
    for (const slot of token.keyslots) if (!Object.hasOwn(json.keyslots, slot)) fail(`tokens.${key}.keyslots`, `names missing key slot ${slot}`);
    return { id: Number(key), json: token };
  });
}

/** Key-slot areas lie inside the key-slot area, after both headers, and never overlap (cryptsetup's validate_intervals). */
function checkAreas(keyslots: readonly Luks2Keyslot[], hdrSize: number, keyslotsSize: number): void {
  const end = 2 * hdrSize + keyslotsSize;
  for (const slot of keyslots) {
    const { offset, size } = slot.area;
    if (offset < 2 * hdrSize || offset + size > end) fail(`keyslots.${slot.id}.area`, `[${offset}, ${offset + size}) is outside the key-slot area [${2 * hdrSize}, ${end})`);
    for (const other of keyslots) {
      if (other !== slot && offset < other.area.offset + other.area.size && other.area.offset < offset + size) {
        fail(`keyslots.${slot.id}.area`, `overlaps key slot ${other.id}`);
      }
    }
  }
}

export interface DecodeLimits {
  readonly maxPbkdf2Iterations: number;
}

/** Turns schema-checked JSON into metadata, or throws ParseError (invalid) / UnsupportedError (valid but not implemented). */
export function decodeLuks2Metadata(json: Luks2Json, bounds: Luks2Bounds, limits: DecodeLimits): Luks2Metadata {
  checkCounts(json);
  const config = decodeConfig(json, bounds);
  refuseUnsupported(json);
  const [segmentKey, rawSegment] = Object.entries(json.segments)[0]!;
  const segment = decodeSegment(segmentKey, rawSegment as Luks2JsonCryptSegment, config, bounds.hdrSize);
  const digests = Object.entries(json.digests).map(([key, raw]) => decodeDigest(key, raw, json, limits.maxPbkdf2Iterations));
  if (!digests.some((digest) => digest.segments.includes(segment.id))) fail(`segments.${segment.id}`, 'no digest covers the segment');
  const keyslots = Object.entries(json.keyslots).map(([key, raw]) => checkKeyslot(key, raw as Exclude<typeof raw, { type: 'reencrypt' }>, limits.maxPbkdf2Iterations));
  checkAreas(keyslots, bounds.hdrSize, config.keyslotsSize);
  return { keyslots, tokens: decodeTokens(json), segment, digests, config };
}

export const isAreaCipher = (value: string): value is Luks2AreaCipher => (LUKS2_AREA_CIPHERS as readonly string[]).includes(value);
