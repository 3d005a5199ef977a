// Opening and sealing one LUKS2 key slot: KDF of the secret, sector decryption of the AF material (the sector cipher and AF splitter
// shared with LUKS1), AF merge, and the digest check of the candidate volume key.
import { randomBytes } from 'node:crypto';
import { ParseError } from '../errors.ts';
import { bytesEqual, zeroize } from '../bytes.ts';
import { afMerge, afSplit } from '../luks-common/af.ts';
import { CIPHERS, type SectorCipherMode } from '../luks-common/ciphers.ts';
import { pbkdf2 } from '../luks-common/pbkdf2.ts';
import { cryptSectors } from '../luks-common/sector-cipher.ts';
import { LUKS2_SALT_BYTES, type Luks2AreaCipher, type Luks2Hash } from './constants.ts';
import { deriveKey } from './kdf.ts';
import { afMaterialBytes } from './metadata-keyslot.ts';
import type { Luks2Digest, Luks2Kdf, Luks2Keyslot, Luks2Metadata } from './metadata.ts';

/** A key-slot area's cipher as the sector cipher's mode: "aes-xts-plain64" -> "xts-plain64", Adiantum -> "adiantum-plain64". */
export const areaMode = (cipher: Luks2AreaCipher): SectorCipherMode => CIPHERS[cipher].mode;

/** The digests that vouch for a slot's key being the key of the volume's segment. */
export function digestsOf(metadata: Luks2Metadata, slot: Luks2Keyslot): Luks2Digest[] {
  return metadata.digests.filter((digest) => digest.keyslots.includes(slot.id) && digest.segments.includes(metadata.segment.id));
}

/** True when `candidate` matches the PBKDF2 digest. */
export async function verifyDigest(digest: Luks2Digest, candidate: Uint8Array): Promise<boolean> {
  const computed = await pbkdf2(candidate, digest.salt, digest.iterations, digest.digest.length, digest.hash);
  return bytesEqual(computed, digest.digest);
}

function material(area: Uint8Array, slot: Luks2Keyslot): Uint8Array {
  const start = slot.area.offset;
  const end = start + afMaterialBytes(slot.keyBytes, slot.af.stripes);
  if (end > area.length) throw new ParseError('luks2 header', `key slot ${slot.id} area`, start, `ends at byte ${end}, beyond the ${area.length}-byte header area`);
  return area.subarray(start, end);
}

/** Tries one slot; returns the volume key, or undefined when the secret does not open it. `signal` stops an Argon2 derivation. */
export async function openLuks2Keyslot(metadata: Luks2Metadata, area: Uint8Array, slot: Luks2Keyslot, secret: Uint8Array, signal?: AbortSignal): Promise<Buffer | undefined> {
  const digests = digestsOf(metadata, slot);
  if (digests.length === 0) return undefined;
  const encrypted = material(area, slot);
  const slotKey = await deriveKey(slot.kdf, secret, slot.area.keyBytes, signal);
  const split = cryptSectors('decrypt', areaMode(slot.area.encryption), slotKey, encrypted);
  const candidate = afMerge(split, slot.keyBytes, slot.af.stripes, slot.af.hash);
  zeroize(slotKey, split);
  for (const digest of digests) if (await verifyDigest(digest, candidate)) return candidate;
  zeroize(candidate);
  return undefined;
}

export interface SealedLuks2Keyslot {
  readonly slot: Luks2Keyslot;
  /** The encrypted AF material, to be written at slot.area.offset. */
  readonly material: Buffer;
}

/** Makes `slot` (with a fresh salt in `kdf`) hold `volumeKey` under `secret`. */
export async function sealLuks2Keyslot(slot: Luks2Keyslot, volumeKey: Uint8Array, secret: Uint8Array): Promise<SealedLuks2Keyslot> {
  const slotKey = await deriveKey(slot.kdf, secret, slot.area.keyBytes);
  const stripes = afSplit(volumeKey, slot.af.stripes, slot.af.hash);
  const split = Buffer.alloc(afMaterialBytes(slot.keyBytes, slot.af.stripes));
  stripes.copy(split);
  randomBytes(split.length - stripes.length).copy(split, stripes.length);
  const encrypted = cryptSectors('encrypt', areaMode(slot.area.encryption), slotKey, split);
  zeroize(slotKey, split, stripes);
  return { slot, material: encrypted };
}

/** KDF parameters without their salt: what a caller chooses for a new slot. */
export type Luks2KdfChoice =
  | { readonly type: 'pbkdf2'; readonly hash: Luks2Hash; readonly iterations: number }
  | { readonly type: 'argon2i' | 'argon2id'; readonly time: number; readonly memoryKiB: number; readonly cpus: number };

/** The KDF of a new slot: the chosen parameters with a fresh random salt. */
export function kdfWithFreshSalt(choice: Luks2KdfChoice): Luks2Kdf {
  return { ...choice, salt: new Uint8Array(randomBytes(LUKS2_SALT_BYTES)) };
}
