// Parsers for what Qubes lists: qubesd's replies (admin.vm.List, admin.vm.CurrentState, properties, CreateDisposable; strict:
// machine output), and `qvm-block list` (tolerant: it is human output whose wording changed between R4.2 and R4.3; used for
// status and diagnostics only, never to choose a device).
import { ParseError } from '../shared/errors.ts';
import { isVmName, type VmName } from './names.ts';

export interface VmInfo {
  readonly name: VmName;
  /** Running, Halted, Paused, Transient, ... as qubesd spells it (vm.get_power_state()). */
  readonly state: string;
  /** AdminVM, AppVM, DispVM, TemplateVM, StandaloneVM. */
  readonly vmClass: string;
  /** R4.3 lists each qube's uuid; R4.2 does not. */
  readonly uuid?: string;
}

/**
 * One row of `qvm-block list`: the device's `BACKEND:PORT` (its first column, which no description can reach) and the rest of
 * the row as printed, description and "used by" together. They are not split: with `column -t` alignment and R4.3 turning `_`
 * into spaces, a description can hold any run of spaces and text shaped like a "used by" column (qubesd keeps
 * `A-Za-z0-9()+,-.:=_/` and space in it: QubesOS/qubes-core-admin qubes/ext/block.py), so the boundary cannot be found.
 */
export interface BlockRow {
  readonly backend: VmName;
  readonly port: string;
  readonly rest: string;
}

const WORD = /^[A-Za-z]{1,32}$/;

/** How Qubes writes a qube's uuid: Python's str(uuid.UUID), lowercase, with hyphens. */
const UUID_TEXT = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const QUBE_UUID = new RegExp(`^${UUID_TEXT}$`);
const ADMIN_VM_LIST_LINE = new RegExp(`^(\\S+) class=(\\S+) state=(\\S+)(?: uuid=(${UUID_TEXT}))?$`);

/**
 * Parses qubesd's admin.vm.List reply: one `NAME class=CLASS state=STATE` line per qube, R4.3 adding ` uuid=UUID`
 * (QubesOS/qubes-core-admin qubes/api/admin.py vm_list, tag v4.2.39 and main). Strict: it is machine output.
 */
export function parseAdminVmList(reply: string): VmInfo[] {
  const vms: VmInfo[] = [];
  let offset = 0;
  for (const line of reply.split('\n')) {
    const lineOffset = offset;
    offset += line.length + 1;
    if (line === '') continue;
    const match = ADMIN_VM_LIST_LINE.exec(line);
    if (!match) throw new ParseError('admin.vm.List reply', 'line', lineOffset, 'expected NAME class=CLASS state=STATE');
    const [, name, vmClass, state, uuid] = match as unknown as [string, string, string, string, string | undefined];
    if (!isVmName(name)) throw new ParseError('admin.vm.List reply', 'NAME', lineOffset, 'not a qube name');
    if (!WORD.test(state)) throw new ParseError('admin.vm.List reply', 'state', lineOffset, 'not a state word');
    if (!WORD.test(vmClass)) throw new ParseError('admin.vm.List reply', 'class', lineOffset, 'not a class word');
    vms.push({ name, state, vmClass, ...(uuid === undefined ? {} : { uuid }) });
  }
  return vms;
}

/**
 * The power states qubesd reports (QubesOS/qubes-core-admin qubes/vm/qubesvm.py get_power_state, R4.2 and R4.3); 'NA' is the
 * client's word for a qube it could not ask about, accepted here too.
 */
const POWER_STATES = new Set(['Halted', 'Transient', 'Running', 'Paused', 'Suspended', 'Halting', 'Dying', 'Crashed', 'NA']);

/**
 * The power state in qubesd's admin.vm.CurrentState reply: `KEY=VALUE` words joined by one space, `mem`, `mem_static_max`,
 * `cputime` and `power_state` in R4.2 and R4.3 (qubes/api/admin.py vm_current_state). Strict on what is read (one
 * `power_state`, a state qubesd has); other keys are passed over if they are words with a number, so a key qubesd adds later does
 * not break a check, but nothing else in the reply is.
 */
export function parseCurrentState(reply: string, what: string): string {
  const refuse = (why: string) => new ParseError('qubesd', 'admin.vm.CurrentState reply', 0, `${what}: ${why} (${JSON.stringify(reply.slice(0, 120))})`);
  let state: string | undefined;
  for (const word of reply.split(' ')) {
    const pair = /^([a-z_]{1,32})=(\S{0,32})$/.exec(word);
    if (!pair) throw refuse('not KEY=VALUE words');
    const [, key, value] = pair as unknown as [string, string, string];
    if (key === 'power_state') {
      if (state !== undefined) throw refuse('power_state given twice');
      if (!POWER_STATES.has(value)) throw refuse('not a power state qubesd has');
      state = value;
    } else if (!/^\d{1,20}$/.test(value)) {
      throw refuse(`${key} is not a number`);
    }
  }
  if (state === undefined) throw refuse('no power_state');
  return state;
}

/**
 * The value in qubesd's admin.vm.property.Get / admin.property.Get reply, `default=True|False type=TYPE VALUE` (qubes/api/admin.py
 * _serialize_property: TYPE is vm, int, bool, label or str; an unset qube property is the empty VALUE).
 */
export function parsePropertyReply(reply: string, what: string): string {
  const match = /^default=(?:True|False) type=(?:vm|int|bool|label|str) ([^\n\0]*)$/.exec(reply);
  if (!match) throw new ParseError('qubesd', 'reply', 0, `${what}: qubesd's reply is not a property value (${JSON.stringify(reply.slice(0, 80))})`);
  return match[1]!;
}

const DEVICE_ID = /^([A-Za-z][A-Za-z0-9_.-]{0,30}):([^\s:]+)$/;

/**
 * Parses `qvm-block list`: `BACKEND:DEVID  DESCRIPTION  USED BY` aligned by `column -t` (qubesadmin/tools/__init__.py
 * print_table, qubesadmin/tools/qvm_device.py prepare_table: the ident is `backend:port`, on R4.2 and R4.3 alike), a header only
 * on a terminal. Lines that do not start with a device are skipped, not fatal.
 */
export function parseBlockList(stdout: string): BlockRow[] {
  const rows: BlockRow[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^(\S+)(?:\s+(.*))?$/.exec(line.trim());
    const id = DEVICE_ID.exec(match?.[1] ?? '');
    // The header line (on a terminal) has the shape of a device too.
    if (!match || !id || !isVmName(id[1]!) || match[1] === 'BACKEND:DEVID') continue;
    rows.push({ backend: id[1] as VmName, port: id[2]!, rest: (match[2] ?? '').trimEnd() });
  }
  return rows;
}

const FRONTEND_DEV = /(?:^|[ ,(:])frontend-dev=(xvd[a-z]{1,2}|sd[a-z]{1,2})(?=[,)])/;

/**
 * The frontend device `vm` gave the row's device, when the row ends with `vm`'s "used by" entry: R4.2 `vm (read-only=no,
 * frontend-dev=xvdi)`, R4.3 `vm (attached: frontend-dev=xvdi, read-only=no)` (qvm_device.py _frontend_desc). Only for a row
 * whose description the caller controls (our own mapping's, `split-dm-crypt-<hex>`), and only for the `vm` it attached to:
 * a description can end with such text, but not name that qube unless its author knew it.
 */
export function frontendDevOf(row: BlockRow, vm: VmName | string): string | undefined {
  const used = / {2,}(\S+) \((?:attached: )?([^()]*)\)$/.exec(row.rest);
  if (!used || used[1] !== vm) return undefined;
  return FRONTEND_DEV.exec(`(${used[2]})`)?.[1];
}

/** One qube as qubesd describes it (its admin.vm.List line, its uuid and netvm properties); `netvm` is '' for none. */
export interface VmFacts {
  readonly name: VmName;
  readonly uuid: string;
  readonly vmClass: string;
  readonly state: string;
  readonly netvm: string;
}

/** The value of a qubesd reply (what follows `0\0`) when it matches `value` whole; anything else is refused, naming what was `expected`. */
function qubesdReplyValue(reply: string, value: RegExp, what: string, expected: string): string {
  const match = new RegExp(`^(${value.source})$`).exec(reply);
  if (!match) throw new ParseError('qubesd', 'reply', 0, `${what}: qubesd's reply is not ${expected} (${JSON.stringify(reply.slice(0, 80))})`);
  return match[1]!;
}

/** The value of qubesd's reply to CreateDisposable with the `uuid` payload: exactly `uuid:UUID`; anything else is refused. */
export function parseCreateDisposableReply(reply: string, what: string): string {
  return qubesdReplyValue(reply, new RegExp(`uuid:${UUID_TEXT}`), what, 'a qube uuid').slice('uuid:'.length);
}

/**
 * The value of qubesd's reply to CreateDisposable with no payload: exactly `dispNNNN`, the only names qubesd gives the disposables it
 * makes (qubes/vm/dispvm.py gen_disposable: "disp" and get_new_unused_dispid's number below 10000); anything else is refused.
 */
export function parseCreateDisposableNameReply(reply: string, what: string): string {
  return qubesdReplyValue(reply, /disp[0-9]{1,4}/, what, "a disposable's name");
}
