// The simulator's one lock: concurrent fake tools (separate processes) serialize their read-modify-write of the world's files.
// A lock file created exclusively holds its owner's PID. Why the PID: a tool can die inside its critical section (qvm-run's
// relay SIGKILLs a service's process group when dom0 drops the call, which may catch a VM tool recording its call), and its
// lock must not make every later tool wait; a lock whose owner is gone is broken at once, one of unknown owner after a while.
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
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

/** Whether the lock at `path` has lost its owner (false when it is gone meanwhile). */
function isStale(path: string): boolean {
  try {
    const age = Date.now() - statSync(path).mtimeMs;
    const pid = Number(readFileSync(path, 'latin1'));
    if (age > STALE_MS) return true;
    if (Number.isInteger(pid) && pid > 0) return !ownerAlive(pid);
    return age > UNWRITTEN_MS;
  } catch {
    return false;
  }
}

/** Breaks a stale lock: renamed away first (atomic), so of several tools seeing it stale only one removes it. */
function breakLock(path: string): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
    unlinkSync(aside);
  } catch {
    // Broken or released by someone else meanwhile.
  }
}

function acquire(path: string, what: string): void {
  const started = Date.now();
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (isStale(path)) {
      breakLock(path);
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
