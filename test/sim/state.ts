// The simulator's world: qubes, block devices, attachments and global prefs in DIR/state.json, each qube's dm mappings in
// DIR/vms/NAME/dm.json. Fake tools run concurrently (the orchestrator starts DisposableVMs in parallel), so every
// read-modify-write happens under one lock; nobody holds it while a service or a boot delay runs.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from './file-lock.ts';
import { sleepSync } from './sleep-sync.ts';

export type VmClass = 'AdminVM' | 'AppVM' | 'DispVM' | 'TemplateVM';

export interface SimVm {
  name: string;
  class: VmClass;
  template: string;
  label: string;
  netvm: string;
  running: boolean;
  template_for_dispvms: boolean;
  auto_cleanup: boolean;
  /** A qube that runs as a QEMU guest with a real kernel (qemu/guest-vm.ts) instead of host processes. */
  qemu?: boolean;
  /**
   * qubesd's write-once `uuid` property: a random v4 uuid given when the qube is made, never changed, never reused (a qube
   * removed and made again under its name gets a new one). qvm-create sets it; writeState gives one to qubes made without it.
   */
  uuid?: string;
  /**
   * `never`: the qube (or every qube based on this template) never gets a GUI session, so qubes.WaitForSession never returns
   * (a template without the GUI agent, or a user not logged in yet); `qubes-sim set DIR gui-session VM never|ready`.
   */
  guiSession?: 'never';
  /** qvm-features: `preload-dispvm-max`, `preload-dispvm` (the pool, names in order), `internal`... (preload.ts). */
  features?: Record<string, string>;
  /** qvm-tags; CreateDisposable adds `created-by-dom0` and `disp-created-by-dom0`. */
  tags?: string[];
  /** A preloaded disposable waiting in the pool is paused once its start completed (qubes/vm/dispvm.py, on_domain_started_dispvm). */
  paused?: boolean;
}

/** A block device a qube exposes to dom0: a file (a USB disk) or one of its own dm mappings. */
export interface SimBlock {
  readOnly: boolean;
  /** What the backend publishes in qubesdb (`DataTraveler_2.0 ()`, or a dm name). */
  description: string;
  file?: string;
  dmMinor?: number;
  /** R4.3's device identity (`add-block --device-id`); qvm-block.ts deviceIdOf gives one when absent. */
  deviceId?: string;
}

export interface SimAttachment {
  backend: string;
  port: string;
  frontend: string;
  frontendDev: string;
  readOnly: boolean;
  /** sha256 of the backing file at attach time (read-only attachments), to catch writes that should have been impossible. */
  hash?: string;
  /** Attached in dom0 but not yet visible in the frontend (the disk's delayed hot-plug is still to come: attachments.ts). */
  pendingPlug?: boolean;
}

export interface SimMapping {
  name: string;
  minor: number;
  table: string;
  readOnly: boolean;
  /** When `dmsetup create` made it (ms since the epoch): Qubes exports it to dom0 only exportDelayMs later (block-export.ts). */
  createdAt?: number;
}

export interface SimSettings {
  release: '4.2' | '4.3';
  /** Whether the DVM template's kernel has Qubes' no_part_scan parameter. */
  noPartScan: boolean;
  startDelayMs: number;
  /**
   * How much slower each start is per other qube starting at the same moment, in percent (absent = 0). Qubes' own measurements
   * (qubes-core-admin tests-data/dispvm_perf/nv54-mem16.json: 4 concurrent dom0 disposables 8.8 s each, one alone 6.3 s) show
   * concurrent starts share the machine: about 13 % per other start.
   */
  startContentionPct?: number;
  /** How long CreateDisposable takes to hand out a preloaded disposable that completed preloading (unpause, use_preload). */
  preloadHandoutMs?: number;
  /**
   * How long qubesd takes to answer one Admin API call on its socket, one call after the other (absent: QUBESD_CALL_MS).
   * qubesd handles a call in Python on one asyncio loop: parsing, the admin-permission event, the handler, logging.
   */
  qubesdCallMs?: number;
  /** How long after `dmsetup create` a mapping is exposed to dom0 (udev's RUN of udev-block-add-change); absent = 0. */
  exportDelayMs?: number;
  /** How long after `qvm-block attach` returns the disk appears in the frontend qube (xen-blkfront's hot-plug); absent = 0. */
  diskDelayMs?: number;
  /** `qemu`: every device DisposableVM (dm-device-*) is a QEMU guest; absent or `process`: every qube is host processes. */
  deviceVm?: 'process' | 'qemu';
  /** Whether QEMU guests run systemd-udevd with the qube's rules (default yes, as a qube does). */
  guestUdev?: boolean;
  /** QEMU guests power off when this process is gone (the test or shell that ran `init`). */
  ownerPid?: number;
  /** The kernel QEMU boots and the initramfs built for it (qemu/guest-image.ts). */
  guestImage?: { kernel: string; initrd: string };
}

export interface SimState {
  settings: SimSettings;
  vms: Record<string, SimVm>;
  /** backend VM -> port -> device. */
  blocks: Record<string, Record<string, SimBlock>>;
  attachments: SimAttachment[];
  prefs: { default_dispvm: string };
  /** When each start now under way ends (ms since the epoch), for startContentionPct; ended ones are dropped as they are seen. */
  startsUntil?: number[];
}

export const statePath = (dir: string): string => join(dir, 'state.json');
export const vmDir = (dir: string, vm: string): string => join(dir, 'vms', vm);
export const vmRoot = (dir: string, vm: string): string => join(dir, 'vms', vm, 'root');
/** Where a qube's running service and command processes are listed, so that killing the qube ends them (qvm-lifecycle.ts). */
export const vmProcsDir = (dir: string, vm: string): string => join(dir, 'vms', vm, 'procs');
export const transcriptPath = (dir: string): string => join(dir, 'transcript.bin');
export const violationsPath = (dir: string): string => join(dir, 'violations.log');
const mappingsPath = (dir: string, vm: string): string => join(vmDir(dir, vm), 'dm.json');

/** A tool's failure: the message goes to stderr as is, then the process exits with `exitCode`. */
export class SimToolError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function readState(dir: string): SimState {
  if (!existsSync(statePath(dir))) throw new SimToolError(`qubes-sim: ${dir} is not a simulator directory (run 'qubes-sim init')`);
  return JSON.parse(readFileSync(statePath(dir), 'utf8')) as SimState;
}

function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  renameSync(tmp, path);
}

export function writeState(dir: string, state: SimState): void {
  // Every qube has a uuid, as in qubesd, whichever tool made it (init and add-vm make qubes too).
  for (const vm of Object.values(state.vms)) vm.uuid ??= randomUUID();
  writeJson(statePath(dir), state);
}

/** The dm mappings a qube's kernel holds (none for a qube never started). */
export function readMappings(dir: string, vm: string): SimMapping[] {
  const path = mappingsPath(dir, vm);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SimMapping[]) : [];
}

export function writeMappings(dir: string, vm: string, mappings: readonly SimMapping[]): void {
  mkdirSync(vmDir(dir, vm), { recursive: true });
  writeJson(mappingsPath(dir, vm), mappings);
}

/** Runs `change` under the lock DIR/.lock on a fresh copy of the state, then saves the state. */
export function withState<T>(dir: string, change: (state: SimState) => T): T {
  readState(dir);
  return withLock(join(dir, '.lock'), 'state', () => {
    // For the simulator's own tests only: hold the lock long enough to signal a tool inside its critical section.
    const hold = Number(process.env.QUBES_SIM_TEST_HOLD_LOCK_MS ?? 0);
    if (hold > 0) sleepSync(Math.min(hold, 10_000));
    const state = readState(dir);
    const result = change(state);
    writeState(dir, state);
    return result;
  });
}
