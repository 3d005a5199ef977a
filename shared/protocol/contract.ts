// What dom0 and the VMs must agree on without a message to carry it: device names, secret caps, defaults. Each is defined here
// once; both sides import it, so a change on one side of the wire cannot silently disagree with the other.

/** The LUKS versions dom0 asks for (--type) and the header VM's service argument names. */
export const LUKS_TYPES = ['luks1', 'luks2'] as const;
export type LuksType = (typeof LUKS_TYPES)[number];

/**
 * The frontend name the source disk gets in the device VM (dom0: qvm-block attach -o frontend-dev=xvds); the device VM's services
 * read exactly /dev/xvds and nothing else, so the two sides must name the same device.
 */
export const SOURCE_FRONTEND = 'xvds';

/** Longest passphrase: cryptsetup's interactive limit is 512 characters; dom0 refuses longer input, the header VM too. */
export const MAX_PASSPHRASE_BYTES = 512;

/** cryptsetup's default key-file limit (--keyfile-size), for key files dom0 reads and sends and the CLI reads. */
export const MAX_KEY_FILE_BYTES = 8 * 1024 * 1024;

/**
 * The unlock time a new key slot is tuned for when neither --iter-time nor --pbkdf-force-iterations is given: the original split
 * dm-crypt's 5 s (cryptsetup's LUKS2 default is 2 s). dom0 sizes its wait for a format from it; the header VM benchmarks for it.
 */
export const DEFAULT_ITER_TIME_MS = 5000;
