// Parsers for the listings of `qvm-ls --raw-data` (strict: it is machine output) and `qvm-block list` (tolerant: it is human
// output whose wording changed between R4.2 and R4.3; used for status and diagnostics only, never to choose a device).
import { ParseError } from '../shared/errors.ts';
import { isVmName, type VmName } from './names.ts';

export interface VmInfo {
  readonly name: VmName;
  /** Running, Halted, Paused, Transient, ... as qvm-ls spells it. */
  readonly state: string;
  /** AdminVM, AppVM, DispVM, TemplateVM, StandaloneVM. */
  readonly vmClass: string;
}

export interface BlockUser {
  readonly vm: VmName;
  /** The option text in parentheses, e.g. "read-only=no, frontend-dev=xvdi"; empty when absent. */
  readonly options: string;
}

export interface BlockDevice {
  readonly backend: VmName;
  readonly port: string;
  readonly description: string;
  readonly usedBy: BlockUser | undefined;
}

const WORD = /^[A-Za-z]{1,32}$/;

/** Parses `qvm-ls --raw-data --fields NAME,STATE,CLASS`: one `name|state|class` line per qube, nothing else. */
export function parseVmList(stdout: string): VmInfo[] {
  const vms: VmInfo[] = [];
  let offset = 0;
  for (const line of stdout.split('\n')) {
    const lineOffset = offset;
    offset += line.length + 1;
    if (line === '') continue;
    const fields = line.split('|');
    if (fields.length !== 3) throw new ParseError('qvm-ls output', 'line', lineOffset, `expected 3 fields separated by |, found ${fields.length}`);
    const [name, state, vmClass] = fields as [string, string, string];
    if (!isVmName(name)) throw new ParseError('qvm-ls output', 'NAME', lineOffset, 'not a qube name');
    if (!WORD.test(state)) throw new ParseError('qvm-ls output', 'STATE', lineOffset, 'not a state word');
    if (!WORD.test(vmClass)) throw new ParseError('qvm-ls output', 'CLASS', lineOffset, 'not a class word');
    vms.push({ name, state, vmClass });
  }
  return vms;
}

// "testvm (read-only=no, frontend-dev=xvdi)" or just "testvm".
const USED_BY = /^([A-Za-z][A-Za-z0-9_.-]{0,30})(?: \((.*)\))?$/;
const DEVICE_ID = /^([A-Za-z][A-Za-z0-9_.-]{0,30}):([^\s:]+)(?::\S*)?$/;

/** The "used by" column, when `column` is one; a description such as "Foo (bar)" is told apart by requiring option syntax. */
function parseUser(column: string, certain: boolean): BlockUser | undefined {
  const match = USED_BY.exec(column);
  if (!match || !isVmName(match[1]!)) return undefined;
  const options = match[2] ?? '';
  if (!certain && !options.includes('=')) return undefined;
  return { vm: match[1] as VmName, options };
}

/**
 * Parses `qvm-block list`: columns separated by two or more spaces, `BACKEND:DEVID  DESCRIPTION  USED BY`, a header only on a
 * terminal. R4.2: `sys-usb:sda  DataTraveler_2.0 () 246 MiB  testvm (read-only=no, frontend-dev=xvdi)`; R4.3 descriptions
 * read `Block_Storage: hosted by sys-usb ...`. Lines that do not fit are skipped, not fatal.
 */
export function parseBlockList(stdout: string): BlockDevice[] {
  const devices: BlockDevice[] = [];
  for (const line of stdout.split('\n')) {
    const columns = line.trim().split(/ {2,}|\t+/).filter((column) => column !== '');
    if (columns[0] === 'BACKEND:DEVID') continue;
    const id = DEVICE_ID.exec(columns[0] ?? '');
    if (!id || !isVmName(id[1]!)) continue;
    const rest = columns.slice(1);
    const last = rest.length > 0 ? parseUser(rest[rest.length - 1]!, rest.length >= 2) : undefined;
    const descriptionColumns = last ? rest.slice(0, -1) : rest;
    devices.push({ backend: id[1] as VmName, port: id[2]!, description: descriptionColumns.join('  '), usedBy: last });
  }
  return devices;
}
