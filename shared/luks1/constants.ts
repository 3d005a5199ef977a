// LUKS1 on-disk constants (cryptsetup's LUKS1 spec 1.2.3) and the caps we put on attacker-controlled values.

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
export const SECTOR_BYTES = 512;

/**
 * Bytes of a LUKS1 volume that count as "the header area": what the device VM sends, what overwrite-header-* replaces.
 * It is the end of key slot 7 in cryptsetup's layout for 64-byte keys (4040 sectors), the largest LUKS1 layout cryptsetup makes,
 * and the size the original split dm-crypt uses, so the two tools agree on what a header is.
 */
export const LUKS1_HEADER_AREA_BYTES = 4040 * SECTOR_BYTES;

/**
 * Ceiling on PBKDF2 iterations read from an untrusted header (key slots and the volume-key digest). 2^26 is about ten times what
 * cryptsetup's 5000 ms benchmark picks for sha256 on a current desktop core; a header asking for more is either hostile (it would pin the
 * header DisposableVM's CPU for minutes per slot) or from hardware far faster than any Qubes machine.
 */
export const MAX_PBKDF2_ITERATIONS = 2 ** 26;

/** cryptsetup never writes fewer than 1000 iterations for the volume-key digest; we never write fewer either. */
export const MIN_DIGEST_ITERATIONS = 1000;

/** Key sizes cryptsetup uses per mode; anything else is refused before any allocation depends on it. */
export const KEY_BYTES_BY_MODE = {
  xts: [32, 64],
  cbc: [16, 24, 32],
} as const;

/** The largest key we accept (AES-256-XTS): caps the AF material a slot can make us read (64 * 4000 bytes). */
export const MAX_KEY_BYTES = 64;

export const LUKS1_CIPHER_NAMES = ['aes'] as const;
export type Luks1CipherName = (typeof LUKS1_CIPHER_NAMES)[number];

export const LUKS1_CIPHER_MODES = ['xts-plain64', 'xts-plain', 'cbc-essiv:sha256', 'cbc-plain', 'cbc-plain64'] as const;
export type Luks1CipherMode = (typeof LUKS1_CIPHER_MODES)[number];

/** Hashes for PBKDF2 and the AF diffuser, with their digest sizes (the spec requires at least 20 bytes). */
export const LUKS1_HASHES = { sha1: 20, sha256: 32, sha512: 64 } as const;
export type Luks1Hash = keyof typeof LUKS1_HASHES;

/** Names that are real LUKS1 choices we deliberately do not implement: refused as "unsupported", not as "invalid". */
export const KNOWN_UNSUPPORTED_CIPHERS = ['serpent', 'twofish', 'cast5', 'cast6', 'blowfish', 'des3_ede', 'camellia', 'sm4'];
export const KNOWN_UNSUPPORTED_HASHES = ['ripemd160', 'whirlpool', 'sha224', 'sha384', 'stribog256', 'stribog512', 'sm3', 'blake2b-512'];
