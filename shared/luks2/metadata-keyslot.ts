// One LUKS2 key slot from schema-checked JSON: KDF parameters within our caps, AF and area parameters cryptsetup would accept.
import { UnsupportedError } from '../errors.ts';
import { KEY_BYTES_BY_MODE, MAX_KEY_BYTES } from '../luks1/constants.ts';
import {
  LUKS2_AREA_CIPHERS,
  LUKS2_HASHES,
  LUKS2_SALT_BYTES,
  LUKS2_STRIPES,
  MAX_ARGON2_MEMORY_KIB,
  MAX_ARGON2_PARALLELISM,
  MAX_ARGON2_TIME,
  SECTOR_BYTES,
  type Luks2AreaCipher,
  type Luks2Hash,
} from './constants.ts';
import type { Luks2JsonKeyslot } from './json-schema.ts';
import { decodeSalt, fail, safeInteger } from './metadata-fields.ts';

export type Luks2Kdf =
  | { readonly type: 'pbkdf2'; readonly hash: Luks2Hash; readonly iterations: number; readonly salt: Uint8Array }
  | { readonly type: 'argon2i' | 'argon2id'; readonly time: number; readonly memoryKiB: number; readonly cpus: number; readonly salt: Uint8Array };

export interface Luks2Keyslot {
  readonly id: number;
  readonly type: 'luks2';
  /** Size of the volume key this slot holds. */
  readonly keyBytes: number;
  readonly af: { readonly type: 'luks1'; readonly stripes: number; readonly hash: Luks2Hash };
  /** Where the encrypted AF material lives (bytes from the start of the device) and how it is encrypted. */
  readonly area: { readonly type: 'raw'; readonly offset: number; readonly size: number; readonly encryption: Luks2AreaCipher; readonly keyBytes: number };
  readonly kdf: Luks2Kdf;
  /** 0 = ignored unless asked for by number, 1 = normal, 2 = preferred (absent = normal). */
  readonly priority?: number;
}

/** Bytes of AF material for a key: key-bytes * stripes rounded up to whole 512-byte sectors (cryptsetup's AF_split_sectors). */
export function afMaterialBytes(keyBytes: number, stripes = LUKS2_STRIPES): number {
  return Math.ceil((keyBytes * stripes) / SECTOR_BYTES) * SECTOR_BYTES;
}

function hashOf(value: string, field: string): Luks2Hash {
  if (Object.hasOwn(LUKS2_HASHES, value)) return value as Luks2Hash;
  throw new UnsupportedError(`unsupported hash '${value}' in ${field} (supported: sha1, sha256, sha512)`);
}

function checkKdf(raw: Luks2JsonKeyslot['kdf'], field: string, maxIterations: number): Luks2Kdf {
  const salt = decodeSalt(raw.salt, `${field}.salt`, LUKS2_SALT_BYTES);
  if (raw.type === 'pbkdf2') {
    if (raw.iterations < 1 || raw.iterations > maxIterations) fail(`${field}.iterations`, `${raw.iterations} is not within 1..${maxIterations}`);
    return { type: 'pbkdf2', hash: hashOf(raw.hash, `${field}.hash`), iterations: raw.iterations, salt };
  }
  // Why: memory, passes and lanes decide how long and how much memory the header DisposableVM spends; all are capped before any work.
  if (raw.time < 1 || raw.time > MAX_ARGON2_TIME) fail(`${field}.time`, `${raw.time} passes are not within 1..${MAX_ARGON2_TIME}`);
  if (raw.cpus < 1 || raw.cpus > MAX_ARGON2_PARALLELISM) fail(`${field}.cpus`, `${raw.cpus} lanes are not within 1..${MAX_ARGON2_PARALLELISM}`);
  if (raw.memory > MAX_ARGON2_MEMORY_KIB) fail(`${field}.memory`, `${raw.memory} KiB exceed the cap of ${MAX_ARGON2_MEMORY_KIB} KiB`);
  if (raw.memory < 8 * raw.cpus) fail(`${field}.memory`, `${raw.memory} KiB is less than 8 KiB per lane`);
  return { type: raw.type, time: raw.time, memoryKiB: raw.memory, cpus: raw.cpus, salt };
}

function checkArea(raw: Luks2JsonKeyslot['area'], field: string, keyBytes: number): Luks2Keyslot['area'] {
  const encryption = LUKS2_AREA_CIPHERS.find((cipher) => cipher === raw.encryption);
  if (!encryption) throw new UnsupportedError(`unsupported key-slot cipher '${raw.encryption}' in ${field} (supported: ${LUKS2_AREA_CIPHERS.join(', ')})`);
  const allowed: readonly number[] = encryption.startsWith('aes-xts') ? KEY_BYTES_BY_MODE.xts : KEY_BYTES_BY_MODE.cbc;
  if (!allowed.includes(raw.key_size)) fail(`${field}.key_size`, `${raw.key_size} is not a key size for ${encryption} (${allowed.join(', ')})`);
  const offset = safeInteger(raw.offset, `${field}.offset`);
  const size = safeInteger(raw.size, `${field}.size`);
  if (offset % SECTOR_BYTES !== 0) fail(`${field}.offset`, `${offset} is not a multiple of 512`);
  if (size < afMaterialBytes(keyBytes)) fail(`${field}.size`, `${size} bytes cannot hold ${afMaterialBytes(keyBytes)} bytes of key material`);
  return { type: 'raw', offset, size, encryption, keyBytes: raw.key_size };
}

/** Checks one luks2-type key slot; `key` is its id in the keyslots object. */
export function checkKeyslot(key: string, raw: Luks2JsonKeyslot, maxIterations: number): Luks2Keyslot {
  const field = `keyslots.${key}`;
  if (raw.key_size < 1 || raw.key_size > MAX_KEY_BYTES) fail(`${field}.key_size`, `${raw.key_size} is not within 1..${MAX_KEY_BYTES}`);
  if (raw.af.stripes !== LUKS2_STRIPES) fail(`${field}.af.stripes`, `${raw.af.stripes} stripes (must be ${LUKS2_STRIPES})`);
  const af = { type: 'luks1' as const, stripes: LUKS2_STRIPES, hash: hashOf(raw.af.hash, `${field}.af.hash`) };
  const slot: Luks2Keyslot = {
    id: Number(key),
    type: 'luks2',
    keyBytes: raw.key_size,
    af,
    area: checkArea(raw.area, `${field}.area`, raw.key_size),
    kdf: checkKdf(raw.kdf, `${field}.kdf`, maxIterations),
  };
  return raw.priority === undefined ? slot : { ...slot, priority: raw.priority };
}
