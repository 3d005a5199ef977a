// The ciphers we implement, in one table: each cipher as LUKS2 JSON spells it (LUKS1 as cipher-name "aes" and cipher-mode), the
// key sizes cryptsetup uses with it, its sector-cipher mode, and whether the device VM maps a data segment with it (then the
// dm-crypt table names it exactly so). A cipher added here is parsed, opened and refused everywhere at once.
export const CIPHERS = {
  'aes-xts-plain64': { mode: 'xts-plain64', keyBytes: [32, 64], mapped: true },
  'aes-xts-plain': { mode: 'xts-plain', keyBytes: [32, 64], mapped: false },
  'aes-cbc-essiv:sha256': { mode: 'cbc-essiv:sha256', keyBytes: [16, 24, 32], mapped: false },
  'aes-cbc-plain': { mode: 'cbc-plain', keyBytes: [16, 24, 32], mapped: false },
  'aes-cbc-plain64': { mode: 'cbc-plain64', keyBytes: [16, 24, 32], mapped: false },
} as const;
export type CipherSpec = keyof typeof CIPHERS;
export type SectorCipherMode = (typeof CIPHERS)[CipherSpec]['mode'];

export const CIPHER_SPECS = Object.keys(CIPHERS) as CipherSpec[];
export const SECTOR_CIPHER_MODES: readonly SectorCipherMode[] = CIPHER_SPECS.map((spec) => CIPHERS[spec].mode);

/** The table's row for a cipher named by untrusted text, or undefined (own keys only: never a prototype's). */
export function cipherSpec(name: string): CipherSpec | undefined {
  return Object.hasOwn(CIPHERS, name) ? (name as CipherSpec) : undefined;
}

/** The key sizes cryptsetup uses with a cipher; anything else is refused before any allocation depends on it. */
export function cipherKeyBytes(spec: CipherSpec): readonly number[] {
  return CIPHERS[spec].keyBytes;
}

/** Whether the device VM maps a data segment of this cipher with a key of this size. */
export function isMappable(name: string, keyBytes: number): boolean {
  const spec = cipherSpec(name);
  return spec !== undefined && CIPHERS[spec].mapped && cipherKeyBytes(spec).includes(keyBytes);
}
