// What LUKS1 and LUKS2 share below their header formats: the hashes of PBKDF2, the AF splitter and the digest, the PBKDF2 bounds
// and the key-size cap (the ciphers are tabled in ciphers.ts). luks1/ and luks2/ name their allowlists after these, never a copy.

export const SECTOR_BYTES = 512;

/** Hashes for PBKDF2, the AF diffuser and the volume-key digest, with their digest sizes (the LUKS1 spec requires at least 20 bytes). */
export const LUKS_HASHES = { sha1: 20, sha256: 32, sha512: 64 } as const;
export type LuksHash = keyof typeof LUKS_HASHES;

/**
 * Ceiling on PBKDF2 iterations read from an untrusted header (key slots and the volume-key digest). 2^26 is about ten times what
 * cryptsetup's 5000 ms benchmark picks for sha256 on a current desktop core; a header asking for more is either hostile (it would pin the
 * header DisposableVM's CPU for minutes per slot) or from hardware far faster than any Qubes machine.
 */
export const MAX_PBKDF2_ITERATIONS = 2 ** 26;

/** cryptsetup never writes fewer than 1000 iterations for the volume-key digest; we never write fewer either. */
export const MIN_DIGEST_ITERATIONS = 1000;

/** The largest key we accept (AES-256-XTS): caps the AF material a slot can make us read (64 * 4000 bytes). */
export const MAX_KEY_BYTES = 64;
