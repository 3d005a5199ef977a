// The command table of split-dm-crypt-luks: each command's options and positionals, parsed into typed options.
import { integerOption, parseArgv, stringOption, type OptionSpec, type ParsedArgv } from '../../shared/argv.ts';
import { UsageError } from '../../shared/errors.ts';
import { MAX_PBKDF2_ITERATIONS, type Luks1Hash } from '../../shared/luks1/constants.ts';

export const USAGE = `usage: split-dm-crypt-luks <command> FILE [options]

commands:
  dump FILE                                  header fields and key slots as JSON (no secrets)
  unlock FILE [--key-file PATH] [--key-slot N] [--dump-volume-key]
  format FILE [--key-file PATH] [--key-size 256|512] [--hash sha1|sha256|sha512]
              [--iter-time MS | --pbkdf-force-iterations N] [--force]
  add-key FILE [--key-file PATH] [--new-key-file PATH] [--key-slot N] [--iter-time MS | --pbkdf-force-iterations N]
  remove-key FILE [--key-file PATH] [--force]
  change-key FILE [--key-file PATH] [--new-key-file PATH] [--iter-time MS | --pbkdf-force-iterations N]

Passphrases are read from standard input, one per line (existing first, then new).
Exit codes: 0 success, 1 invalid or unsupported header or failed operation, 2 no key slot matches, 64 usage error.`;

export interface IterationChoice {
  readonly iterTimeMs: number;
  readonly forcedIterations: number | undefined;
}

export type LuksCommand =
  | { readonly command: 'dump'; readonly file: string }
  | { readonly command: 'unlock'; readonly file: string; readonly keyFile?: string; readonly keySlot?: number; readonly dumpVolumeKey: boolean }
  | { readonly command: 'format'; readonly file: string; readonly keyFile?: string; readonly keyBytes: 32 | 64; readonly hash: Luks1Hash; readonly iterations: IterationChoice; readonly force: boolean }
  | { readonly command: 'add-key'; readonly file: string; readonly keyFile?: string; readonly newKeyFile?: string; readonly keySlot?: number; readonly iterations: IterationChoice }
  | { readonly command: 'remove-key'; readonly file: string; readonly keyFile?: string; readonly force: boolean }
  | { readonly command: 'change-key'; readonly file: string; readonly keyFile?: string; readonly newKeyFile?: string; readonly iterations: IterationChoice }
  | { readonly command: 'help' };

const ITERATION_OPTIONS = { 'iter-time': 'string', 'pbkdf-force-iterations': 'string' } as const;
const SPECS: Record<Exclude<LuksCommand['command'], 'help'>, OptionSpec> = {
  dump: {},
  unlock: { 'key-file': 'string', 'key-slot': 'string', 'dump-volume-key': 'boolean' },
  format: { 'key-file': 'string', 'key-size': 'string', hash: 'string', force: 'boolean', ...ITERATION_OPTIONS },
  'add-key': { 'key-file': 'string', 'new-key-file': 'string', 'key-slot': 'string', ...ITERATION_OPTIONS },
  'remove-key': { 'key-file': 'string', force: 'boolean' },
  'change-key': { 'key-file': 'string', 'new-key-file': 'string', ...ITERATION_OPTIONS },
};

/** The default slot unlock time, as the original split dm-crypt formats with: 5 seconds. */
export const DEFAULT_ITER_TIME_MS = 5000;

function normalizeIterations(parsed: ParsedArgv): IterationChoice {
  const iterTimeMs = integerOption(parsed, 'iter-time', 1, 600_000);
  const forcedIterations = integerOption(parsed, 'pbkdf-force-iterations', 1000, MAX_PBKDF2_ITERATIONS);
  if (iterTimeMs !== undefined && forcedIterations !== undefined) throw new UsageError('--iter-time and --pbkdf-force-iterations exclude each other');
  return { iterTimeMs: iterTimeMs ?? DEFAULT_ITER_TIME_MS, forcedIterations };
}

function normalizeKeyBytes(parsed: ParsedArgv): 32 | 64 {
  const raw = stringOption(parsed, 'key-size') ?? '512';
  if (raw === '512') return 64;
  if (raw === '256') return 32;
  throw new UsageError(`option --key-size expects 256 or 512, received '${raw}'`);
}

function normalizeHash(parsed: ParsedArgv): Luks1Hash {
  const raw = stringOption(parsed, 'hash') ?? 'sha512';
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
      return { command, file, keyFile, keyBytes: normalizeKeyBytes(parsed), hash: normalizeHash(parsed), iterations: normalizeIterations(parsed), force };
    case 'add-key':
      return { command, file, keyFile, newKeyFile, keySlot: keySlotOf(parsed), iterations: normalizeIterations(parsed) };
    case 'remove-key':
      return { command, file, keyFile, force };
    case 'change-key':
      return { command, file, keyFile, newKeyFile, iterations: normalizeIterations(parsed) };
  }
}
