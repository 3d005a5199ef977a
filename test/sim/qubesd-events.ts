// The events the simulated qubesd sends (qubesd.ts serves them): the fake tools append one JSON line per event to
// DIR/qubesd/events.log, in the order they change the world (they append under the state lock), and the server tails it.
// Nothing is written until a `qubes-sim qubesd` has created the log: like qubesd, events exist only for listeners.
// Which events, and their arguments, per release (QubesOS/qubes-core-admin):
// - qvm-create: `domain-add` on the app with vm=NAME; qvm-remove and an auto_cleanup DisposableVM's end: `domain-delete`
//   (qubes/app.py VMCollection.__setitem__ / __delitem__).
// - qvm-start: `domain-pre-start` (start_guid), `domain-spawn` (start_guid), `domain-start` (start_guid) on the qube; a
//   stop: `domain-stopped`, then `domain-shutdown` (qubes/vm/qubesvm.py start, _ensure_shutdown_handled).
// - block devices appearing or going in a running backend (drives, and dm mappings made by the fake dmsetup, which the qube
//   exports), and a backend starting with devices: R4.2 fires only
//   `device-list-change:block` (release4.2 qubes/ext/block.py on_qdb_change); R4.3 fires it, then `device-removed:block`
//   port=VM:PORT for each gone, then `device-added:block` device=VM:PORT:DEVICE_ID for each new (main qubes/ext/utils.py
//   device_list_change); an R4.3 backend stopping fires `device-removed:block` for each of its devices (main
//   qubes/ext/block.py on_domain_shutdown), R4.2 nothing.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMappings, readState, SimToolError, type SimBlock, type SimState } from './state.ts';

export const qubesdDir = (dir: string): string => join(dir, 'qubesd');
export const eventsLogPath = (dir: string): string => join(qubesdDir(dir), 'events.log');

/** One line of the log: an event as qubesd would send it, or bytes to send as they are (garbage injection). */
export type LoggedEvent = { readonly s: string | null; readonly e: string; readonly k: Record<string, string> } | { readonly raw: string };

/** Creates the log if missing (the server does, before it listens). */
export function openEventsLog(dir: string): void {
  mkdirSync(qubesdDir(dir), { recursive: true });
  if (!existsSync(eventsLogPath(dir))) writeFileSync(eventsLogPath(dir), '');
}

function append(dir: string, entries: readonly LoggedEvent[]): void {
  if (entries.length === 0 || !existsSync(eventsLogPath(dir))) return;
  // One write for all lines of one change: O_APPEND keeps them together and in order.
  appendFileSync(eventsLogPath(dir), entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
}

/** An event on the app (subject null) or a qube. */
export function recordEvent(dir: string, subject: string | null, event: string, kwargs: Record<string, string> = {}): void {
  append(dir, [{ s: subject, e: event, k: kwargs }]);
}

/**
 * The simulator's device identity for a block: R4.3 builds it as `<parent identity>:<interface or partition number>`
 * (qubes/ext/block.py BlockDevice.device_id), the parent being the USB device (`vendor:product:serial:interfaces`). The
 * simulator has no USB layer: the serial is made from the backing file's path, so one file keeps its identity across
 * unplug and plug, and two files differ.
 */
export function simDeviceId(block: SimBlock): string {
  const serial = createHash('sha256').update(block.file ?? `dm-${block.dmMinor ?? ''}`).digest('hex').slice(0, 16).toUpperCase();
  return `1d6b:0104:SIM${serial}:m080650:None`;
}

/** The events for `backend`'s devices `added` and `removed` (ports), as its release fires them. */
export function blockChangeEvents(state: SimState, backend: string, added: Readonly<Record<string, SimBlock>>, removed: readonly string[]): LoggedEvent[] {
  if (Object.keys(added).length + removed.length === 0) return [];
  const events: LoggedEvent[] = [{ s: backend, e: 'device-list-change:block', k: {} }];
  if (state.settings.release === '4.2') return events;
  for (const port of removed) events.push({ s: backend, e: 'device-removed:block', k: { port: `${backend}:${port}` } });
  for (const [port, block] of Object.entries(added)) events.push({ s: backend, e: 'device-added:block', k: { device: `${backend}:${port}:${simDeviceId(block)}` } });
  return events;
}

/** Records block devices appearing in or leaving a running backend. */
export function recordBlockChange(dir: string, state: SimState, backend: string, added: Readonly<Record<string, SimBlock>>, removed: readonly string[]): void {
  if (!state.vms[backend]?.running) return;
  append(dir, blockChangeEvents(state, backend, added, removed));
}

/** A qube came up: its start events, then the devices it exposes as its qubesdb fills. */
export function recordStart(dir: string, state: SimState, vm: string): void {
  const guid = { start_guid: 'True' };
  append(dir, [
    { s: vm, e: 'domain-pre-start', k: guid },
    { s: vm, e: 'domain-spawn', k: guid },
    { s: vm, e: 'domain-start', k: guid },
    ...blockChangeEvents(state, vm, state.blocks[vm] ?? {}, []),
  ]);
}

/**
 * A qube went down (before its state changes): R4.3 reports its devices gone (its drives and its exported dm mappings; a
 * QEMU guest's mappings are left out, as asking the guest while it powers off is not worth it), then the stop events.
 */
export function recordStop(dir: string, state: SimState, vm: string, removed: boolean): void {
  const mappings = state.vms[vm]?.qemu ? [] : readMappings(dir, vm).map((m) => `dm-${m.minor}`);
  const ports = state.settings.release === '4.3' ? [...Object.keys(state.blocks[vm] ?? {}), ...mappings] : [];
  append(dir, [
    { s: vm, e: 'domain-stopped', k: {} },
    ...ports.map((port): LoggedEvent => ({ s: vm, e: 'device-removed:block', k: { port: `${vm}:${port}` } })),
    { s: vm, e: 'domain-shutdown', k: {} },
    ...(removed ? [{ s: null, e: 'domain-delete', k: { vm } }] : []),
  ]);
}

const EMIT_USAGE = 'usage: qubes-sim qubesd-emit DIR (SUBJECT|- EVENT [KEY=VALUE...] | --raw HEX)';

/** `qubesd-emit DIR SUBJECT EVENT [KEY=VALUE...]` (`-` for the app) or `--raw HEX`: for tests, what qubesd would not say. */
export function emitCommand(dir: string, args: readonly string[]): void {
  readState(dir);
  if (!existsSync(eventsLogPath(dir))) throw new SimToolError('qubes-sim: no qubesd has run in this directory (start `qubes-sim qubesd DIR` first)');
  if (args[0] === '--raw') {
    if (args.length !== 2 || !/^(?:[0-9a-f]{2})+$/i.test(args[1]!)) throw new SimToolError(EMIT_USAGE, 64);
    return append(dir, [{ raw: args[1]! }]);
  }
  const [subject, event, ...pairs] = args;
  if (subject === undefined || event === undefined || pairs.some((pair) => !pair.includes('='))) throw new SimToolError(EMIT_USAGE, 64);
  const kwargs = Object.fromEntries(pairs.map((pair) => pair.split(/=(.*)/s).slice(0, 2) as [string, string]));
  append(dir, [{ s: subject === '-' ? null : subject, e: event, k: kwargs }]);
}
