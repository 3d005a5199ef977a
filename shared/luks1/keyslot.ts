// Opening and writing one LUKS1 key slot: PBKDF2 of the secret, sector decryption of the AF material, AF merge, digest check.
import { randomBytes } from 'node:crypto';
import { ParseError } from '../errors.ts';
import { bytesEqual, zeroize } from '../bytes.ts';
import { afMerge, afSplit } from '../luks-common/af.ts';
import { LUKS1_DIGEST_BYTES, LUKS1_SALT_BYTES, SECTOR_BYTES } from './constants.ts';
import { keyMaterialSectors, type Luks1Header, type Luks1Keyslot } from './header.ts';
import { pbkdf2 } from '../luks-common/pbkdf2.ts';
import { cryptSectors } from '../luks-common/sector-cipher.ts';

/** The byte range [start, end) of a slot's AF material within the volume. */
export function keyMaterialRange(header: Luks1Header, slot: Luks1Keyslot): { start: number; end: number } {
  const start = slot.keyMaterialOffset * SECTOR_BYTES;
  return { start, end: start + keyMaterialSectors(header.keyBytes, slot.stripes) * SECTOR_BYTES };
}

/** The slot's encrypted material from the header area, or a ParseError when the area we hold does not reach it. */
function keyMaterial(area: Uint8Array, header: Luks1Header, slot: Luks1Keyslot): Uint8Array {
  const { start, end } = keyMaterialRange(header, slot);
  if (end > area.length) {
    throw new ParseError('luks1 header', `key slot ${slot.index} key material`, start, `ends at byte ${end}, beyond the ${area.length}-byte header area`);
  }
  return area.subarray(start, end);
}

/** True when `candidate` is the volume key: its PBKDF2 digest matches the header's. */
export async function verifyVolumeKey(header: Luks1Header, candidate: Uint8Array): Promise<boolean> {
  const digest = await pbkdf2(candidate, header.mkDigestSalt, header.mkDigestIterations, LUKS1_DIGEST_BYTES, header.hashSpec);
  return bytesEqual(digest, header.mkDigest);
}

/** Tries one active slot; returns the volume key, or undefined when the secret does not open it. */
export async function openKeyslot(header: Luks1Header, area: Uint8Array, slot: Luks1Keyslot, secret: Uint8Array): Promise<Buffer | undefined> {
  const material = keyMaterial(area, header, slot);
  const slotKey = await pbkdf2(secret, slot.salt, slot.iterations, header.keyBytes, header.hashSpec);
  const split = cryptSectors('decrypt', header.cipherMode, slotKey, material);
  const candidate = afMerge(split, header.keyBytes, slot.stripes, header.hashSpec);
  zeroize(slotKey, split);
  if (await verifyVolumeKey(header, candidate)) return candidate;
  zeroize(candidate);
  return undefined;
}

export interface SealedKeyslot {
  readonly slot: Luks1Keyslot;
  /** The encrypted AF material, whole sectors, to be written at the slot's key-material offset. */
  readonly material: Buffer;
}

/** Makes the active form of `slot` holding `volumeKey` under `secret` (fresh salt from the CSPRNG). */
export async function writeKeyslot(header: Luks1Header, slot: Luks1Keyslot, volumeKey: Uint8Array, secret: Uint8Array, iterations: number): Promise<SealedKeyslot> {
  const salt = randomBytes(LUKS1_SALT_BYTES);
  const slotKey = await pbkdf2(secret, salt, iterations, header.keyBytes, header.hashSpec);
  const sectors = keyMaterialSectors(header.keyBytes, slot.stripes);
  const split = Buffer.alloc(sectors * SECTOR_BYTES);
  const stripes = afSplit(volumeKey, slot.stripes, header.hashSpec);
  stripes.copy(split);
  randomBytes(split.length - stripes.length).copy(split, stripes.length);
  const material = cryptSectors('encrypt', header.cipherMode, slotKey, split);
  zeroize(slotKey, split, stripes);
  return { slot: { ...slot, active: true, iterations, salt }, material };
}
