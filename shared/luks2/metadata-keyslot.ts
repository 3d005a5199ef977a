// One LUKS2 key slot from JSON that passed cryptsetup's rules: our caps on the KDF work, and the AF and area parameters we can open.
import { UnsupportedError } from '../errors.ts';
import { cipherKeyBytes } from '../luks-common/ciphers.ts';
import { MAX_KEY_BYTES } from '../luks-common/constants.ts';
import {
  ARGON2_MAX_LANES,
  LUKS2_AREA_CIPHERS,
  LUKS2_HASHES,
  LUKS2_SALT_BYTES,
  LUKS2_STRIPES,
  MAX_ARGON2_MEMORY_KIB,
  MAX_ARGON2_WORK_KIB_PASSES,
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
  throw new UnsupportedError(`unsupported hash '${value.slice(0, 32)}' in ${field} (supported: sha1, sha256, sha512)`);
}

/** The work a slot's KDF asks for is capped before any derivation: it decides how long the header DisposableVM spends. */
function checkKdf(raw: Luks2JsonKeyslot['kdf'], field: string, maxIterations: number): Luks2Kdf {
  if (raw.type === 'pbkdf2') {
    const hash = hashOf(raw.hash, `${field}.hash`);
    if (raw.iterations < 1 || raw.iterations > maxIterations) fail(`${field}.iterations`, `${raw.iterations} is not within 1..${maxIterations}`);
    return { type: 'pbkdf2', hash, iterations: raw.iterations, salt: decodeSalt(raw.salt, `${field}.salt`, LUKS2_SALT_BYTES) };
  }
  if (raw.time < 1) fail(`${field}.time`, `${raw.time} passes (at least 1)`);
  if (raw.cpus < 1 || raw.cpus > ARGON2_MAX_LANES) fail(`${field}.cpus`, `${raw.cpus} lanes are not within 1..${ARGON2_MAX_LANES}`);
  if (raw.memory > MAX_ARGON2_MEMORY_KIB) fail(`${field}.memory`, `${raw.memory} KiB exceed the cap of ${MAX_ARGON2_MEMORY_KIB} KiB`);
  if (raw.memory < 8 * raw.cpus) fail(`${field}.memory`, `${raw.memory} KiB is less than 8 KiB per lane`);
  // Why the product: passes alone say nothing (cryptsetup picks 40 passes of 64 MiB as readily as 4 of 1 GiB); memory x passes
  // is what the derivation costs, whatever the lanes.
  if (raw.memory * raw.time > MAX_ARGON2_WORK_KIB_PASSES) {
    fail(`${field}.time`, `${raw.time} passes over ${raw.memory} KiB exceed the work cap of ${MAX_ARGON2_WORK_KIB_PASSES} KiB-passes (1 GiB at 32 passes)`);
  }
  return { type: raw.type, time: raw.time, memoryKiB: raw.memory, cpus: raw.cpus, salt: decodeSalt(raw.salt, `${field}.salt`, LUKS2_SALT_BYTES) };
}

function checkArea(raw: Luks2JsonKeyslot['area'], field: string, keyBytes: number): Luks2Keyslot['area'] {
  const encryption = LUKS2_AREA_CIPHERS.find((cipher) => cipher === raw.encryption);
  if (!encryption) throw new UnsupportedError(`unsupported key-slot cipher '${raw.encryption.slice(0, 64)}' in ${field} (supported: ${LUKS2_AREA_CIPHERS.join(', ')})`);
  const allowed = cipherKeyBytes(encryption);
  if (!allowed.includes(raw.key_size)) fail(`${field}.key_size`, `${raw.key_size} is not a key size for ${encryption} (${allowed.join(', ')})`);
  // cryptsetup's rules have placed the area inside the key-slot area (below 128 MiB + 8 MiB): both are safe integers.
  const offset = safeInteger(raw.offset, `${field}.offset`);
  const size = safeInteger(raw.size, `${field}.size`);
  if (size < afMaterialBytes(keyBytes)) fail(`${field}.size`, `${size} bytes cannot hold ${afMaterialBytes(keyBytes)} bytes of key material`);
  return { type: 'raw', offset, size, encryption, keyBytes: raw.key_size };
}

/** Checks one luks2-type key slot; `key` is its id. `notes` receives what we ignore the way cryptsetup does. */
export function checkKeyslot(key: string, raw: Luks2JsonKeyslot, maxIterations: number, notes: string[]): Luks2Keyslot {
  const field = `keyslots.${key}`;
  if (raw.key_size > MAX_KEY_BYTES) throw new UnsupportedError(`unsupported luks2 volume key of ${raw.key_size} bytes in key slot ${key} (at most ${MAX_KEY_BYTES})`);
  if (raw.key_size < 1) fail(`${field}.key_size`, 'a volume key of 0 bytes');
  // cryptsetup splits and merges with its constant 4000 stripes whatever the JSON says; so do we, and say so.
  if (raw.af.stripes !== LUKS2_STRIPES) notes.push(`key slot ${key} says ${raw.af.stripes} AF stripes; like cryptsetup, ${LUKS2_STRIPES} are used`);
  const slot: Luks2Keyslot = {
    id: Number(key),
    type: 'luks2',
    keyBytes: raw.key_size,
    af: { type: 'luks1', stripes: LUKS2_STRIPES, hash: hashOf(raw.af.hash, `${field}.af.hash`) },
    area: checkArea(raw.area, `${field}.area`, raw.key_size),
    kdf: checkKdf(raw.kdf, `${field}.kdf`, maxIterations),
  };
  return raw.priority === undefined ? slot : { ...slot, priority: raw.priority };
}
