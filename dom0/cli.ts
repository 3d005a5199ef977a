// The command table of qvm-block-split: the original's syntax and aliases, plus inspect, status and cleanup. Raw argv in, typed commands out.
import { integerOption, parseArgv, stringOption, type OptionSpec, type ParsedArgv } from '../shared/argv.ts';
import { UsageError } from '../shared/errors.ts';
import { newVolumeCipherKey, type MappedCipherKey } from '../shared/luks-common/ciphers.ts';
import { MAX_PBKDF2_ITERATIONS } from '../shared/luks1/constants.ts';
import { MAX_ARGON2_TIME, MIN_ARGON2_TIME } from '../shared/luks2/constants.ts';
import type { LuksType } from '../shared/protocol/contract.ts';
import { parseVolumeName, type KnownVolume } from './known-volumes.ts';
import { parseKeyFileSpec, parseSourceSpec, parseVmName, type KeyFileSpec, type SourceSpec, type VmName } from './names.ts';

export const USAGE = `usage: qvm-block-split attach|at|a [--ro] [<opt>...] [<dst-vm>] <src-vm>:<device>
                       attach|at|a [--ro] [<dst-vm>] <name>          (a known volume)
                       remember <name> [--ro] [--auto-attach] [<opt>...] [<dst-vm>] <src-vm>:<device>
                       forget <name>
                       list [--json]
                       watch                                       (attach known volumes as their drives come)
                       detach|dt|d                                 <src-vm>:<device>
                       overwrite-everything-with-random [--yes]    <src-vm>:<device>
                       overwrite-header-with-random [--yes] [<opt>...]  <src-vm>:<device>
                       overwrite-header-with-format [--yes] [<opt>...]  <src-vm>:<device>
                       overwrite-header-with-shell [--yes] [--type=luks1|luks2] <src-vm>:<device>
                       modify-header-with-shell [--yes] [--type=luks1|luks2]    <src-vm>:<device>
                       add-key [--yes] [--key-file=...] [--new-key-file=...] [--key-slot=N] [<kdf>...] <src-vm>:<device>
                       change-key [--yes] [--key-file=...] [--new-key-file=...] [<kdf>...] <src-vm>:<device>
                       remove-key [--yes] [--key-file=...] [--force]  <src-vm>:<device>
                       upgrade [--yes] [--key-file=...] [--iter-time=MS|--pbkdf-force-iterations=N] [--pbkdf-memory=KiB] <src-vm>:<device>
                       inspect [--json]                            <src-vm>:<device>
                       status [<src-vm>:<device>]
                       cleanup

<dst-vm> defaults to a new offline DisposableVM (@dispvm).
<opt>: --key-file=[<vm>:]<path>   a key file instead of a passphrase (no <vm>: or a path starting with / or . = a dom0 path;
                                  a VM path is relative to /home/user in that VM)
       --type=luks1|luks2         LUKS version (default luks2; a LUKS1 volume also attaches under it)
       --data-offset=SECTORS      attach: accept a header whose data starts there although it is not cryptsetup's
                                  default (LUKS1 4096, LUKS2 32768); otherwise such a header must be confirmed
format options: --cipher=aes-xts-plain64|xchacha12,aes-adiantum-plain64 (default aes-xts-plain64; Adiantum: LUKS2)
                --key-size=256|512 (default 512; Adiantum 256)  --hash=sha256|sha512 (default sha512)
                --iter-time=MS (default 5000) | --pbkdf-force-iterations=N
                LUKS2: --pbkdf=argon2id|argon2i|pbkdf2 (default argon2id)  --pbkdf-memory=KiB (default 262144)
                       --sector-size=512|4096 (default 512)
<kdf>: a new key slot's KDF: --iter-time=MS | --pbkdf-force-iterations=N, LUKS2: --pbkdf=argon2id|argon2i|pbkdf2 --pbkdf-memory=KiB
--yes: confirm a destructive command without asking (for scripts).`;

export interface AttachCommand {
  readonly command: 'attach';
  readonly source: SourceSpec;
  /** A named qube, or undefined for a new offline DisposableVM. */
  readonly destination: VmName | undefined;
  readonly readOnly: boolean;
  readonly keyFile: KeyFileSpec | undefined;
  readonly luksType: LuksType;
  /**
   * A data offset (512-byte sectors) the user expects although it is not cryptsetup's default for the type: without it such a
   * header needs a confirmation on the terminal, since a compromised header VM could signal through the offset it announces.
   */
  readonly acceptedDataOffset: number | undefined;
  /** Attaching a known volume by name: its UUID and pin must match. */
  readonly known?: KnownVolume;
  /** No terminal (`watch`): the passphrase comes from this askpass program, and nothing is ever confirmed. */
  readonly askpass?: string;
}

/** `attach NAME`: a known volume, with the stored settings; the destination and --ro may be given anew. */
export interface AttachKnownCommand {
  readonly command: 'attach-known';
  readonly name: string;
  /** undefined: the stored destination; '@dispvm': a new DisposableVM whatever is stored. */
  readonly destination: VmName | '@dispvm' | undefined;
  readonly readOnly: boolean;
}

/** `remember NAME ...`: an attach whose volume is then stored, pinned to its key. */
export interface RememberCommand {
  readonly command: 'remember';
  readonly name: string;
  readonly attach: AttachCommand;
  readonly autoAttach: boolean;
}

export interface FormatSettings {
  /** The data cipher and key size, typed per cipher as the table (shared/luks-common/ciphers.ts) allows them. */
  readonly key: MappedCipherKey;
  readonly hash: 'sha256' | 'sha512';
  readonly iterTimeMs: number | undefined;
  /** PBKDF2 iterations or Argon2 passes, as cryptsetup's --pbkdf-force-iterations. */
  readonly forcedIterations: number | undefined;
  /** LUKS2 only; undefined = the header VM's defaults (argon2id, 256 MiB, 512-byte sectors). */
  readonly pbkdf: 'pbkdf2' | 'argon2i' | 'argon2id' | undefined;
  readonly pbkdfMemoryKiB: number | undefined;
  readonly sectorSize: 512 | 4096 | undefined;
}

/** A new key slot's KDF as the user asked for it; undefined fields take the header VM's defaults (chooseKdf). */
export interface KdfSettings {
  readonly iterTimeMs: number | undefined;
  readonly forcedIterations: number | undefined;
  readonly pbkdf: 'pbkdf2' | 'argon2i' | 'argon2id' | undefined;
  readonly pbkdfMemoryKiB: number | undefined;
}

/**
 * add-key, change-key, remove-key and upgrade: a header DisposableVM changes the key slots and returns the header area; a verify
 * VM parses it, dom0 shows the key slots before and after, asks, and writes it in one write.
 */
export interface KeyslotCommand {
  readonly command: 'add-key' | 'change-key' | 'remove-key' | 'upgrade';
  readonly source: SourceSpec;
  readonly yes: boolean;
  /** The existing secret as a key file; otherwise a passphrase. */
  readonly keyFile: KeyFileSpec | undefined;
  /** add-key and change-key: the new secret as a key file; otherwise a new passphrase typed twice. */
  readonly newKeyFile: KeyFileSpec | undefined;
  /** add-key: the slot to fill (default the lowest free one). */
  readonly keySlot: number | undefined;
  /** remove-key: the last key slot may go. */
  readonly force: boolean;
  readonly kdf: KdfSettings;
}

/** `inspect`: the header's facts and warnings, no secret asked. */
export interface InspectCommand {
  readonly command: 'inspect';
  readonly source: SourceSpec;
  readonly json: boolean;
}

export interface ForgetCommand {
  readonly command: 'forget';
  readonly name: string;
}
export interface ListCommand {
  readonly command: 'list';
  readonly json: boolean;
}
export interface DetachCommand {
  readonly command: 'detach';
  readonly source: SourceSpec;
}
export interface OverwriteEverythingCommand {
  readonly command: 'overwrite-everything-with-random';
  readonly source: SourceSpec;
  readonly yes: boolean;
}
export interface OverwriteHeaderRandomCommand {
  readonly command: 'overwrite-header-with-random';
  readonly source: SourceSpec;
  readonly yes: boolean;
  readonly luksType: LuksType;
}
export interface OverwriteHeaderFormatCommand {
  readonly command: 'overwrite-header-with-format';
  readonly source: SourceSpec;
  readonly yes: boolean;
  readonly luksType: LuksType;
  readonly format: FormatSettings;
  readonly keyFile: KeyFileSpec | undefined;
}
/** overwrite-header-with-shell starts from random bytes, modify-header-with-shell from the disk's own header. */
export interface HeaderShellCommand {
  readonly command: 'overwrite-header-with-shell' | 'modify-header-with-shell';
  readonly source: SourceSpec;
  readonly yes: boolean;
  readonly luksType: LuksType;
}
export interface StatusCommand {
  readonly command: 'status';
  readonly source: SourceSpec | undefined;
}

export type SplitCommand =
  | AttachCommand
  | AttachKnownCommand
  | RememberCommand
  | ForgetCommand
  | ListCommand
  | { readonly command: 'watch' }
  | DetachCommand
  | OverwriteEverythingCommand
  | OverwriteHeaderRandomCommand
  | OverwriteHeaderFormatCommand
  | HeaderShellCommand
  | KeyslotCommand
  | InspectCommand
  | StatusCommand
  | { readonly command: 'cleanup' }
  | { readonly command: 'help'; readonly topic?: CommandName }
  | { readonly command: 'version' };

/** Every command's canonical name (aliases resolved). */
export type CommandName = Exclude<SplitCommand['command'], 'help' | 'version' | 'attach-known'>;

const ALIASES: Readonly<Record<string, string>> = { at: 'attach', a: 'attach', dt: 'detach', d: 'detach' };

const SPECS: Readonly<Record<CommandName, OptionSpec>> = {
  attach: { ro: 'boolean', 'key-file': 'string', type: 'string', 'data-offset': 'string' },
  remember: { ro: 'boolean', 'auto-attach': 'boolean', 'key-file': 'string', type: 'string', 'data-offset': 'string' },
  forget: {},
  list: { json: 'boolean' },
  watch: {},
  detach: {},
  'overwrite-everything-with-random': { yes: 'boolean' },
  'overwrite-header-with-random': { yes: 'boolean', type: 'string' },
  'overwrite-header-with-format': { yes: 'boolean', type: 'string', 'key-file': 'string', cipher: 'string', 'key-size': 'string', hash: 'string', 'iter-time': 'string', 'pbkdf-force-iterations': 'string', pbkdf: 'string', 'pbkdf-memory': 'string', 'sector-size': 'string' },
  'overwrite-header-with-shell': { yes: 'boolean', type: 'string' },
  'modify-header-with-shell': { yes: 'boolean', type: 'string' },
  'add-key': { yes: 'boolean', 'key-file': 'string', 'new-key-file': 'string', 'key-slot': 'string', 'iter-time': 'string', 'pbkdf-force-iterations': 'string', pbkdf: 'string', 'pbkdf-memory': 'string' },
  'change-key': { yes: 'boolean', 'key-file': 'string', 'new-key-file': 'string', 'iter-time': 'string', 'pbkdf-force-iterations': 'string', pbkdf: 'string', 'pbkdf-memory': 'string' },
  'remove-key': { yes: 'boolean', 'key-file': 'string', force: 'boolean' },
  upgrade: { yes: 'boolean', 'key-file': 'string', 'iter-time': 'string', 'pbkdf-force-iterations': 'string', 'pbkdf-memory': 'string' },
  inspect: { json: 'boolean' },
  status: {},
  cleanup: {},
};

function normalizeLuksType(parsed: ParsedArgv): LuksType {
  // LUKS2 is the default, as in the original and cryptsetup >= 2.1.
  const raw = stringOption(parsed, 'type') ?? 'luks2';
  if (raw === 'luks1' || raw === 'luks2') return raw;
  throw new UsageError(`option --type expects luks1 or luks2, received '${raw}'`);
}

function normalizeFormat(parsed: ParsedArgv, luksType: LuksType): FormatSettings {
  const key = newVolumeCipherKey(stringOption(parsed, 'cipher'), stringOption(parsed, 'key-size'), luksType);
  const hash = stringOption(parsed, 'hash') ?? 'sha512';
  if (hash !== 'sha256' && hash !== 'sha512') throw new UsageError(`option --hash expects sha256 or sha512, received '${hash}'`);
  const iterTimeMs = integerOption(parsed, 'iter-time', 1, 600_000);
  const pbkdf = stringOption(parsed, 'pbkdf');
  if (pbkdf !== undefined && pbkdf !== 'pbkdf2' && pbkdf !== 'argon2i' && pbkdf !== 'argon2id') throw new UsageError(`option --pbkdf expects argon2id, argon2i or pbkdf2, received '${pbkdf}'`);
  const pbkdfMemoryKiB = integerOption(parsed, 'pbkdf-memory', 32, 1024 * 1024);
  const sectorSize = stringOption(parsed, 'sector-size');
  if (sectorSize !== undefined && sectorSize !== '512' && sectorSize !== '4096') throw new UsageError(`option --sector-size expects 512 or 4096, received '${sectorSize}'`);
  if (luksType === 'luks1' && ((pbkdf !== undefined && pbkdf !== 'pbkdf2') || pbkdfMemoryKiB !== undefined || sectorSize === '4096')) {
    throw new UsageError('--pbkdf=argon2*, --pbkdf-memory and --sector-size=4096 need --type=luks2');
  }
  const argon2 = luksType === 'luks2' && pbkdf !== 'pbkdf2';
  const forcedIterations = argon2 ? integerOption(parsed, 'pbkdf-force-iterations', MIN_ARGON2_TIME, MAX_ARGON2_TIME) : integerOption(parsed, 'pbkdf-force-iterations', 1000, MAX_PBKDF2_ITERATIONS);
  if (iterTimeMs !== undefined && forcedIterations !== undefined) throw new UsageError('--iter-time and --pbkdf-force-iterations exclude each other');
  return {
    key,
    hash,
    iterTimeMs,
    forcedIterations,
    pbkdf: luksType === 'luks2' ? (pbkdf ?? 'argon2id') : undefined,
    pbkdfMemoryKiB,
    sectorSize: sectorSize === undefined ? undefined : sectorSize === '4096' ? 4096 : 512,
  };
}

function keyFileOption(parsed: ParsedArgv, name = 'key-file'): KeyFileSpec | undefined {
  const raw = stringOption(parsed, name);
  return raw === undefined ? undefined : parseKeyFileSpec(raw);
}

/**
 * A new key slot's KDF. The volume's version is not known here (the header VM reads it): the forced count is checked against the
 * widest bounds, and the header VM checks it against the KDF it applies (PBKDF2 1000..2^26, Argon2 passes 4..32).
 */
function normalizeKdf(parsed: ParsedArgv): KdfSettings {
  const iterTimeMs = integerOption(parsed, 'iter-time', 1, 600_000);
  const forcedIterations = integerOption(parsed, 'pbkdf-force-iterations', MIN_ARGON2_TIME, MAX_PBKDF2_ITERATIONS);
  if (iterTimeMs !== undefined && forcedIterations !== undefined) throw new UsageError('--iter-time and --pbkdf-force-iterations exclude each other');
  const pbkdf = stringOption(parsed, 'pbkdf');
  if (pbkdf !== undefined && pbkdf !== 'pbkdf2' && pbkdf !== 'argon2i' && pbkdf !== 'argon2id') throw new UsageError(`option --pbkdf expects argon2id, argon2i or pbkdf2, received '${pbkdf}'`);
  return { iterTimeMs, forcedIterations, pbkdf, pbkdfMemoryKiB: integerOption(parsed, 'pbkdf-memory', 32, 1024 * 1024) };
}

function parseKeyslotCommand(command: KeyslotCommand['command'], parsed: ParsedArgv): KeyslotCommand {
  return {
    command,
    source: exactlySource(parsed.positionals, command),
    yes: parsed.options.yes === true,
    keyFile: keyFileOption(parsed),
    newKeyFile: keyFileOption(parsed, 'new-key-file'),
    keySlot: integerOption(parsed, 'key-slot', 0, 31),
    force: parsed.options.force === true,
    kdf: normalizeKdf(parsed),
  };
}

function exactlySource(positionals: readonly string[], command: string): SourceSpec {
  if (positionals.length !== 1) throw new UsageError(`${command} expects exactly one <src-vm>:<device>, received ${positionals.length} arguments`);
  return parseSourceSpec(positionals[0]!);
}

function parseAttach(parsed: ParsedArgv, command = 'attach'): AttachCommand {
  const { positionals } = parsed;
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError(`${command} expects [<dst-vm>] <src-vm>:<device>, received ${positionals.length} arguments`);
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
    acceptedDataOffset: integerOption(parsed, 'data-offset', 1, 2 ** 48),
  };
}

/** `attach NAME`: a last argument without `:` names a known volume; only --ro and a destination go with it. */
function parseAttachKnown(parsed: ParsedArgv): AttachKnownCommand {
  const { positionals } = parsed;
  if (positionals.length > 2) throw new UsageError(`attach expects [<dst-vm>] <name>, received ${positionals.length} arguments`);
  const name = parseVolumeName(positionals[positionals.length - 1]!, 'attach <name> (a known volume; a source is <src-vm>:<device>)');
  for (const option of ['key-file', 'type', 'data-offset']) {
    if (parsed.options[option] !== undefined) throw new UsageError(`--${option} is stored with volume ${name}: forget and remember it to change it`);
  }
  const rawDestination = positionals.length === 2 ? positionals[0]! : undefined;
  return {
    command: 'attach-known',
    name,
    destination: rawDestination === undefined ? undefined : rawDestination === '@dispvm' ? '@dispvm' : parseVmName(rawDestination, '<dst-vm>'),
    readOnly: parsed.options.ro === true,
  };
}

function parseRemember(parsed: ParsedArgv): RememberCommand {
  const [rawName, ...rest] = parsed.positionals;
  if (rawName === undefined) throw new UsageError('remember expects <name> [<dst-vm>] <src-vm>:<device>');
  const name = parseVolumeName(rawName, 'remember <name>');
  return { command: 'remember', name, attach: parseAttach({ ...parsed, positionals: rest }, 'remember <name>'), autoAttach: parsed.options['auto-attach'] === true };
}

function exactlyName(positionals: readonly string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} expects exactly one <name>, received ${positionals.length} arguments`);
  return parseVolumeName(positionals[0]!, `${command} <name>`);
}

/** The canonical name of a command or alias; anything else is a UsageError. */
function commandName(rawName: string): CommandName {
  const name = ALIASES[rawName] ?? rawName;
  if (!Object.hasOwn(SPECS, name)) throw new UsageError(`unknown command '${rawName}'`);
  return name as CommandName;
}

/** `--help` or `-h` among a command's options (not after `--`, not as the value of an option like `--key-file -h`). */
function asksForHelp(rawArguments: readonly string[], spec: OptionSpec): boolean {
  for (let i = 0; i < rawArguments.length; i++) {
    const argument = rawArguments[i]!;
    if (argument === '--') return false;
    if (argument === '--help' || argument === '-h') return true;
    const name = /^--([a-z0-9][a-z0-9-]*)$/.exec(argument)?.[1];
    if (name !== undefined && spec[name] === 'string') i++;
  }
  return false;
}

/** Parses raw arguments into one typed command. */
export function parseSplitCommand(rawArguments: readonly string[]): SplitCommand {
  const [rawName, ...rest] = rawArguments;
  if (rawName === undefined || rawName === '--help' || rawName === '-h') return { command: 'help' };
  if (rawName === '--version') return { command: 'version' };
  if (rawName === 'help') return rest.length === 0 ? { command: 'help' } : { command: 'help', topic: commandName(rest[0]!) };
  const command = commandName(rawName);
  if (asksForHelp(rest, SPECS[command])) return { command: 'help', topic: command };
  const parsed = parseArgv(rest, SPECS[command]);
  const yes = parsed.options.yes === true;
  switch (command) {
    case 'attach': {
      const last = parsed.positionals[parsed.positionals.length - 1];
      return last !== undefined && !last.includes(':') ? parseAttachKnown(parsed) : parseAttach(parsed);
    }
    case 'remember':
      return parseRemember(parsed);
    case 'forget':
      return { command, name: exactlyName(parsed.positionals, command) };
    case 'watch':
      if (parsed.positionals.length > 0) throw new UsageError('watch takes no arguments');
      return { command };
    case 'list':
      if (parsed.positionals.length > 0) throw new UsageError('list takes no arguments');
      return { command, json: parsed.options.json === true };
    case 'detach':
      return { command, source: exactlySource(parsed.positionals, command) };
    case 'overwrite-everything-with-random':
      return { command, source: exactlySource(parsed.positionals, command), yes };
    case 'overwrite-header-with-random':
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType: normalizeLuksType(parsed) };
    case 'overwrite-header-with-format': {
      const luksType = normalizeLuksType(parsed);
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType, format: normalizeFormat(parsed, luksType), keyFile: keyFileOption(parsed) };
    }
    case 'overwrite-header-with-shell':
    case 'modify-header-with-shell':
      return { command, source: exactlySource(parsed.positionals, command), yes, luksType: normalizeLuksType(parsed) };
    case 'add-key':
    case 'change-key':
    case 'remove-key':
    case 'upgrade':
      return parseKeyslotCommand(command, parsed);
    case 'inspect':
      return { command, source: exactlySource(parsed.positionals, command), json: parsed.options.json === true };
    case 'status':
      if (parsed.positionals.length > 1) throw new UsageError(`status expects at most one <src-vm>:<device>, received ${parsed.positionals.length}`);
      return { command, source: parsed.positionals[0] === undefined ? undefined : parseSourceSpec(parsed.positionals[0]) };
    case 'cleanup':
      if (parsed.positionals.length > 0) throw new UsageError('cleanup takes no arguments');
      return { command };
  }
}
