// The simulator's world: qubes, block devices, attachments and dm mappings, kept in DIR/state.json under a lock, because the
// orchestrator runs several fake tools at once (DisposableVMs start concurrently).
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SimVm {
  name: string;
  klass: 'AdminVM' | 'AppVM' | 'DispVM' | 'TemplateVM';
  template?: string;
  label: string;
  netvm: string;
  running: boolean;
  templateForDispvms: boolean;
  autoCleanup: boolean;
}

export interface SimBlock {
  backend: string;
  port: string;
  readOnly: boolean;
  description: string;
  /** A file-backed disk, or a dm mapping made inside `backend`. */
  file?: string;
  dmName?: string;
}

export interface SimAttachment {
  backend: string;
  port: string;
  frontend: string;
  frontendDev: string;
  readOnly: boolean;
  /** sha256 of a read-only file at attach time, to catch writes the model should have refused. */
  hash?: string;
}

export interface SimMapping {
  name: string;
  minor: number;
  table: string;
  readOnly: boolean;
}

export interface SimState {
  release: '4.2' | '4.3';
  noPartScan: boolean;
  startDelayMs: number;
  vms: Record<string, SimVm>;
  blocks: SimBlock[];
  attachments: SimAttachment[];
  mappings: Record<string, SimMapping[]>;
  prefs: { default_dispvm: string };
}

export const statePath = (dir: string): string => join(dir, 'state.json');
export const vmRoot = (dir: string, vm: string): string => join(dir, 'vms', vm, 'root');

export function readState(dir: string): SimState {
  return JSON.parse(readFileSync(statePath(dir), 'utf8')) as SimState;
}

function writeState(dir: string, state: SimState): void {
  const tmp = `${statePath(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 1));
  renameSync(tmp, statePath(dir));
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Runs `change` on the state under DIR/.lock (a directory: mkdir is atomic), then saves it. */
export function withState<T>(dir: string, change: (state: SimState) => T): T {
  const lock = join(dir, '.lock');
  for (let waited = 0; ; waited += 5) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 30_000) rmdirSync(lock);
      if (waited > 60_000) throw new Error('qubes-sim: state lock held for a minute');
      sleepSync(5);
    }
  }
  try {
    const state = readState(dir);
    const result = change(state);
    writeState(dir, state);
    return result;
  } finally {
    rmdirSync(lock);
  }
}

/** A tool's failure: message to stderr, exit code. */
export class SimToolError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
