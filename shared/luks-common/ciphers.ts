// The ciphers we implement, in one table: each cipher as LUKS2 JSON and dm-crypt spell it, the key sizes cryptsetup uses with it,
// its sector-cipher mode (for key-slot areas), whether a LUKS1 header may carry it (as cipher-name "aes" and cipher-mode), and
// whether the device VM maps a data segment of it (then the dm-crypt table names it exactly so, and a new volume may be made
// with it). A cipher added here is parsed, opened, formatted and refused everywhere at once.
import { UsageError } from '../errors.ts';
import type { LuksType } from '../protocol/contract.ts';

export const CIPHERS = {
  'aes-xts-plain64': { mode: 'xts-plain64', keyBytes: [32, 64], luks1: true, mapped: true },
  'aes-xts-plain': { mode: 'xts-plain', keyBytes: [32, 64], luks1: true, mapped: false },
  'aes-cbc-essiv:sha256': { mode: 'cbc-essiv:sha256', keyBytes: [16, 24, 32], luks1: true, mapped: false },
  'aes-cbc-plain': { mode: 'cbc-plain', keyBytes: [16, 24, 32], luks1: true, mapped: false },
  'aes-cbc-plain64': { mode: 'cbc-plain64', keyBytes: [16, 24, 32], luks1: true, mapped: false },
  // Adiantum: XChaCha12 and AES-256 under one 32-byte key. LUKS1 would spell it cipher-name "xchacha12,aes": not implemented,
  // cryptsetup makes it only when asked for both LUKS1 and this cipher, and LUKS2 is the format for it.
  'xchacha12,aes-adiantum-plain64': { mode: 'adiantum-plain64', keyBytes: [32], luks1: false, mapped: true },
} as const;
export type CipherSpec = keyof typeof CIPHERS;
export type SectorCipherMode = (typeof CIPHERS)[CipherSpec]['mode'];

export const CIPHER_SPECS = Object.keys(CIPHERS) as CipherSpec[];
export const SECTOR_CIPHER_MODES: readonly SectorCipherMode[] = CIPHER_SPECS.map((spec) => CIPHERS[spec].mode);

/** The AES ciphers a LUKS1 header names as "aes" + mode. */
export type Luks1CipherSpec = { [K in CipherSpec]: (typeof CIPHERS)[K]['luks1'] extends true ? K : never }[CipherSpec];
export type Luks1CipherMode = (typeof CIPHERS)[Luks1CipherSpec]['mode'];
export const LUKS1_CIPHER_SPECS = CIPHER_SPECS.filter((spec): spec is Luks1CipherSpec => CIPHERS[spec].luks1);

/** The data ciphers the device VM maps, and each with exactly the key sizes it is mapped with: the typed key every message carries. */
export type MappedCipher = { [K in CipherSpec]: (typeof CIPHERS)[K]['mapped'] extends true ? K : never }[CipherSpec];
export type MappedCipherKey = { [K in MappedCipher]: { readonly cipher: K; readonly keyBytes: (typeof CIPHERS)[K]['keyBytes'][number] } }[MappedCipher];
export const MAPPED_CIPHERS = CIPHER_SPECS.filter((spec): spec is MappedCipher => CIPHERS[spec].mapped);
/** The cipher a new volume gets unless one is named. */
export const DEFAULT_CIPHER: MappedCipher = 'aes-xts-plain64';

/** The table's row for a cipher named by untrusted text, or undefined (own keys only: never a prototype's). */
export function cipherSpec(name: string): CipherSpec | undefined {
  return Object.hasOwn(CIPHERS, name) ? (name as CipherSpec) : undefined;
}

/** The key sizes cryptsetup uses with a cipher; anything else is refused before any allocation depends on it. */
export function cipherKeyBytes(spec: CipherSpec): readonly number[] {
  return CIPHERS[spec].keyBytes;
}

/** A cipher name and key size as the typed key the device VM maps, or undefined when it maps no such thing. */
export function mappedCipherKey(name: string, keyBytes: number): MappedCipherKey | undefined {
  const spec = cipherSpec(name);
  if (spec === undefined || !CIPHERS[spec].mapped || !cipherKeyBytes(spec).includes(keyBytes)) return undefined;
  return { cipher: spec, keyBytes } as MappedCipherKey;
}

/** Whether the device VM maps a data segment of this cipher with a key of this size. */
export function isMappable(name: string, keyBytes: number): boolean {
  return mappedCipherKey(name, keyBytes) !== undefined;
}

/** A new volume's cipher named by the user: one the device VM maps, or undefined (the caller refuses it by name). */
export function formatCipher(name: string): MappedCipher | undefined {
  const spec = cipherSpec(name);
  return spec !== undefined && CIPHERS[spec].mapped ? (spec as MappedCipher) : undefined;
}

/**
 * A new volume's --cipher and --key-size (bits; undefined: the defaults, aes-xts-plain64 and the cipher's largest size, as
 * cryptsetup) as the typed key, or a UsageError naming the option and the value: a cipher outside the mapped rows (serpent,
 * twofish, cipher_null, aes-cbc-plain...) is refused by name, and so is Adiantum for LUKS1.
 */
export function newVolumeCipherKey(rawCipher: string | undefined, rawBits: string | undefined, luksType: LuksType): MappedCipherKey {
  const cipher = formatCipher(rawCipher ?? DEFAULT_CIPHER);
  if (cipher === undefined) throw new UsageError(`option --cipher expects ${MAPPED_CIPHERS.join(' or ')}, received '${rawCipher ?? ''}'`);
  if (luksType === 'luks1' && cipher !== DEFAULT_CIPHER) throw new UsageError(`option --cipher ${cipher} needs --type luks2 (LUKS1 volumes are made with ${DEFAULT_CIPHER} only)`);
  const bits = rawBits ?? String(Math.max(...cipherKeyBytes(cipher)) * 8);
  const key = /^[0-9]{3}$/.test(bits) ? mappedCipherKey(cipher, Number(bits) / 8) : undefined;
  if (key === undefined) throw new UsageError(`option --key-size expects ${keyBitsWords(cipher)} for ${cipher}, received '${bits}'`);
  return key;
}

/** The key sizes of a mapped cipher, in bits, as a sentence's list ("256 or 512"). */
export function keyBitsWords(cipher: MappedCipher): string {
  return cipherKeyBytes(cipher).map((bytes) => bytes * 8).join(' or ');
}
