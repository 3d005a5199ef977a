// The simulator's one lock: concurrent fake tools (separate processes) serialize their read-modify-write of the world's files.
// A lock file created exclusively holds its owner's PID. Why the PID: a tool can die inside its critical section (qvm-run's
// relay SIGKILLs a service's process group when dom0 drops the call, which may catch a VM tool recording its call), and its
// lock must not make every later tool wait; a lock whose owner is gone is broken at once, one of unknown owner after a while.
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { SimToolError } from './state.ts';
import { sleepSync } from './sleep-sync.ts';

/** A lock older than this is broken whoever holds it: nothing holds one for more than a few file operations. */
const STALE_MS = 30_000;
/** A lock file still without its PID this long after creation lost its owner between create and write. */
const UNWRITTEN_MS = 2_000;
const GIVE_UP_MS = 60_000;

function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The inode of the lock file at `path` when it has lost its owner; undefined while it has one (or is gone). */
function staleLock(path: string): number | undefined {
  try {
    const { ino, mtimeMs } = statSync(path);
    const age = Date.now() - mtimeMs;
    const pid = Number(readFileSync(path, 'latin1'));
    if (age > STALE_MS) return ino;
    if (Number.isInteger(pid) && pid > 0) return ownerAlive(pid) ? undefined : ino;
    return age > UNWRITTEN_MS ? ino : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `path` exclusively with our PID in it; false when it exists. */
function create(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
}

/**
 * Breaks the stale lock file `ino` at `path`. Why under a breaker lock of its own, and only that very file: between one tool's
 * look at a stale lock and its removal, another tool may have broken it and taken the lock anew; removing that live lock let two
 * tools write the state at once, and a qube qvm-create had just added vanished. A breaker whose owner died is cleared.
 */
function breakLock(path: string, ino: number): void {
  const breaker = `${path}.breaking`;
  if (!create(breaker)) {
    if (staleLock(breaker) !== undefined) rmSync(breaker, { force: true });
    // Another tool is breaking it, a moment's work.
    else sleepSync(1);
    return;
  }
  try {
    if (staleLock(path) === ino) rmSync(path, { force: true });
  } finally {
    rmSync(breaker, { force: true });
  }
}

/**
 * Test hook (test/sim-tests/file-lock.test.ts): a tool that found the lock stale creates the file that
 * QUBES_SIM_TEST_PAUSE_BEFORE_BREAK names and waits until the test removes it, so that another tool can break and take the lock
 * in between, the race that once lost a qube.
 */
function pauseBeforeBreak(): void {
  const marker = process.env.QUBES_SIM_TEST_PAUSE_BEFORE_BREAK;
  if (!marker) return;
  writeFileSync(marker, '');
  while (existsSync(marker)) sleepSync(10);
}

function acquire(path: string, what: string): void {
  const started = Date.now();
  for (;;) {
    if (create(path)) return;
    const stale = staleLock(path);
    if (stale !== undefined) {
      pauseBeforeBreak();
      breakLock(path, stale);
      continue;
    }
    if (Date.now() - started > GIVE_UP_MS) throw new SimToolError(`qubes-sim: the ${what} lock was held for a minute`);
    sleepSync(1 + Math.floor(Math.random() * 5));
  }
}

/** Removes our lock; one broken meanwhile (we looked dead or stale to another tool) is already gone, which is no error. */
function release(path: string): void {
  try {
    if (readFileSync(path, 'latin1') === String(process.pid)) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Runs `work` holding the lock file `path`; `what` names it in the give-up error ("state", "calls"). */
export function withLock<T>(path: string, what: string, work: () => T): T {
  acquire(path, what);
  try {
    return work();
  } finally {
    release(path);
  }
}
