// Names that reach dom0 from the user or from a VM: qube names, block device ports, `vm:device` sources and `--key-file` values.
// Each parser is the one way to turn a raw string into its trusted, branded type; everything else takes the branded type.
import { UsageError } from '../shared/errors.ts';

declare const vmNameBrand: unique symbol;
declare const devicePortBrand: unique symbol;

/** A string that passed qubes-core-admin's rules for qube names. */
export type VmName = string & { readonly [vmNameBrand]: true };
/** A block device port (`sda`, `dm-3`, `loop0`) as dom0 accepts it from a backend VM. */
export type DevicePort = string & { readonly [devicePortBrand]: true };

export interface SourceSpec {
  readonly backend: VmName;
  readonly port: DevicePort;
  /**
   * R4.3's device identity (`BACKEND:PORT:DEVICE_ID`), when the user named one: passed to qvm-block attach, which then attaches
   * the port only while the device on it has that identity. Never part of file or lock names (those follow backend:port).
   */
  readonly deviceId?: DeviceIdentity;
}

declare const deviceIdentityBrand: unique symbol;
/** A device identity as R4.3 prints it (`0951:1666:SERIAL:u080650:None`): printable ASCII, no spaces. */
export type DeviceIdentity = string & { readonly [deviceIdentityBrand]: true };

export type KeyFileSpec =
  | { readonly kind: 'dom0'; readonly path: string }
  /** `path` is relative to /home/user in `vm`. */
  | { readonly kind: 'vm'; readonly vm: VmName; readonly path: string };

/** The longest name qubes-core-admin accepts ("must be shorter than 32 characters"). */
export const MAX_VM_NAME_CHARS = 31;
/** dom0 validates block device names against `[a-z0-9/-]{1,64}` (qubes-core-admin-client, device identifiers). */
export const MAX_DEVICE_PORT_CHARS = 64;
/** Key-file paths are names, not data: PATH_MAX bounds what any tool could open anyway. */
export const MAX_KEY_FILE_PATH_CHARS = 4096;

// qubes-core-admin validate_name: a letter first, then letters, digits, `_`, `.`, `-`; at most 31 characters.
const VM_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;
const DEVICE_PORT = /^[a-z0-9/-]{1,64}$/;
/** A block device name a Linux qube gives an attached disk (frontend-dev in qvm-block's listing): xvdi, xvdj, ... or sdX. */
export const FRONTEND_DEVICE = /^(?:xvd[a-z]{1,2}|sd[a-z]{1,2})$/;

/** Quotes a raw value for a message: shown with control characters escaped so it cannot drive the terminal. */
export function quoteRaw(raw: string): string {
  const shown = raw.length > 80 ? `${raw.slice(0, 80)}...` : raw;
  return `'${shown.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

/** Why `raw` is not a qube name qubes-core-admin would accept, or undefined when it is one. */
function vmNameProblem(raw: string): string | undefined {
  if (raw.length === 0) return 'it is empty';
  if (raw.length > MAX_VM_NAME_CHARS) return `it is longer than ${MAX_VM_NAME_CHARS} characters`;
  if (!VM_NAME.test(raw)) return 'it must start with a letter and contain only letters, digits, _, . and -';
  // Reserved by qubes-core-admin: placeholders for "no VM" / "the default VM", Xen's own name for dom0, stubdomain suffix.
  if (raw === 'none' || raw === 'default') return `'${raw}' is a reserved word, not a qube`;
  if (raw === 'Domain-0') return "'Domain-0' is Xen's name for dom0";
  if (raw.endsWith('-dm')) return 'names ending in -dm are reserved for device-model stubdomains';
  return undefined;
}

export interface VmNameOptions {
  /** dom0 is a valid name but must not be the target of a device or a service call from this tool. */
  readonly allowDom0?: boolean;
}

/** Parses a qube name given as `what` (an option or argument name for the message). */
export function parseVmName(raw: string, what = '<vm>', options: VmNameOptions = {}): VmName {
  const problem = vmNameProblem(raw);
  if (problem) throw new UsageError(`${what} expects a qube name, received ${quoteRaw(raw)}: ${problem}`);
  // Why: attaching a decrypted volume to dom0, or reading a key file "from dom0 as a VM", defeats the split.
  if (raw === 'dom0' && !options.allowDom0) throw new UsageError(`${what} cannot be dom0, received 'dom0'`);
  return raw as VmName;
}

/** True when `raw` is a qube name (dom0 included); for parsing output of Qubes tools where a bad name is a parse failure. */
export function isVmName(raw: string): raw is VmName {
  return vmNameProblem(raw) === undefined;
}

/** Parses a block device port as exported by a backend VM (`sda`, `xvdi`, `dm-0`, `loop12`). */
export function parseDevicePort(raw: string, what = '<device>'): DevicePort {
  const expectation = `${what} expects a block device name of 1 to ${MAX_DEVICE_PORT_CHARS} characters from [a-z0-9/-]`;
  if (!DEVICE_PORT.test(raw)) throw new UsageError(`${expectation}, received ${quoteRaw(raw)}`);
  // Why: a port ends up in paths and argv in the backend VM; no option look-alikes, no climbing out of /dev.
  if (raw.startsWith('-')) throw new UsageError(`${expectation} not starting with -, received ${quoteRaw(raw)}`);
  if (raw.split('/').some((part) => part === '..' || part === '')) {
    throw new UsageError(`${expectation} without empty or .. components, received ${quoteRaw(raw)}`);
  }
  return raw as DevicePort;
}

/** True when `raw` is an acceptable device port. */
export function isDevicePort(raw: string): raw is DevicePort {
  return DEVICE_PORT.test(raw) && !raw.startsWith('-') && !raw.split('/').some((part) => part === '..' || part === '');
}

/**
 * The longest device identity accepted. R4.3's are short (`<vendor>:<product>:<serial>:<interfaces>:<partition>`, e.g.
 * `0951:1666:001CC0EC3450BBA1B9A3005E:u080650:None`); a serial of a few dozen characters fits many times over.
 */
export const MAX_DEVICE_ID_CHARS = 256;
// What R4.3 can print in an identity: qubesd keeps printable ASCII from the backend's data (qubes/ext/block.py _sanitize:
// letters, digits, punctuation), and `*`/`?` in the identities it makes itself. No space: the value is one argv word.
const DEVICE_IDENTITY = /^[\x21-\x7e]{1,256}$/;

/** Parses `<src-vm>:<device>` (`sys-usb:sda`), or R4.3's `<src-vm>:<device>:<device-id>` as qvm-block takes it. */
export function parseSourceSpec(raw: string, what = '<src-vm>:<device>'): SourceSpec {
  const colon = raw.indexOf(':');
  if (colon < 0) throw new UsageError(`${what} expects <vm>:<device> such as sys-usb:sda, received ${quoteRaw(raw)}`);
  // dom0 may be a source backend (its own disks and loop devices are exported too); it is never a target.
  const backend = parseVmName(raw.slice(0, colon), `the vm of ${what}`, { allowDom0: true });
  // As qubesadmin's VirtualDevice._parse: the port ends at the next colon, the identity is everything after it (it holds colons).
  const rest = raw.slice(colon + 1);
  const second = rest.indexOf(':');
  const port = parseDevicePort(second < 0 ? rest : rest.slice(0, second), `the device of ${what}`);
  if (second < 0) return { backend, port };
  const identity = rest.slice(second + 1);
  if (!DEVICE_IDENTITY.test(identity)) {
    throw new UsageError(`the device identity of ${what} expects 1 to ${MAX_DEVICE_ID_CHARS} printable characters without spaces (R4.3's BACKEND:PORT:DEVICE_ID), received ${quoteRaw(identity)}`);
  }
  return { backend, port, deviceId: identity as DeviceIdentity };
}

/** True when `raw` is an acceptable device identity (for records written by an earlier run). */
export function isDeviceIdentity(raw: string): raw is DeviceIdentity {
  return DEVICE_IDENTITY.test(raw);
}

/** `sys-usb:sda`, for messages and file names (without the identity: one port, one record, one lock). */
export function sourceLabel(source: SourceSpec): string {
  return `${source.backend}:${source.port}`;
}

/**
 * Parses a `--key-file` value as the original did: no `vm:` prefix, or a value starting with `/` or `.`, is a dom0 path;
 * otherwise `vm:path` with path relative to /home/user in that VM.
 */
export function parseKeyFileSpec(raw: string, what = '--key-file'): KeyFileSpec {
  if (raw.length === 0) throw new UsageError(`option ${what} expects [<vm>:]<path>, received ''`);
  if (raw.length > MAX_KEY_FILE_PATH_CHARS || raw.includes('\0')) {
    throw new UsageError(`option ${what} expects a path of at most ${MAX_KEY_FILE_PATH_CHARS} characters without NUL, received ${quoteRaw(raw)}`);
  }
  const colon = raw.indexOf(':');
  if (colon < 0 || raw.startsWith('/') || raw.startsWith('.')) return { kind: 'dom0', path: raw };
  const vm = parseVmName(raw.slice(0, colon), `the vm of option ${what}`);
  const path = raw.slice(colon + 1);
  const expectation = `option ${what} expects a path relative to /home/user in ${vm}`;
  if (path.length === 0) throw new UsageError(`${expectation}, received an empty path`);
  // Why: the VM path is read by a shell in that VM as `user`; keep it inside the home directory and away from option parsing.
  if (path.startsWith('/')) throw new UsageError(`${expectation}, received the absolute path ${quoteRaw(path)}`);
  if (path.split('/').includes('..')) throw new UsageError(`${expectation} without .. components, received ${quoteRaw(path)}`);
  if (path.startsWith('-')) throw new UsageError(`${expectation} not starting with -, received ${quoteRaw(path)}`);
  if (/[\x00-\x1f\x7f]/.test(path)) throw new UsageError(`${expectation} without control characters, received ${quoteRaw(path)}`);
  return { kind: 'vm', vm, path };
}
