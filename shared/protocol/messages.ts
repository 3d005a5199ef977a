// The messages between dom0 and the services, one zod schema each. Every schema is strict: unknown fields are refused.
import { z } from 'zod';
import { NONCE_BYTES, PUBLIC_KEY_BYTES, sealedLength } from '../seal.ts';

/** Caps on frame bodies, checked before reading: control messages are tiny; only a sealed key file is large. */
export const MAX_CONTROL_FRAME_BYTES = 4096;
/** cryptsetup's default key-file limit, which we keep for key files sent to the header VM. */
export const MAX_KEY_FILE_BYTES = 8 * 1024 * 1024;
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

export const LuksType = z.enum(['luks1', 'luks2']);
export type LuksType = z.infer<typeof LuksType>;

/** A volume key we map: AES-XTS with 256 or 512 bits; its sealed box has exactly one of these lengths. */
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

export const SendHeaderRequest = z.object({ ...version, type: z.literal('send-header'), luksType: LuksType }).strict();
/** What the device VM's defence-in-depth check found before reading the disk: partition devices exist only under the opt-out. */
export const SourceChecked = z.object({
  ...version,
  type: z.literal('source-checked'),
  scannedPartitions: z.array(z.string().regex(/^[a-z0-9]{1,32}$/)).max(256),
}).strict();
export const BytesFollow = z.object({ ...version, type: z.literal('bytes'), length: z.number().int().min(0).max(64 * 1024 * 1024) }).strict();

export const DeviceOpenRequest = z.object({
  ...version,
  type: z.literal('device-open'),
  name: MappingName,
  sealedKey: SealedVolumeKey,
  cipher: z.literal('aes-xts-plain64'),
  keyBytes: z.union([z.literal(32), z.literal(64)]),
  payloadOffset: Sectors,
  sectorSize: z.union([z.literal(512), z.literal(4096)]),
  readOnly: z.boolean(),
}).strict();
export const DeviceOpened = z.object({
  ...version,
  type: z.literal('device-opened'),
  name: MappingName,
  device: KernelDeviceName,
  sizeSectors: Sectors,
  readOnly: z.boolean(),
}).strict();

export const DeviceCloseRequest = z.object({ ...version, type: z.literal('device-close'), name: MappingName }).strict();
export const DeviceClosed = z.object({ ...version, type: z.literal('device-closed'), attempts: z.number().int().min(1).max(1000) }).strict();

export const DeviceWipeRequest = z.object({ ...version, type: z.literal('device-wipe') }).strict();
export const Progress = z.object({ ...version, type: z.literal('progress'), done: z.number().int().min(0), total: z.number().int().min(0) }).strict();
export const DeviceWiped = z.object({ ...version, type: z.literal('device-wiped'), bytes: z.number().int().min(0) }).strict();

export const WriteHeaderRequest = z.discriminatedUnion('source', [
  z.object({ ...version, type: z.literal('write-header'), luksType: LuksType, source: z.literal('random') }).strict(),
  z.object({ ...version, type: z.literal('write-header'), luksType: LuksType, source: z.literal('bytes') }).strict(),
]);
export const HeaderWritten = z.object({ ...version, type: z.literal('header-written'), bytes: z.number().int().min(0) }).strict();

// Header VM.
export const SecretKind = z.enum(['passphrase', 'key-file', 'new-passphrase', 'confirm-passphrase']);
export type SecretKind = z.infer<typeof SecretKind>;

export const UnlockRequest = z.object({
  ...version,
  type: z.literal('unlock-request'),
  luksType: LuksType,
  devicePublicKey: bytes(PUBLIC_KEY_BYTES),
  secretKind: z.enum(['passphrase', 'key-file']),
}).strict();
export const SecretRequest = z.object({
  ...version,
  type: z.literal('secret-request'),
  publicKey: bytes(PUBLIC_KEY_BYTES),
  kind: SecretKind,
  attempt: z.number().int().min(1).max(3),
}).strict();
export type SecretRequest = z.infer<typeof SecretRequest>;
export const SecretReply = z.object({ ...version, type: z.literal('secret'), sealed: SealedSecret }).strict();
export const Unlocked = z.object({
  ...version,
  type: z.literal('unlocked'),
  cipher: z.literal('aes-xts-plain64'),
  keyBytes: z.union([z.literal(32), z.literal(64)]),
  payloadOffset: Sectors,
  sectorSize: z.union([z.literal(512), z.literal(4096)]),
  keyslot: z.number().int().min(0).max(31),
  sealedKey: SealedVolumeKey,
}).strict();
export type Unlocked = z.infer<typeof Unlocked>;

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

/** A format's target unlock time when the request names neither iterTimeMs nor forcedIterations: the original's (cryptsetup's is 2000 ms for LUKS2). */
export const DEFAULT_FORMAT_ITER_TIME_MS = 5000;

export const FormatRequest = z.object({
  ...version,
  type: z.literal('format-request'),
  luksType: LuksType,
  keyBytes: z.union([z.literal(32), z.literal(64)]),
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

// Header VM, the *-header-with-shell commands: the header area goes in, a shell edits it, the edited area comes back.
export const ShellPutRequest = z.discriminatedUnion('start', [
  z.object({ ...version, type: z.literal('shell-put'), luksType: LuksType, start: z.literal('random') }).strict(),
  z.object({ ...version, type: z.literal('shell-put'), luksType: LuksType, start: z.literal('bytes') }).strict(),
]);
export const ShellReady = z.object({ ...version, type: z.literal('shell-ready'), bytes: z.number().int().min(0) }).strict();
export const ShellTakeRequest = z.object({ ...version, type: z.literal('shell-take'), luksType: LuksType }).strict();
/** What dom0 shows of an edited header before writing it: printable, bounded, nothing secret. */
export const HeaderSummary = z.object({
  ...version,
  type: z.literal('header-summary'),
  luksType: LuksType,
  uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  cipher: z.string().regex(/^[a-z0-9:-]{1,64}$/),
  keyBytes: z.number().int().min(1).max(64),
  hash: z.string().regex(/^[a-z0-9-]{1,32}$/),
  activeKeyslots: z.array(z.number().int().min(0).max(31)).max(32),
}).strict();
export type HeaderSummary = Omit<z.infer<typeof HeaderSummary>, 'v'>;
