// The command table of split-dm-crypt-luks: each command's options and positionals, parsed into typed options.
import { integerOption, parseArgv, stringOption, type OptionSpec, type ParsedArgv } from '../../shared/argv.ts';
import { UsageError } from '../../shared/errors.ts';
import { DEFAULT_ITER_TIME_MS, type LuksType } from '../../shared/protocol/contract.ts';
import { newVolumeCipherKey, type MappedCipherKey } from '../../shared/luks-common/ciphers.ts';
import { MAX_PBKDF2_ITERATIONS, type LuksHash } from '../../shared/luks-common/constants.ts';
import { validateForcedIterations, type KdfRequest } from '../../shared/luks/index.ts';
import { LUKS2_SECTOR_SIZES, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM, MIN_ARGON2_MEMORY_KIB, type Luks2KdfType, type Luks2SectorSize } from '../../shared/luks2/constants.ts';


/** The type `format` makes without --type: LUKS2, as cryptsetup (since 2.1) and qvm-block-split. */
export const DEFAULT_FORMAT_TYPE: LuksType = 'luks2';

export const USAGE = `usage: split-dm-crypt-luks <command> FILE [options]

commands:
  dump FILE                                  header fields and key slots as JSON (no secrets)
  unlock FILE [--key-file PATH] [--key-slot N] [--dump-volume-key]
  format FILE [--type luks1|luks2] [--key-file PATH] [--cipher aes-xts-plain64|xchacha12,aes-adiantum-plain64]
              [--key-size 256|512 (Adiantum: 256)] [--hash sha1|sha256|sha512]
              [--sector-size 512|4096] [KDF options] [--force]
  add-key FILE [--key-file PATH] [--new-key-file PATH] [--key-slot N] [KDF options]
  remove-key FILE [--key-file PATH] [--force]
  change-key FILE [--key-file PATH] [--new-key-file PATH] [KDF options]

KDF options: [--pbkdf argon2id|argon2i|pbkdf2] [--pbkdf-memory KiB] [--pbkdf-parallel N]
             [--iter-time MS | --pbkdf-force-iterations N]   (N: PBKDF2 iterations, or Argon2 passes 4-32)
LUKS1 and LUKS2 volumes are told apart by their header; format makes ${DEFAULT_FORMAT_TYPE} unless --type says otherwise.
LUKS2 key slots use argon2id by default (256 MiB, 4 lanes); LUKS1 always uses pbkdf2.
On a terminal, passphrases are asked for as cryptsetup asks them (not echoed; a new one twice). Otherwise they are read from
standard input, one per line (existing first, then new), without verification.
Exit codes: 0 success, 1 invalid or unsupported header or failed operation, 2 no key slot matches, 64 usage error.`;

export interface IterationChoice {
  readonly iterTimeMs: number;
  readonly forcedIterations: number | undefined;
}

/** Argon2/PBKDF2 choice for a new key slot; undefined fields take the volume type's defaults. */
export interface KdfOptions {
  readonly pbkdf?: Luks2KdfType;
  readonly memoryKiB?: number;
  readonly parallel?: number;
}

export type LuksCommand =
  | { readonly command: 'dump'; readonly file: string }
  | { readonly command: 'unlock'; readonly file: string; readonly keyFile?: string; readonly keySlot?: number; readonly dumpVolumeKey: boolean }
  | { readonly command: 'format'; readonly file: string; readonly type: LuksType; readonly keyFile?: string; readonly key: MappedCipherKey; readonly hash: LuksHash; readonly sectorSize: Luks2SectorSize; readonly kdf: KdfOptions; readonly iterations: IterationChoice; readonly force: boolean }
  | { readonly command: 'add-key'; readonly file: string; readonly keyFile?: string; readonly newKeyFile?: string; readonly keySlot?: number; readonly kdf: KdfOptions; readonly iterations: IterationChoice }
  | { readonly command: 'remove-key'; readonly file: string; readonly keyFile?: string; readonly force: boolean }
  | { readonly command: 'change-key'; readonly file: string; readonly keyFile?: string; readonly newKeyFile?: string; readonly kdf: KdfOptions; readonly iterations: IterationChoice }
  | { readonly command: 'help' }
  | { readonly command: 'version' };

const ITERATION_OPTIONS = { 'iter-time': 'string', 'pbkdf-force-iterations': 'string', pbkdf: 'string', 'pbkdf-memory': 'string', 'pbkdf-parallel': 'string' } as const;
const SPECS: Record<Exclude<LuksCommand['command'], 'help' | 'version'>, OptionSpec> = {
  dump: {},
  unlock: { 'key-file': 'string', 'key-slot': 'string', 'dump-volume-key': 'boolean' },
  format: { type: 'string', 'key-file': 'string', cipher: 'string', 'key-size': 'string', hash: 'string', 'sector-size': 'string', force: 'boolean', ...ITERATION_OPTIONS },
  'add-key': { 'key-file': 'string', 'new-key-file': 'string', 'key-slot': 'string', ...ITERATION_OPTIONS },
  'remove-key': { 'key-file': 'string', force: 'boolean' },
  'change-key': { 'key-file': 'string', 'new-key-file': 'string', ...ITERATION_OPTIONS },
};

/** The facade's KDF request from the command's options (the version's defaults fill what is left undefined). */
export function kdfRequestOf(kdf: KdfOptions, iterations: IterationChoice): KdfRequest {
  return { ...kdf, iterTimeMs: iterations.iterTimeMs, forcedIterations: iterations.forcedIterations };
}

function normalizeIterations(parsed: ParsedArgv, pbkdf: Luks2KdfType | undefined): IterationChoice {
  const iterTimeMs = integerOption(parsed, 'iter-time', 1, 600_000);
  const forcedIterations = integerOption(parsed, 'pbkdf-force-iterations', 1, MAX_PBKDF2_ITERATIONS);
  if (iterTimeMs !== undefined && forcedIterations !== undefined) throw new UsageError('--iter-time and --pbkdf-force-iterations exclude each other');
  // Without --pbkdf on add-key/change-key the KDF depends on the volume's type: checked again once it is known.
  validateForcedIterations(pbkdf ?? (forcedIterations !== undefined && forcedIterations < 1000 ? 'argon2id' : 'pbkdf2'), forcedIterations);
  return { iterTimeMs: iterTimeMs ?? DEFAULT_ITER_TIME_MS, forcedIterations };
}

function normalizeKdf(parsed: ParsedArgv): KdfOptions {
  const raw = stringOption(parsed, 'pbkdf');
  if (raw !== undefined && raw !== 'pbkdf2' && raw !== 'argon2i' && raw !== 'argon2id') throw new UsageError(`option --pbkdf expects argon2id, argon2i or pbkdf2, received '${raw}'`);
  const memoryKiB = integerOption(parsed, 'pbkdf-memory', MIN_ARGON2_MEMORY_KIB, MAX_ARGON2_MEMORY_KIB);
  const parallel = integerOption(parsed, 'pbkdf-parallel', 1, MAX_ARGON2_PARALLELISM);
  if (raw === 'pbkdf2' && (memoryKiB !== undefined || parallel !== undefined)) throw new UsageError('--pbkdf-memory and --pbkdf-parallel apply to argon2 only, received --pbkdf pbkdf2');
  return { ...(raw ? { pbkdf: raw } : {}), ...(memoryKiB === undefined ? {} : { memoryKiB }), ...(parallel === undefined ? {} : { parallel }) };
}

function normalizeType(parsed: ParsedArgv): LuksType {
  const raw = stringOption(parsed, 'type') ?? DEFAULT_FORMAT_TYPE;
  if (raw === 'luks1' || raw === 'luks2') return raw;
  throw new UsageError(`option --type expects luks1 or luks2, received '${raw}'`);
}

function normalizeSectorSize(parsed: ParsedArgv, type: LuksType): Luks2SectorSize {
  const raw = stringOption(parsed, 'sector-size');
  if (raw === undefined) return 512;
  const size = LUKS2_SECTOR_SIZES.find((allowed) => String(allowed) === raw);
  if (size === undefined) throw new UsageError(`option --sector-size expects 512, 1024, 2048 or 4096, received '${raw}'`);
  if (type === 'luks1' && size !== 512) throw new UsageError(`option --sector-size ${size} needs --type luks2 (LUKS1 sectors are 512 bytes)`);
  return size;
}

/** format's options: the type decides which KDFs and sector sizes are allowed. */
function normalizeFormat(parsed: ParsedArgv) {
  const type = normalizeType(parsed);
  const kdf = normalizeKdf(parsed);
  if (type === 'luks1' && kdf.pbkdf !== undefined && kdf.pbkdf !== 'pbkdf2') throw new UsageError(`option --pbkdf ${kdf.pbkdf} needs --type luks2 (LUKS1 uses pbkdf2)`);
  if (type === 'luks1' && (kdf.memoryKiB !== undefined || kdf.parallel !== undefined)) throw new UsageError('--pbkdf-memory and --pbkdf-parallel need --type luks2');
  const pbkdf = kdf.pbkdf ?? (type === 'luks1' ? 'pbkdf2' : 'argon2id');
  return { type, kdf, sectorSize: normalizeSectorSize(parsed, type), iterations: normalizeIterations(parsed, pbkdf) };
}

/** The hash of format: sha512 for LUKS1 (as before), sha256 for LUKS2 (cryptsetup's LUKS2 default). */
function normalizeHash(parsed: ParsedArgv, type: LuksType = 'luks1'): LuksHash {
  const raw = stringOption(parsed, 'hash') ?? (type === 'luks2' ? 'sha256' : 'sha512');
  if (raw === 'sha1' || raw === 'sha256' || raw === 'sha512') return raw;
  throw new UsageError(`option --hash expects sha1, sha256 or sha512, received '${raw}'`);
}

function keySlotOf(parsed: ParsedArgv): number | undefined {
  return integerOption(parsed, 'key-slot', 0, 7);
}

/** Parses raw arguments into one typed command. */
export function parseLuksCommand(rawArguments: readonly string[]): LuksCommand {
  const [name, ...rest] = rawArguments;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return { command: 'help' };
  if (name === '--version') return { command: 'version' };
  if (!Object.hasOwn(SPECS, name)) throw new UsageError(`unknown command '${name}'`);
  const command = name as keyof typeof SPECS;
  const parsed = parseArgv(rest, SPECS[command]);
  if (parsed.positionals.length !== 1) throw new UsageError(`${command} expects exactly one FILE, received ${parsed.positionals.length} arguments`);
  const file = parsed.positionals[0]!;
  const keyFile = stringOption(parsed, 'key-file');
  const newKeyFile = stringOption(parsed, 'new-key-file');
  const force = parsed.options.force === true;
  switch (command) {
    case 'dump':
      return { command, file };
    case 'unlock':
      return { command, file, keyFile, keySlot: keySlotOf(parsed), dumpVolumeKey: parsed.options['dump-volume-key'] === true };
    case 'format':
      return { command, file, keyFile, key: newVolumeCipherKey(stringOption(parsed, 'cipher'), stringOption(parsed, 'key-size'), normalizeType(parsed)), hash: normalizeHash(parsed, normalizeType(parsed)), ...normalizeFormat(parsed), force };
    case 'add-key': {
      const kdf = normalizeKdf(parsed);
      return { command, file, keyFile, newKeyFile, keySlot: keySlotOf(parsed), kdf, iterations: normalizeIterations(parsed, kdf.pbkdf) };
    }
    case 'remove-key':
      return { command, file, keyFile, force };
    case 'change-key': {
      const kdf = normalizeKdf(parsed);
      return { command, file, keyFile, newKeyFile, kdf, iterations: normalizeIterations(parsed, kdf.pbkdf) };
    }
  }
}
