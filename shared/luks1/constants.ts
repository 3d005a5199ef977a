// LUKS1 on-disk constants (cryptsetup's LUKS1 spec 1.2.3) and the caps we put on attacker-controlled values.
import { CIPHERS, LUKS1_CIPHER_SPECS, type Luks1CipherMode as Luks1Mode } from '../luks-common/ciphers.ts';
import { LUKS_HASHES, SECTOR_BYTES, type LuksHash } from '../luks-common/constants.ts';

export { MAX_KEY_BYTES, MAX_PBKDF2_ITERATIONS, MIN_DIGEST_ITERATIONS, SECTOR_BYTES } from '../luks-common/constants.ts';

export const LUKS1_MAGIC = Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe); // "LUKS\xba\xbe"
export const LUKS1_VERSION = 1;
export const LUKS1_PHDR_BYTES = 592;
export const LUKS1_KEYSLOT_COUNT = 8;
export const LUKS1_STRIPES = 4000;
export const LUKS1_DIGEST_BYTES = 20;
export const LUKS1_SALT_BYTES = 32;
export const LUKS1_UUID_FIELD_BYTES = 40;
export const LUKS1_SLOT_ACTIVE = 0x00ac71f3;
export const LUKS1_SLOT_INACTIVE = 0x0000dead;

/**
 * Bytes of a LUKS1 volume that count as "the header area": what the device VM sends, what overwrite-header-* replaces.
 * It is the end of key slot 7 in cryptsetup's layout for 64-byte keys (4040 sectors), the largest LUKS1 layout cryptsetup makes,
 * and the size the original split dm-crypt uses, so the two tools agree on what a header is.
 */
export const LUKS1_HEADER_AREA_BYTES = 4040 * SECTOR_BYTES;


export const LUKS1_CIPHER_NAMES = ['aes'] as const;
export type Luks1CipherName = (typeof LUKS1_CIPHER_NAMES)[number];

/** LUKS1's cipher modes are those of the shared cipher table's LUKS1 rows (aes-*), its hashes the shared ones. */
export const LUKS1_CIPHER_MODES: readonly Luks1Mode[] = LUKS1_CIPHER_SPECS.map((spec) => CIPHERS[spec].mode);
export type Luks1CipherMode = Luks1Mode;
export const LUKS1_HASHES = LUKS_HASHES;
export type Luks1Hash = LuksHash;

/** Names that are real LUKS1 choices we deliberately do not implement: refused as "unsupported", not as "invalid". */
export const KNOWN_UNSUPPORTED_CIPHERS = ['xchacha12,aes', 'xchacha20,aes', 'serpent', 'twofish', 'cast5', 'cast6', 'blowfish', 'des3_ede', 'camellia', 'sm4'];
export const KNOWN_UNSUPPORTED_HASHES = ['ripemd160', 'whirlpool', 'sha224', 'sha384', 'stribog256', 'stribog512', 'sm3', 'blake2b-512'];
