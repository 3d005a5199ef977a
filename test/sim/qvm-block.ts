// Fake qvm-block: attach, detach and list with the checks, messages and exit codes of Qubes R4.2 / R4.3 (qubesadmin's
// qvm_device.py and qubesd's ext/block.py). Errors from qubesd print as `MESSAGE` (R4.2) or `Error: MESSAGE` (R4.3), exit 1.
import { attach, attachmentOf, detach, exposedBlocks } from './attachments.ts';
import { parseToolArgs, usageError, type ToolArgs } from './tool-args.ts';
import { readState, SimToolError, withState, type SimBlock, type SimState } from './state.ts';

const PROG = 'qvm-block';
const VERBS: Record<string, 'attach' | 'detach' | 'list'> = { attach: 'attach', a: 'attach', at: 'attach', detach: 'detach', d: 'detach', dt: 'detach', list: 'list', ls: 'list', l: 'list' };
/** Frontend names Qubes hands out when frontend-dev is not given (Storage.AVAILABLE_FRONTENDS, after the system disks). */
const AVAILABLE_FRONTENDS = 'ijklmnopqrstuvwxyz'.split('').map((c) => `xvd${c}`);

/** An exception raised by qubesd, as the client prints it. */
function qubesdError(state: SimState, message: string): SimToolError {
  return new SimToolError(state.settings.release === '4.3' ? `Error: ${message}` : message, 1);
}

interface DeviceRef {
  readonly backend: string;
  readonly port: string;
  /** R4.3's device identity after the port, when given (`*` or `_`: any). */
  readonly deviceId?: string;
}

/**
 * `BACKEND:PORT`; on R4.3 also `BACKEND:PORT:DEVICE_ID` (qubesadmin/device_protocol.py VirtualDevice._parse: the identity is
 * everything after the port's colon). R4.2's parser splits at the first colon only (release4.2 qvm_device.py), so there the
 * identity stays part of the port name and no such device exists.
 */
function parseDeviceRef(state: SimState, text: string | undefined): DeviceRef {
  const match = /^([^:]+):(.+)$/.exec(text ?? '');
  if (!match) throw usageError(PROG, `expected a backend vm & device id combination like foo:bar got ${text ?? ''}`);
  if (state.settings.release === '4.2') return { backend: match[1]!, port: match[2]! };
  const [port, ...identity] = match[2]!.split(':');
  const deviceId = identity.length === 0 ? undefined : identity.join(':');
  return { backend: match[1]!, port: port!, ...(deviceId === undefined || deviceId === '*' || deviceId === '_' ? {} : { deviceId }) };
}

/** The identity R4.3 gives a simulated disk: `--device-id` of add-block, else one shaped like a USB disk's (qubes/ext/block.py device_id: parent's identity, then the partition number or None). */
export function deviceIdOf(port: string, block: SimBlock): string {
  return block.deviceId ?? `1234:5678:SIM${port.toUpperCase().replace(/[^A-Z0-9]/g, '')}:u080650:None`;
}

/** The device, or the client-side error for an unknown backend or port. */
function findDevice(dir: string, state: SimState, ref: DeviceRef): SimBlock {
  const r43 = state.settings.release === '4.3';
  if (!state.vms[ref.backend]) throw new SimToolError(r43 ? `${PROG}: error: no such backend vm!` : `${PROG}: error: no backend vm '${ref.backend}'`, 1);
  const block = exposedBlocks(state, dir, ref.backend)[ref.port];
  // R4.3's DeviceAction: a device whose identity differs is an UnknownDevice, refused like a missing one.
  if (block && (ref.deviceId === undefined || ref.deviceId === deviceIdOf(ref.port, block))) return block;
  throw new SimToolError(
    r43 ? `${PROG}: error: backend vm ${ref.backend} doesn't expose block device '${ref.port}'` : `${PROG}: error: backend vm '${ref.backend}' doesn't expose device '${ref.port}'`,
    1,
  );
}

function frontendOf(state: SimState, name: string | undefined): string {
  if (name === undefined) throw usageError(PROG, 'the following arguments are required: VMNAME');
  if (!state.vms[name]) throw usageError(PROG, `no such domain: '${name}'`);
  return name;
}

/** The options as qubesd normalizes them: read-only yes/no, frontend-dev checked. */
function attachOptions(state: SimState, args: ToolArgs): { readOnly: boolean | undefined; frontendDev: string | undefined } {
  let readOnly: boolean | undefined = args.flags.has('--ro') ? true : undefined;
  let frontendDev: string | undefined;
  for (const option of args.values.get('--option') ?? []) {
    const [key, value = ''] = option.split(/=(.*)/s) as [string, string?];
    if (key === 'frontend-dev') {
      if (!value.startsWith('xvd') && !value.startsWith('sd')) throw qubesdError(state, `Invalid frontend-dev option value: ${value}`);
      frontendDev = value;
    } else if (key === 'read-only' || key === 'ro') {
      const v = value.toLowerCase();
      if (!['1', 'true', 'yes', '0', 'false', 'no', 'on', 'off'].includes(v)) throw qubesdError(state, `Unknown \`read-only\` option value: ${value}`);
      readOnly = readOnly === true || ['1', 'true', 'yes', 'on'].includes(v);
    } else {
      throw qubesdError(state, `Unsupported option ${key}`);
    }
  }
  return { readOnly, frontendDev };
}

function attachCommand(dir: string, args: ToolArgs): void {
  withState(dir, (state) => {
    const frontend = frontendOf(state, args.positionals[1]);
    const ref = parseDeviceRef(state, args.positionals[2]);
    const block = findDevice(dir, state, ref);
    if (!state.vms[frontend]!.running) throw qubesdError(state, 'VM not running, cannot attach device, do you mean `assign`?');
    const options = attachOptions(state, args);
    const readOnly = options.readOnly ?? block.readOnly;
    if (!readOnly && block.readOnly) throw qubesdError(state, 'This device can be attached only read-only');
    const existing = attachmentOf(state, ref.backend, ref.port);
    if (existing) throw qubesdError(state, `Device ${ref.backend}:${ref.port} already attached to ${existing.frontend}`);
    const used = new Set(state.attachments.filter((a) => a.frontend === frontend).map((a) => a.frontendDev));
    const frontendDev = options.frontendDev ?? AVAILABLE_FRONTENDS.find((d) => !used.has(d));
    if (frontendDev === undefined) throw qubesdError(state, `no free frontend device in ${frontend}`);
    // libvirt refuses a second disk with the same target.
    if (used.has(frontendDev)) throw qubesdError(state, `internal error: target ${frontendDev} already exists in domain ${frontend}`);
    attach(dir, state, { backend: ref.backend, port: ref.port, frontend, frontendDev, readOnly }, block);
  });
}

/**
 * Detach's refusal of a device that is not attached to `frontend`. Its DeviceAction allows unknown devices (no "doesn't expose"),
 * but still needs the backend qube: R4.2 "no backend vm 'X'", R4.3 "no such backend vm!" (qubes-core-admin-client
 * qubesadmin/tools/qvm_device.py, tag v4.2.9 and main). R4.3's client then refuses a port its backend does not expose (or whose
 * identity differs) itself, "BACKEND:PORT:ID not found." (detach_device; the identity printed is the one given, else `*`).
 * Otherwise qubesd refuses: R4.2 DeviceNotAttached "device PORT of class block not attached to VM" (qubes-core-admin
 * qubes/devices.py, tag v4.2.9), R4.3 DeviceNotAssigned "block device PORT not attached to VM" (qubes/devices.py, detach).
 */
function notAttached(dir: string, state: SimState, ref: DeviceRef, frontend: string): SimToolError {
  const r43 = state.settings.release === '4.3';
  if (!state.vms[ref.backend]) return new SimToolError(r43 ? `${PROG}: error: no such backend vm!` : `${PROG}: error: no backend vm '${ref.backend}'`, 1);
  if (!r43) return qubesdError(state, `device ${ref.port} of class block not attached to ${frontend}`);
  const block = exposedBlocks(state, dir, ref.backend)[ref.port];
  if (!block || (ref.deviceId !== undefined && ref.deviceId !== deviceIdOf(ref.port, block))) {
    return new SimToolError(`${PROG}: error: ${ref.backend}:${ref.port}:${ref.deviceId ?? '*'} not found.`, 1);
  }
  return qubesdError(state, `block device ${ref.port} not attached to ${frontend}`);
}

function detachCommand(dir: string, args: ToolArgs): void {
  withState(dir, (state) => {
    const frontend = frontendOf(state, args.positionals[1]);
    const targets = args.positionals[2] === undefined ? state.attachments.filter((a) => a.frontend === frontend) : [parseDeviceRef(state, args.positionals[2])];
    for (const ref of targets) {
      const attachment = state.attachments.find((a) => a.frontend === frontend && a.backend === ref.backend && a.port === ref.port);
      if (!attachment) throw notAttached(dir, state, ref, frontend);
      detach(dir, state, attachment);
    }
  });
}

/** R4.3 builds the description from the qubesdb one: `<category>: hosted by <vm> <name or model>`. */
function describe(state: SimState, backend: string, block: SimBlock): string {
  if (state.settings.release === '4.2') return block.description;
  const [model = '', label = ''] = block.description.split(/ (.*)/s) as [string, string?];
  const name = label.slice(1, -1).replace(/_/g, ' ').trim();
  const serial = model.replace(/_/g, ' ').trim();
  return `Block_Storage: hosted by ${backend} ${name || serial || 'unknown block device'}`;
}

/** Rows as `column -t` prints them: columns padded to their width, two spaces apart, no trailing blanks. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]!.length))) ?? [];
  return rows.map((row) => `${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

function listCommand(dir: string, args: ToolArgs): string {
  const state = readState(dir);
  const vm = args.positionals[1];
  if (vm !== undefined && !state.vms[vm]) throw usageError(PROG, `no such domain: '${vm}'`);
  const backends = vm === undefined ? Object.keys(state.vms) : [vm];
  const rows = backends.flatMap((backend) =>
    Object.entries(exposedBlocks(state, dir, backend)).map(([port, block]) => {
      const a = attachmentOf(state, backend, port);
      const options = a ? `read-only=${a.readOnly ? 'yes' : 'no'}, frontend-dev=${a.frontendDev}` : '';
      const usedBy = a ? (state.settings.release === '4.3' ? `${a.frontend} (attached: ${options})` : `${a.frontend} (${options})`) : '';
      return [`${backend}:${port}`, describe(state, backend, block), usedBy];
    }),
  );
  rows.sort((x, y) => (x.join('\0') < y.join('\0') ? -1 : 1));
  const header = process.stdout.isTTY ? [['BACKEND:DEVID', 'DESCRIPTION', 'USED BY']] : [];
  return rows.length + header.length === 0 ? '' : table([...header, ...rows]);
}

/** `qvm-block [list|attach|detach] ...`. */
export function qvmBlock(dir: string, rawArgs: readonly string[]): string {
  const args = parseToolArgs(PROG, rawArgs, { valued: [['--option', '-o']], flags: [['--ro'], ['--persistent', '-p'], ['--required'], ['--quiet', '-q'], ['--verbose', '-v']] });
  const verb = args.positionals[0] === undefined ? 'list' : VERBS[args.positionals[0]];
  if (!verb) throw usageError(PROG, `argument command: invalid choice: '${args.positionals[0]}'`);
  if (verb === 'list') return listCommand(dir, args);
  if (verb === 'attach') attachCommand(dir, args);
  else detachCommand(dir, args);
  return '';
}
