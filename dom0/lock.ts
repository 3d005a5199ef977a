// One command per source device at a time: an exclusive, non-blocking lock file per device under RUNDIR/locks/. A second
// command fails at once naming the holder; a lock left by a dead process is taken over with a warning.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, lstat, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from '../shared/errors.ts';
import { BoundedReadError, readBoundedFile } from './bounded-file.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { sourceLabel, type SourceSpec } from './names.ts';
import { warning } from './output.ts';
import { runSubdir, sourceFileKey } from './run-dir.ts';

export interface SourceLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

interface Holder {
  readonly pid: number;
  /** Start time of the process (field 22 of /proc/PID/stat), to tell a reused pid from the holder; '' when unknown. */
  readonly start: string;
}

/** The start time of a process, or '' when it cannot be read (not Linux, or gone). */
function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function isAlive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(holder.pid);
  return holder.start === '' || start === '' || start === holder.start;
}

function parseHolder(text: string): Holder | undefined {
  const match = /^([0-9]{1,10}) ?([0-9]{0,20})\n?$/.exec(text);
  return match ? { pid: Number(match[1]), start: match[2]! } : undefined;
}

/** A lock file holds "PID START\n", a few dozen bytes; a bigger one is not a holder we can name. */
const MAX_LOCK_BYTES = 64;

/**
 * The holder written in the lock file at `path` (undefined when its content names none) and the file's inode; undefined when
 * there is no lock file. Read bounded: a symlink, FIFO or device in place of a lock file is an OperationError naming it.
 */
async function readHolder(path: string): Promise<{ holder: Holder | undefined; ino: number } | undefined> {
  try {
    const { bytes, ino } = await readBoundedFile(path, MAX_LOCK_BYTES, 'lock file');
    return { holder: parseHolder(bytes.toString('latin1')), ino };
  } catch (error) {
    if (!(error instanceof BoundedReadError)) throw error;
    if (error.problem === 'missing') return undefined;
    // An oversized regular file is garbage, not a holder: it is taken over like any unreadable lock (lstat gives its inode).
    if (error.problem === 'too-large') {
      const stats = await lstat(path).catch(() => undefined);
      return stats && { holder: undefined, ino: stats.ino };
    }
    throw new OperationError(`${error.message}: remove it if no qvm-block-split command is running`, { cause: error });
  }
}

/** Creates `path` holding our pid, atomically: written to a private file first, then hard-linked (link fails if it exists). */
async function createLock(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  // 'wx': never write through something already at the temporary name.
  await writeFile(tmp, content, { mode: 0o640, flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Moves a stale lock (seen with inode `ino`) out of the way. Renaming is atomic; if another taker replaced the file meanwhile,
 * the inode differs and we put theirs back instead of stealing it.
 */
async function removeStale(path: string, ino: number): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((await lstat(aside)).ino !== ino) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/** The lock of a source is held by a live command: its pid, for messages. */
export class LockHeldError extends OperationError {
  constructor(
    readonly pid: number,
    message: string,
  ) {
    super(message);
  }
}

const lockPath = async (source: SourceSpec): Promise<string> => join(await runSubdir('locks'), `${sourceFileKey(source)}.lock`);

/** Takes the lock of `source`; throws LockHeldError naming the command holding it. */
export async function takeSourceLock(source: SourceSpec, warn: (message: string) => void = warning): Promise<SourceLock> {
  const label = sourceLabel(source);
  const path = await lockPath(source);
  const mine = `${process.pid} ${processStart(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createLock(path, mine)) return { path, release: () => releaseLock(path, mine) };
    const found = await readHolder(path);
    if (!found) continue;
    const { holder, ino } = found;
    if (holder && isAlive(holder)) throw new LockHeldError(holder.pid, `another qvm-block-split command is using ${label} (pid ${holder.pid})`);
    warn(`taking over the lock of ${label} left by ${holder ? `pid ${holder.pid}, which is no longer running` : 'an unreadable lock file'}`);
    await removeStale(path, ino);
  }
  throw new OperationError(`could not take the lock of ${label}: other commands keep taking it (${path})`);
}

async function releaseLock(path: string, mine: string): Promise<void> {
  const found = await readBoundedFile(path, MAX_LOCK_BYTES, 'lock file').catch(() => undefined);
  // Why: after a takeover by someone else (we were wrongly seen as dead), the file is theirs and must stay.
  if (found?.bytes.toString('latin1') === mine) await unlink(path);
}

/** Who holds the lock of `source`, without taking it: undefined when nobody does (or the file names no process). */
export async function lockHolder(source: SourceSpec): Promise<{ readonly pid: number; readonly alive: boolean } | undefined> {
  const holder = (await readHolder(await lockPath(source)))?.holder;
  return holder && { pid: holder.pid, alive: isAlive(holder) };
}

/** The pids of live commands holding any source lock. Lock files that cannot be read name no live command: none of ours wrote them. */
export async function liveLockHolders(): Promise<number[]> {
  const directory = await runSubdir('locks');
  const pids: number[] = [];
  for (const name of (await readdir(directory)).filter((entry) => entry.endsWith('.lock'))) {
    const holder = (await readHolder(join(directory, name)).catch(() => undefined))?.holder;
    if (holder && isAlive(holder)) pids.push(holder.pid);
  }
  return pids;
}

/** Takes the lock of `source` and registers its release on `stack`; the release survives commit(). */
export async function acquireSourceLock(source: SourceSpec, stack: CleanupStack): Promise<SourceLock> {
  const lock = await takeSourceLock(source);
  stack.defer(`release the lock of ${sourceLabel(source)}`, () => lock.release(), { always: true });
  return lock;
}
