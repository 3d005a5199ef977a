// The command table of qvm-block-split: the original's syntax and aliases, plus status and cleanup. Raw argv in, typed commands out.
import { integerOption, parseArgv, stringOption, type OptionSpec, type ParsedArgv } from '../shared/argv.ts';
import { UnsupportedError, UsageError } from '../shared/errors.ts';
import { MAX_PBKDF2_ITERATIONS } from '../shared/luks1/constants.ts';
import type { LuksType } from '../shared/protocol/messages.ts';
import { parseKeyFileSpec, parseSourceSpec, parseVmName, type KeyFileSpec, type SourceSpec, type VmName } from './names.ts';

export const USAGE = `usage: qvm-block-split attach|at|a [--ro] [<opt>...] [<dst-vm>] <src-vm>:<device>
                       detach|dt|d                                 <src-vm>:<device>
                       overwrite-everything-with-random [--yes]    <src-vm>:<device>
                       overwrite-header-with-random [--yes] [<opt>...]  <src-vm>:<device>
                       overwrite-header-with-format [--yes] [<opt>...]  <src-vm>:<device>
                       overwrite-header-with-shell [--yes] [--type=luks1] <src-vm>:<device>
                       modify-header-with-shell [--yes] [--type=luks1]    <src-vm>:<device>
                       status [<src-vm>:<device>]
                       cleanup [--yes]

<dst-vm> defaults to a new offline DisposableVM (@dispvm).
<opt>: --key-file=[<vm>:]<path>   a key file instead of a passphrase (no <vm>: or a path starting with / or . = a dom0 path;
                                  a VM path is relative to /home/user in that VM)
       --type=luks1               LUKS version (LUKS2 is not supported yet)
format options: --key-size=256|512 (default 512)  --hash=sha256|sha512 (default sha512)
                --iter-time=MS (default 5000) | --pbkdf-force-iterations=N
--yes: confirm a destructive command without asking (for scripts).`;

export interface AttachCommand {
  readonly command: 'attach';
  readonly source: SourceSpec;
  /** A named qube, or undefined for a new offline DisposableVM. */
  readonly destination: VmName | undefined;
  readonly readOnly: boolean;
  readonly keyFile: KeyFileSpec | undefined;
  readonly luksType: LuksType;
}

export interface FormatSettings {
  readonly keyBytes: 32 | 64;
  readonly hash: 'sha256' | 'sha512';
  readonly iterTimeMs: number | undefined;
  readonly forcedIterations: number | undefined;
}

export type SplitCommand =
  | AttachCommand
  | { readonly command: 'detach'; readonly source: SourceSpec }
  | { readonly command: 'overwrite-everything-with-random'; readonly source: SourceSpec; readonly yes: boolean }
  | { readonly command: 'overwrite-header-with-random'; readonly source: SourceSpec; readonly yes: boolean; readonly luksType: LuksType }
  | {
      readonly command: 'overwrite-header-with-format';
      readonly source: SourceSpec;
      readonly yes: boolean;
      readonly luksType: LuksType;
      readonly format: FormatSettings;
      readonly keyFile: KeyFileSpec | undefined;
    }
  | { readonly command: 'overwrite-header-with-shell' | 'modify-header-with-shell'; readonly source: SourceSpec; readonly yes: boolean; readonly luksType: LuksType }
  | { readonly command: 'status'; readonly source: SourceSpec | undefined }
  | { readonly command: 'cleanup'; readonly yes: boolean }
  | { readonly command: 'help' };

const ALIASES: Readonly<Record<string, string>> = { at: 'attach', a: 'attach', dt: 'detach', d: 'detach' };

const SPECS: Readonly<Record<Exclude<SplitCommand['command'], 'help'>, OptionSpec>> = {
  attach: { ro: 'boolean', 'key-file': 'string', type: 'string' },
  detach: {},
  'overwrite-everything-with-random': { yes: 'boolean' },
  'overwrite-header-with-random': { yes: 'boolean', type: 'string' },
  'overwrite-header-with-format': { yes: 'boolean', type: 'string', 'key-file': 'string', 'key-size': 'string', hash: 'string', 'iter-time': 'string', 'pbkdf-force-iterations': 'string' },
  'overwrite-header-with-shell': { yes: 'boolean', type: 'string' },
  'modify-header-with-shell': { yes: 'boolean', type: 'string' },
  status: {},
  cleanup: { yes: 'boolean' },
};

function normalizeLuksType(parsed: ParsedArgv): LuksType {
  const raw = stringOption(parsed, 'type') ?? 'luks1';
  if (raw === 'luks1') return raw;
  if (raw === 'luks2') throw new UnsupportedError('--type=luks2 is not supported yet: only LUKS1 volumes can be used for now');
  throw new UsageError(`option --type expects luks1 or luks2, received '${raw}'`);
}

function normalizeFormat(parsed: ParsedArgv): FormatSettings {
  const keySize = stringOption(parsed, 'key-size') ?? '512';
  if (keySize !== '256' && keySize !== '512') throw new UsageError(`option --key-size expects 256 or 512, received '${keySize}'`);
  const hash = stringOption(parsed, 'hash') ?? 'sha512';
  if (hash !== 'sha256' && hash !== 'sha512') throw new UsageError(`option --hash expects sha256 or sha512, received '${hash}'`);
  const iterTimeMs = integerOption(parsed, 'iter-time', 1, 600_000);
  const forcedIterations = integerOption(parsed, 'pbkdf-force-iterations', 1000, MAX_PBKDF2_ITERATIONS);
  if (iterTimeMs !== undefined && forcedIterations !== undefined) throw new UsageError('--iter-time and --pbkdf-force-iterations exclude each other');
  return { keyBytes: keySize === '512' ? 64 : 32, hash, iterTimeMs, forcedIterations };
}

function keyFileOption(parsed: ParsedArgv): KeyFileSpec | undefined {
  const raw = stringOption(parsed, 'key-file');
  return raw === undefined ? undefined : parseKeyFileSpec(raw);
}

function exactlySource(positionals: readonly string[], command: string): SourceSpec {
  if (positionals.length !== 1) throw new UsageError(`${command} expects exactly one <src-vm>:<device>, received ${positionals.length} arguments`);
  return parseSourceSpec(positionals[0]!);
}

function parseAttach(parsed: ParsedArgv): AttachCommand {
  const { positionals } = parsed;
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError(`attach expects [<dst-vm>] <src-vm>:<device>, received ${positionals.length} arguments`);
  const source = parseSourceSpec(positionals[positionals.length - 1]!);
  const rawDestination = positionals.length === 2 ? positionals[0]! : undefined;
  const destination = rawDestination === undefined || rawDestination === '@dispvm' ? undefined : parseVmName(rawDestination, '<dst-vm>');
  return {
    command: 'attach',
    source,
    destination,
    readOnly: parsed.options.ro === true,
    keyFile: keyFileOption(parsed),
    luksType: normalizeLuksType(parsed),
  };
}

/** Parses raw arguments into one typed command. */
export function parseSplitCommand(rawArguments: readonly string[]): SplitCommand {
  const [rawName, ...rest] = rawArguments;
  if (rawName === undefined || rawName === 'help' || rawName === '--help' || rawName === '-h') return { command: 'help' };
  const name = ALIASES[rawName] ?? rawName;
  if (!Object.hasOwn(SPECS, name)) throw new UsageError(`unknown command '${rawName}'`);
  const command = name as keyof typeof SPECS;
  const parsed = parseArgv(rest, SPECS[command]);
  const yes = parsed.options.yes === true;
  switch (command) {
    case 'attach':
      return parseAttach(parsed);
    case 'detach':
      return { command, source: exactlySource(parsed.positionals, command) };
    case 'overwrite-everything-with-random':
      return { command, source: exactlySource(parsed.positionals, command), yes };
    case 'overwrite-header-with-random':
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType: normalizeLuksType(parsed) };
    case 'overwrite-header-with-format':
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType: normalizeLuksType(parsed), format: normalizeFormat(parsed), keyFile: keyFileOption(parsed) };
    case 'overwrite-header-with-shell':
    case 'modify-header-with-shell':
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType: normalizeLuksType(parsed) };
    case 'status':
      if (parsed.positionals.length > 1) throw new UsageError(`status expects at most one <src-vm>:<device>, received ${parsed.positionals.length}`);
      return { command, source: parsed.positionals[0] === undefined ? undefined : parseSourceSpec(parsed.positionals[0]) };
    case 'cleanup':
      if (parsed.positionals.length > 0) throw new UsageError('cleanup takes no arguments');
      return { command, yes };
  }
}
