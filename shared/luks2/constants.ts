// LUKS2 on-disk constants (cryptsetup's LUKS2 on-disk format and lib/luks2) and the caps we put on attacker-controlled values.
import { CIPHER_SPECS, type CipherSpec } from '../luks-common/ciphers.ts';
import { LUKS_HASHES, SECTOR_BYTES } from '../luks-common/constants.ts';

export { SECTOR_BYTES };

export const LUKS2_MAGIC_PRIMARY = Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe); // "LUKS\xba\xbe"
export const LUKS2_MAGIC_SECONDARY = Uint8Array.of(0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe); // "SKUL\xba\xbe"
export const LUKS2_VERSION = 2;
/** The binary header in front of each JSON area. */
export const LUKS2_BINARY_HEADER_BYTES = 4096;
/** hdr_size values cryptsetup accepts (binary header + JSON area); each is also a place the secondary header may start. */
export const LUKS2_HEADER_SIZES = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000] as const;
/** The hdr_size cryptsetup formats with, and we too. */
export const LUKS2_DEFAULT_HEADER_SIZE = 0x4000;
export const LUKS2_CHECKSUM_FIELD_BYTES = 64;
export const LUKS2_SALT_BYTES = 32;
export const LUKS2_STRIPES = 4000;
/** Key-slot areas are allocated in 4 KiB units (cryptsetup's get_area_size). */
export const LUKS2_AREA_ALIGN = 4096;
/** The default data offset of cryptsetup and of our format: 16 MiB. */
export const LUKS2_DEFAULT_DATA_OFFSET = 16 * 1024 * 1024;

/**
 * The most of a LUKS2 volume that counts as its header area (headers and key-slot areas, up to the data): what the device VM sends,
 * what header writes may replace. 16 MiB is cryptsetup's default data offset and the size the original split dm-crypt transfers.
 */
export const LUKS2_MAX_HEADER_AREA_BYTES = 16 * 1024 * 1024;

/** cryptsetup's LUKS2_KEYSLOTS_MAX: key-slot ids 0..31. A header naming more slots is refused before any is tried. */
export const LUKS2_MAX_KEYSLOTS = 32;
/**
 * cryptsetup's LUKS2_TOKENS_MAX and LUKS2_DIGEST_MAX (the most digests it creates; it finds digests of any id, and so do we up
 * to id 31), so hostile JSON cannot make us walk thousands of objects.
 */
export const LUKS2_MAX_TOKENS = 32;
export const LUKS2_MAX_DIGESTS = 8;
export const LUKS2_MAX_SEGMENTS = 32;
/** cryptsetup's LUKS2_MAX_KEYSLOTS_SIZE: the key-slot area is at most 128 MiB. */
export const LUKS2_MAX_KEYSLOTS_SIZE = 128 * 1024 * 1024;

/**
 * Argon2 memory ceiling (KiB) for an untrusted key slot: 1 GiB, cryptsetup's own default maximum. More would not fit the header
 * DisposableVM at all; a header asking for it is refused before any allocation.
 */
export const MAX_ARGON2_MEMORY_KIB = 1024 * 1024;
/**
 * The most Argon2 passes our own format and add-key write (cryptsetup's benchmark picks 4..~10 passes at 1 GiB). Reading is not
 * capped by passes but by MAX_ARGON2_WORK_KIB_PASSES: cryptsetup itself makes slots of 64 MiB and 40 passes when asked to.
 */
export const MAX_ARGON2_TIME = 32;
/**
 * Argon2 work ceiling for an untrusted key slot, memory (KiB) x passes: 2^35, the work of 1 GiB at 32 passes, about 80 s of
 * WebAssembly on a 2-core test machine (hash-wasm: ~2.4 ms per MiB per pass), under dom0's 120 s reply timeout. Lanes split the
 * memory and add no work: our Argon2 runs them one after another. Checked before any derivation.
 */
export const MAX_ARGON2_WORK_KIB_PASSES = MAX_ARGON2_MEMORY_KIB * 32;
/** Argon2 lanes our format writes at most: cryptsetup never uses more than 4 threads (its pbkdf limits' max_parallel). */
export const MAX_ARGON2_PARALLELISM = 4;
/** Argon2's own lane limit (RFC 9106: 2^24 - 1); a read key slot may use any count, bounded also by 8 KiB of memory per lane. */
export const ARGON2_MAX_LANES = 2 ** 24 - 1;
/** cryptsetup refuses fewer than 4 Argon2 passes when formatting; we never write fewer either. */
export const MIN_ARGON2_TIME = 4;
/** Argon2 needs at least 8 KiB per lane; cryptsetup's minimum memory is 32 KiB. */
export const MIN_ARGON2_MEMORY_KIB = 32;

/** Hashes accepted for PBKDF2, the AF diffuser and digests: the shared set, with their digest sizes. */
export const LUKS2_HASHES = LUKS_HASHES;
export type Luks2Hash = keyof typeof LUKS2_HASHES;
/**
 * Header checksum algorithms we verify (node:crypto names, the same as cryptsetup's): the checksum needs only a hash, so every
 * one cryptsetup's backends share with Node.js whose digest fits the 64-byte field. cryptsetup writes sha256.
 */
export const LUKS2_CHECKSUM_ALGORITHMS = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  'sha3-224': 28,
  'sha3-256': 32,
  'sha3-384': 48,
  'sha3-512': 64,
} as const;
export type Luks2ChecksumAlgorithm = keyof typeof LUKS2_CHECKSUM_ALGORITHMS;

export const LUKS2_KDF_TYPES = ['pbkdf2', 'argon2i', 'argon2id'] as const;
export type Luks2KdfType = (typeof LUKS2_KDF_TYPES)[number];

/** Key-slot area ciphers our sector cipher implements: the shared cipher table's, as cryptsetup spells them in LUKS2 JSON. */
export const LUKS2_AREA_CIPHERS: readonly CipherSpec[] = CIPHER_SPECS;
export type Luks2AreaCipher = CipherSpec;

/** Segment sector sizes dm-crypt supports. */
export const LUKS2_SECTOR_SIZES = [512, 1024, 2048, 4096] as const;
export type Luks2SectorSize = (typeof LUKS2_SECTOR_SIZES)[number];

