// The messages between dom0 and the services, one zod schema each. Every schema is strict: unknown fields are refused.
import type { MappedCipherKey } from '../luks-common/ciphers.ts';
import { PIN_PATTERN } from '../volume-pin.ts';
import { z } from 'zod';
import { NONCE_BYTES, PUBLIC_KEY_BYTES, sealedLength } from '../sealed-box-sizes.ts';
import { LUKS_TYPES, MAX_KEY_FILE_BYTES } from './contract.ts';

/** Caps on frame bodies, checked before reading: control messages are tiny; only a sealed key file is large. */
export const MAX_CONTROL_FRAME_BYTES = 4096;
export const MAX_SECRET_FRAME_BYTES = MAX_KEY_FILE_BYTES + 1024;
/** Longest error text a service may send; longer texts are refused by the schema, shorter ones are sanitized before display. */
export const MAX_ERROR_MESSAGE_CHARS = 600;

const version = { v: z.literal(1) };
const bytes = (length: number) => z.instanceof(Uint8Array).refine((b) => b.length === length, `must be ${length} bytes`);
const boxOf = (lengths: readonly number[]) =>
  z.object({
    senderPublicKey: bytes(PUBLIC_KEY_BYTES),
    nonce: bytes(NONCE_BYTES),
    box: z.instanceof(Uint8Array).refine((b) => lengths.includes(b.length), `box length must be one of ${lengths.join(', ')}`),
  }).strict();

const LuksTypeSchema = z.enum(LUKS_TYPES);

/**
 * A volume key's cipher and size, typed per cipher as the device VM maps it (shared/luks-common/ciphers.ts, the one table):
 * AES-XTS with 256 or 512 bits, Adiantum with 256. Never a free-form cipher string: the dm table names only these.
 */
export const MappedKey = z.union([
  z.object({ cipher: z.literal('aes-xts-plain64'), keyBytes: z.union([z.literal(32), z.literal(64)]) }).strict(),
  z.object({ cipher: z.literal('xchacha12,aes-adiantum-plain64'), keyBytes: z.literal(32) }).strict(),
]);
// The schema is the table's mapped rows exactly: a row added to the table and not here (or the reverse) fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesTable: Same<z.infer<typeof MappedKey>, MappedCipherKey> = true;
void schemaMatchesTable;

/** The sizes of a volume key we map; its sealed box has exactly one of these lengths. */
export const MAPPABLE_KEY_BYTES = [32, 64] as const;
export const SealedVolumeKey = boxOf(MAPPABLE_KEY_BYTES.map(sealedLength));
export const SealedSecret = z.object({
  senderPublicKey: bytes(PUBLIC_KEY_BYTES),
  nonce: bytes(NONCE_BYTES),
  box: z.instanceof(Uint8Array).refine((b) => b.length >= sealedLength(0) && b.length <= sealedLength(MAX_KEY_FILE_BYTES), 'box length out of range'),
}).strict();

/** dm names we create: our own prefix plus a short random part; nothing a peer could use to reach another device. */
export const MappingName = z.string().regex(/^split-dm-crypt-[a-z0-9-]{1,48}$/);
export const KernelDeviceName = z.string().regex(/^dm-[0-9]{1,4}$/);
const Sectors = z.number().int().min(1).max(2 ** 48);

export const ErrorKind = z.enum(['usage', 'parse', 'unsupported', 'wrong-passphrase', 'refused', 'failure']);
export const ErrorReply = z.object({ ...version, type: z.literal('error'), kind: ErrorKind, message: z.string().max(MAX_ERROR_MESSAGE_CHARS) }).strict();
export type ErrorReply = z.infer<typeof ErrorReply>;

// Device VM.
export const DevicePrepareRequest = z.object({ ...version, type: z.literal('device-prepare') }).strict();
export const DevicePrepared = z.object({
  ...version,
  type: z.literal('device-prepared'),
  publicKey: bytes(PUBLIC_KEY_BYTES),
  partitionScan: z.enum(['disabled', 'allowed-by-config']),
}).strict();

/**
 * The header transfer, in steps: the device VM describes the source disk, then sends exactly the ranges dom0 asks for (never past
 * MAX_HEADER_TRANSFER_BYTES); dom0 asks for what the header VM declares it needs (HeaderNeed), so no VM ever receives data bytes.
 */
export const SendHeaderRequest = z.object({ ...version, type: z.literal('send-header') }).strict();
/**
 * What the device VM sees of the source disk before reading it: its size, whether the kernel holds it read-only, and the partition
 * devices a scanning kernel made (only under the template's opt-out). dom0 shows the size before any destructive step.
 */
export const SourceDescribed = z.object({
  ...version,
  type: z.literal('source-described'),
  diskBytes: z.number().int().min(0).max(2 ** 53 - 1),
  readOnly: z.boolean(),
  scannedPartitions: z.array(z.string().regex(/^[a-z0-9]{1,32}$/)).max(256),
}).strict();
export type SourceDescribed = z.infer<typeof SourceDescribed>;
export const DescribeRequest = z.object({ ...version, type: z.literal('describe-source') }).strict();
/** The first bytes dom0 offers a header VM unasked: both LUKS versions' fixed binary headers fit (592 and 4096 bytes). */
export const HEADER_PROBE_BYTES = 4096;
/** The most of a disk's start any VM is sent as "header": the largest LUKS2 header area we accept (cryptsetup's default data offset). */
export const MAX_HEADER_TRANSFER_BYTES = 16 * 1024 * 1024;
/**
 * How often a header VM may ask for more: LUKS2 needs the binary header, both copies and the key-slot area; with its primary
 * destroyed, one request per place the secondary may start (9), then that copy's own needs. Each must ask for more than before.
 */
export const MAX_HEADER_NEED_ROUNDS = 16;
export const ReadHeaderRange = z.object({
  ...version,
  type: z.literal('read-header'),
  offset: z.number().int().min(0).max(MAX_HEADER_TRANSFER_BYTES),
  length: z.number().int().min(1).max(MAX_HEADER_TRANSFER_BYTES),
}).strict();
export const ReadHeaderDone = z.object({ ...version, type: z.literal('read-done') }).strict();
/** From a header VM: it needs the disk's first `bytes` bytes in all (more than it has). dom0 caps, counts and serves it. */
export const HeaderNeed = z.object({ ...version, type: z.literal('header-need'), bytes: z.number().int().min(1).max(MAX_HEADER_TRANSFER_BYTES) }).strict();
export const BytesFollow = z.object({ ...version, type: z.literal('bytes'), length: z.number().int().min(0).max(64 * 1024 * 1024) }).strict();

export const VolumePin = z.string().regex(PIN_PATTERN);

export const DeviceOpenRequest = z.object({
  ...version,
  type: z.literal('device-open'),
  name: MappingName,
  sealedKey: SealedVolumeKey,
  key: MappedKey,
  payloadOffset: Sectors,
  sectorSize: z.union([z.literal(512), z.literal(4096)]),
  readOnly: z.boolean(),
  /** A known volume's pin (shared/volume-pin.ts): the device VM maps nothing unless the key and layout give this pin. */
  expectedPin: VolumePin.optional(),
}).strict();
export const DeviceOpened = z.object({
  ...version,
  type: z.literal('device-opened'),
  name: MappingName,
  device: KernelDeviceName,
  sizeSectors: Sectors,
  readOnly: z.boolean(),
  /** The pin of the key and layout mapped, for dom0 to remember. */
  pin: VolumePin,
}).strict();
/** The key or layout does not give the expected pin: nothing was mapped. */
export const DevicePinMismatch = z.object({ ...version, type: z.literal('device-pin-mismatch') }).strict();

export const DeviceCloseRequest = z.object({ ...version, type: z.literal('device-close'), name: MappingName }).strict();
export const DeviceClosed = z.object({ ...version, type: z.literal('device-closed'), attempts: z.number().int().min(1).max(1000) }).strict();

/** `expectedBytes`: the size the user confirmed; the device VM refuses to write a byte to a disk of any other size. */
export const DeviceWipeRequest = z.object({ ...version, type: z.literal('device-wipe'), expectedBytes: z.number().int().min(1).max(2 ** 53 - 1) }).strict();
export const Progress = z.object({ ...version, type: z.literal('progress'), done: z.number().int().min(0), total: z.number().int().min(0) }).strict();
export const DeviceWiped = z.object({ ...version, type: z.literal('device-wiped'), bytes: z.number().int().min(0) }).strict();

/**
 * Replaces the first `length` bytes of the source disk: random bytes made in the device VM (crypto-shredding) or the bytes that
 * follow. `expectedBytes` is the disk size the user confirmed; any other size is refused before a byte is written.
 */
export const WriteHeaderRequest = z.object({
  ...version,
  type: z.literal('write-header'),
  source: z.enum(['random', 'bytes']),
  length: z.number().int().min(1).max(MAX_HEADER_TRANSFER_BYTES),
  expectedBytes: z.number().int().min(1).max(2 ** 53 - 1),
}).strict();
export const HeaderWritten = z.object({ ...version, type: z.literal('header-written'), bytes: z.number().int().min(0) }).strict();

// Header VM.
/** `new-key-file`: the new secret of a key-slot change given as a key file (--new-key-file), told apart from the existing one's. */
export const SecretKind = z.enum(['passphrase', 'key-file', 'new-passphrase', 'confirm-passphrase', 'new-key-file']);
export type SecretKind = z.infer<typeof SecretKind>;

export const UnlockRequest = z.object({
  ...version,
  type: z.literal('unlock-request'),
  luksType: LuksTypeSchema,
  devicePublicKey: bytes(PUBLIC_KEY_BYTES),
  secretKind: z.enum(['passphrase', 'key-file']),
}).strict();
/** `attempt` is the VM's own count, for its logs only: dom0 numbers attempts itself and never trusts this field. */
export const SecretRequest = z.object({
  ...version,
  type: z.literal('secret-request'),
  publicKey: bytes(PUBLIC_KEY_BYTES),
  kind: SecretKind,
  attempt: z.number().int().min(1).max(3),
}).strict();
export type SecretRequest = z.infer<typeof SecretRequest>;
export const SecretReply = z.object({ ...version, type: z.literal('secret'), sealed: SealedSecret }).strict();

/** A key slot as a header VM describes it: what it costs to try, so dom0 can show it and bound its wait. */
export const KeyslotSummary = z.object({
  id: z.number().int().min(0).max(31),
  kdf: z.enum(['pbkdf2', 'argon2i', 'argon2id']),
  /** PBKDF2 iterations, or Argon2 passes. */
  iterations: z.number().int().min(1).max(2 ** 32),
  /** Argon2 only. */
  memoryKiB: z.number().int().min(0).max(4 * 1024 * 1024),
  parallel: z.number().int().min(0).max(64),
  hash: z.string().regex(/^[a-z0-9-]{1,32}$/),
  /** The cipher the slot's key material is encrypted with (LUKS1: the header's; LUKS2: the slot area's). */
  areaCipher: z.string().regex(/^[a-z0-9:,-]{1,64}$/),
}).strict();
export type KeyslotSummary = z.infer<typeof KeyslotSummary>;

/**
 * What a header VM parsed, sent once the transfer is complete and before any secret is asked: enough to recognise and map the
 * volume, nothing secret. `dataOffset` counts 512-byte sectors; `headerBytes` is the header's own extent (what a header write
 * may replace: LUKS1 up to its payload or 2068480 bytes, LUKS2 up to its data offset, capped at MAX_HEADER_TRANSFER_BYTES).
 */
export const HeaderParsed = z.object({
  ...version,
  type: z.literal('header-parsed'),
  luksType: LuksTypeSchema,
  uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  cipher: z.string().regex(/^[a-z0-9:,-]{1,64}$/),
  /** 0 when a LUKS2 header has no key slot (only HeaderInspect reports such a header). */
  keyBytes: z.number().int().min(0).max(128),
  dataOffset: z.number().int().min(0).max(2 ** 48),
  sectorSize: z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]),
  headerBytes: z.number().int().min(512).max(MAX_HEADER_TRANSFER_BYTES),
  keyslots: z.array(KeyslotSummary).max(32),
  /** Which LUKS2 header copy was used ('primary' for LUKS1); anything else than primary is said to the user. */
  copy: z.enum(['primary', 'secondary']),
  warnings: z.array(z.string().max(200)).max(8),
}).strict();
export type HeaderParsed = Omit<z.infer<typeof HeaderParsed>, 'v'>;
/** From HeaderInspect: the bytes hold no LUKS header in any copy we (or cryptsetup) would load. */
export const HeaderAbsent = z.object({ ...version, type: z.literal('header-absent'), reason: z.string().max(300) }).strict();

/** Sent before each key slot is tried: its id and the header VM's estimate of the time it takes (dom0 bounds its wait by it). */
export const UnlockProgress = z.object({
  ...version,
  type: z.literal('unlock-progress'),
  keyslot: z.number().int().min(0).max(31),
  expectedMs: z.number().int().min(0).max(2 ** 31),
}).strict();
/** The volume key, sealed to the device VM; the layout it is mapped with is the one HeaderParsed announced. */
export const Unlocked = z.object({
  ...version,
  type: z.literal('unlocked'),
  keyslot: z.number().int().min(0).max(31),
  sealedKey: SealedVolumeKey,
}).strict();
export type Unlocked = z.infer<typeof Unlocked>;

/** HeaderInspect: parse what follows (served in steps, as for unlock) and say what it is; nothing secret is involved. */
export const InspectRequest = z.object({ ...version, type: z.literal('inspect-request') }).strict();

/**
 * Sent by HeaderFormat about four times a second while it benchmarks and derives the new key slot: time spent, and the time it
 * expects in all (0 when forced iterations leave it unknown). Only displayed by dom0. They keep coming while Argon2 computes:
 * it runs on a worker thread (shared/luks2/argon2-worker.ts).
 */
export const FormatProgress = z.object({
  ...version,
  type: z.literal('format-progress'),
  elapsedMs: z.number().int().min(0).max(2 ** 31),
  expectedMs: z.number().int().min(0).max(2 ** 31),
}).strict();
export type FormatProgress = z.infer<typeof FormatProgress>;

export const FormatRequest = z.object({
  ...version,
  type: z.literal('format-request'),
  luksType: LuksTypeSchema,
  /** The new volume's data cipher and key size (the header VM refuses Adiantum for LUKS1). */
  key: MappedKey,
  hash: z.enum(['sha256', 'sha512']),
  /** The new key slot's secret: a passphrase typed twice, or a key file's bytes. */
  secretKind: z.enum(['passphrase', 'key-file']),
  iterTimeMs: z.number().int().min(1).max(600_000).optional(),
  /** PBKDF2 iterations (>= 1000) or Argon2 passes (4..32), as cryptsetup's --pbkdf-force-iterations. */
  forcedIterations: z.number().int().min(1).max(2 ** 26).optional(),
  /** LUKS2 only: the key slot's KDF (argon2id by default), Argon2 memory, and the data segment's sector size. */
  pbkdf: z.enum(['pbkdf2', 'argon2i', 'argon2id']).optional(),
  pbkdfMemoryKiB: z.number().int().min(32).max(1024 * 1024).optional(),
  sectorSize: z.union([z.literal(512), z.literal(4096)]).optional(),
}).strict();
export type FormatRequest = z.infer<typeof FormatRequest>;

// Header VM, key-slot changes (add-key, remove-key, change-key, upgrade): the header goes in, in steps, as for unlock; the header
// VM reports it, asks for the existing secret (and, for add and change, the new one), and returns the new header area whole.
export const KEYSLOT_OPERATIONS = ['add', 'remove', 'change', 'upgrade'] as const;
export type KeyslotOperation = (typeof KEYSLOT_OPERATIONS)[number];
export const KeyslotsRequest = z.object({
  ...version,
  type: z.literal('keyslots-request'),
  operation: z.enum(KEYSLOT_OPERATIONS),
  /** The existing secret's kind. */
  secretKind: z.enum(['passphrase', 'key-file']),
  /** add and change only: the new secret's kind. */
  newSecretKind: z.enum(['new-passphrase', 'new-key-file']).optional(),
  /** add only: the key slot to fill (default: the lowest free one). */
  keySlot: z.number().int().min(0).max(31).optional(),
  /** remove only: the last key slot may go. */
  force: z.boolean(),
  /** The new key slot's KDF (add, change; upgrade: its cost only, argon2id always), as in FormatRequest. */
  iterTimeMs: z.number().int().min(1).max(600_000).optional(),
  forcedIterations: z.number().int().min(1).max(2 ** 26).optional(),
  pbkdf: z.enum(['pbkdf2', 'argon2i', 'argon2id']).optional(),
  pbkdfMemoryKiB: z.number().int().min(32).max(1024 * 1024).optional(),
}).strict();
export type KeyslotsRequest = z.infer<typeof KeyslotsRequest>;

// Header VM, the *-header-with-shell commands: the header area goes in, a shell edits it, the edited area comes back, and a fresh
// header VM that never ran a shell (HeaderInspect) says what it is.
export const ShellPutRequest = z.discriminatedUnion('start', [
  /** Random bytes made in the header VM (overwrite-header-with-shell), `length` of them. */
  z.object({ ...version, type: z.literal('shell-put'), luksType: LuksTypeSchema, start: z.literal('random'), length: z.number().int().min(1).max(MAX_HEADER_TRANSFER_BYTES) }).strict(),
  /** The disk's own header, served in steps (modify-header-with-shell); `fallbackBytes` when it does not parse. */
  z.object({ ...version, type: z.literal('shell-put'), luksType: LuksTypeSchema, start: z.literal('disk'), fallbackBytes: z.number().int().min(1).max(MAX_HEADER_TRANSFER_BYTES) }).strict(),
]);
export const ShellReady = z.object({ ...version, type: z.literal('shell-ready'), bytes: z.number().int().min(0).max(MAX_HEADER_TRANSFER_BYTES) }).strict();
export const ShellTakeRequest = z.object({ ...version, type: z.literal('shell-take'), luksType: LuksTypeSchema }).strict();
