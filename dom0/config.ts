// dom0's configuration file, /etc/split-dm-crypt.conf: `KEY=value` lines, `#` comments and blank lines. It is parsed, never
// executed (the original sourced it with bash). Unknown keys are warned about; malformed lines are errors naming the line.
import { OperationError, UsageError } from '../shared/errors.ts';
import { BoundedReadError, readCapped } from './bounded-file.ts';
import { warning } from './output.ts';
import { TIMEOUTS, type Qubes, type TimeLimits } from './qubes.ts';
import { parseVmName, quoteRaw, type VmName } from './names.ts';

export const DEFAULT_CONFIG_PATH = '/etc/split-dm-crypt.conf';
/** A configuration file is a few lines; anything bigger is not one. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/** The configuration as the file states it: only the keys present. */
export interface RawConfig {
  readonly TEMPLATE_FOR_DISPVMS?: string;
  readonly DISPVM_LABEL?: string;
  readonly START_TIMEOUT_S?: string;
  readonly REPLY_TIMEOUT_S?: string;
  readonly TOOL_TIMEOUT_S?: string;
  readonly ASKPASS?: string;
  readonly ATTACH_ORDER?: string;
}

/** The configuration with defaults filled in. */
export interface SplitConfig {
  /** undefined: use `qubes-prefs default_dispvm`. */
  readonly templateForDispVms: VmName | undefined;
  readonly dispVmLabel: string;
  /** What main() binds into the Qubes adapter (qubesAdapter): START_TIMEOUT_S (or its default), and the reply and tool limits only when the file sets them (else each call keeps its own default). */
  readonly timeLimits: TimeLimits;
  /** A dom0 program that asks for a passphrase (a GUI dialog): `watch` uses it, since it has no terminal. */
  readonly askpass: string | undefined;
  /**
   * `concurrent` (default): attach starts its VMs at once and each step as soon as what it needs is there; `serial`: one VM and
   * one step after the other, in the original split-dm-crypt's order (less memory in use at once; the benchmark's reference).
   */
  readonly attachOrder: AttachOrder;
}

export type AttachOrder = 'concurrent' | 'serial';

const KNOWN_KEYS = ['TEMPLATE_FOR_DISPVMS', 'DISPVM_LABEL', 'START_TIMEOUT_S', 'REPLY_TIMEOUT_S', 'TOOL_TIMEOUT_S', 'ASKPASS', 'ATTACH_ORDER'] as const;
type Key = (typeof KNOWN_KEYS)[number];

export const DEFAULTS = {
  dispVmLabel: 'red',
  startTimeoutMs: TIMEOUTS.start,
} as const;

/** The file to read: $SPLIT_DM_CRYPT_CONF when set, else /etc/split-dm-crypt.conf. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPLIT_DM_CRYPT_CONF || DEFAULT_CONFIG_PATH;
}

/** One value with a single pair of matching quotes removed (files written for the bash original often quote). No escapes. */
function unquote(value: string): string {
  const match = /^(["'])(.*)\1$/.exec(value);
  return match ? match[2]! : value;
}

/** Splits the file into its keys; `warn` hears about unknown keys. */
export function parseConfigText(text: string, path: string, warn: (message: string) => void = warning): RawConfig {
  const raw: Partial<Record<Key, string>> = Object.create(null);
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new UsageError(`${path} line ${index + 1}: expected KEY=value, received ${quoteRaw(line)}`);
    const [, key, value] = match as unknown as [string, string, string];
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      warn(`${path} line ${index + 1}: unknown key ${key} ignored (known: ${KNOWN_KEYS.join(', ')})`);
      return;
    }
    if (Object.hasOwn(raw, key)) throw new UsageError(`${path} line ${index + 1}: ${key} is set twice`);
    raw[key as Key] = unquote(value.trim());
  });
  return raw;
}

function seconds(raw: string | undefined, key: Key, path: string, fallbackMs: number): number {
  if (raw === undefined) return fallbackMs;
  if (!/^[0-9]{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > 86_400) {
    throw new UsageError(`${path}: ${key} expects whole seconds from 1 to 86400, received ${quoteRaw(raw)}`);
  }
  return Number(raw) * 1000;
}

/** Fills defaults and checks each value. */
export function normalizeConfig(raw: RawConfig, path: string): SplitConfig {
  const template = raw.TEMPLATE_FOR_DISPVMS;
  const label = raw.DISPVM_LABEL ?? DEFAULTS.dispVmLabel;
  // Labels are names (red, orange, ... or custom ones); the value reaches qvm-create's argv.
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(label)) throw new UsageError(`${path}: DISPVM_LABEL expects a label name such as red, received ${quoteRaw(label)}`);
  const startTimeoutMs = seconds(raw.START_TIMEOUT_S, 'START_TIMEOUT_S', path, DEFAULTS.startTimeoutMs);
  const replyMs = raw.REPLY_TIMEOUT_S === undefined ? undefined : seconds(raw.REPLY_TIMEOUT_S, 'REPLY_TIMEOUT_S', path, 0);
  const toolMs = raw.TOOL_TIMEOUT_S === undefined ? undefined : seconds(raw.TOOL_TIMEOUT_S, 'TOOL_TIMEOUT_S', path, 0);
  const askpass = raw.ASKPASS === undefined || raw.ASKPASS === '' ? undefined : raw.ASKPASS;
  // Run directly (no shell), so an absolute path of plain characters: nothing found through PATH, nothing to split.
  if (askpass !== undefined && !/^\/[A-Za-z0-9_.+/-]{1,255}$/.test(askpass)) throw new UsageError(`${path}: ASKPASS expects the absolute path of a program, received ${quoteRaw(askpass)}`);
  const attachOrder = raw.ATTACH_ORDER ?? 'concurrent';
  if (attachOrder !== 'concurrent' && attachOrder !== 'serial') throw new UsageError(`${path}: ATTACH_ORDER expects concurrent or serial, received ${quoteRaw(attachOrder)}`);
  return {
    attachOrder,
    templateForDispVms: template === undefined || template === '' ? undefined : parseVmName(template, `${path}: TEMPLATE_FOR_DISPVMS`),
    dispVmLabel: label,
    askpass,
    timeLimits: {
      startMs: startTimeoutMs,
      ...(replyMs === undefined ? {} : { replyMs }),
      ...(toolMs === undefined ? {} : { toolMs }),
    },
  };
}

/** Reads and normalizes the configuration; a missing file means defaults. */
export async function loadConfig(path = configPath(), warn: (message: string) => void = warning): Promise<SplitConfig> {
  let bytes: Buffer;
  try {
    // Bounded (bounded-file.ts): a FIFO or /dev/zero in place of the file must not hang or exhaust every command.
    bytes = await readCapped(path, MAX_CONFIG_BYTES, 'configuration file');
  } catch (error) {
    if (error instanceof BoundedReadError && error.problem === 'missing') return normalizeConfig({}, path);
    if (error instanceof BoundedReadError && error.problem === 'too-large') throw new UsageError(`${path} is larger than ${MAX_CONFIG_BYTES} bytes: not a configuration file`);
    throw error;
  }
  return normalizeConfig(parseConfigText(bytes.toString('utf8'), path, warn), path);
}

export interface DispVmSettings {
  readonly template: VmName;
  readonly label: string;
  readonly attachOrder: AttachOrder;
}

/** What new DisposableVMs are made from: the configured template, else `qubes-prefs default_dispvm`. */
export async function resolveDispVmSettings(qubes: Qubes, config: SplitConfig): Promise<DispVmSettings> {
  let template = config.templateForDispVms;
  if (template === undefined) {
    const fallback = (await qubes.getGlobalPref('default_dispvm')).trim();
    if (fallback === '' || fallback === 'None') {
      throw new OperationError(`no DisposableVM template: set TEMPLATE_FOR_DISPVMS in ${configPath()} or 'qubes-prefs default_dispvm'`);
    }
    template = parseVmName(fallback, 'qubes-prefs default_dispvm');
  }
  return { template, label: config.dispVmLabel, attachOrder: config.attachOrder };
}
