import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import { CleanupStack } from '../../dom0/cleanup-stack.ts';
import { acquireSourceLock, liveLockHolders, lockHolder, LockHeldError, takeSourceLock } from '../../dom0/lock.ts';
import { parseSourceSpec } from '../../dom0/names.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const root = useTmpDir();
let runDir = '';
let n = 0;
beforeEach(() => {
  runDir = join(root, `run${n++}`);
  process.env.SPLIT_DM_CRYPT_RUNDIR = runDir;
});

const source = parseSourceSpec('sys-usb:sda');

/** A pid that certainly belongs to no running process: a child that has already exited. */
function deadPid(): number {
  return Number(execFileSync('sh', ['-c', 'echo $$']).toString().trim());
}

describe('source lock', () => {
  it('refuses a second taker at once, naming the holder', async () => {
    const lock = await takeSourceLock(source);
    expect(readFileSync(lock.path, 'latin1')).toMatch(new RegExp(`^${process.pid} [0-9]*\\n$`));
    await expect(takeSourceLock(source)).rejects.toThrow(OperationError);
    await expect(takeSourceLock(source)).rejects.toThrow(`another qvm-block-split command is using sys-usb:sda (pid ${process.pid})`);
    await lock.release();
    expect(existsSync(lock.path)).toBe(false);
    const again = await takeSourceLock(source);
    await again.release();
  });

  it('locks each device separately (a / in the port included)', async () => {
    const a = await takeSourceLock(source);
    const b = await takeSourceLock(parseSourceSpec('sys-usb:sdb'));
    const c = await takeSourceLock(parseSourceSpec('sys-usb:mapper/x'));
    expect(new Set([a.path, b.path, c.path]).size).toBe(3);
    await Promise.all([a, b, c].map((lock) => lock.release()));
    expect(readdirSync(join(runDir, 'locks'))).toEqual([]);
  });

  it('takes over a stale lock of a dead process with a warning', async () => {
    const first = await takeSourceLock(source);
    const pid = deadPid();
    writeFileSync(first.path, `${pid} 1\n`);
    const warnings: string[] = [];
    const lock = await takeSourceLock(source, (m) => warnings.push(m));
    expect(warnings).toEqual([`taking over the lock of sys-usb:sda left by pid ${pid}, which is no longer running`]);
    expect(readFileSync(lock.path, 'latin1')).toMatch(new RegExp(`^${process.pid} `));
    await lock.release();
    expect(readdirSync(join(runDir, 'locks'))).toEqual([]);
  });

  it('treats a live pid with another start time as reused, hence stale', async () => {
    const first = await takeSourceLock(source);
    writeFileSync(first.path, `${process.pid} 1\n`);
    const warnings: string[] = [];
    const lock = await takeSourceLock(source, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    await lock.release();
  });

  it('does not remove a lock that another command has taken over', async () => {
    const lock = await takeSourceLock(source);
    writeFileSync(lock.path, '1 1\n');
    await lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });

  it('acquireSourceLock releases on unwind, even after commit()', async () => {
    const stack = new CleanupStack();
    const lock = await acquireSourceLock(source, stack);
    stack.commit();
    await stack.unwind();
    expect(existsSync(lock.path)).toBe(false);
  });

  it('says who holds a lock without taking it', async () => {
    expect(await lockHolder(source)).toBeUndefined();
    const lock = await takeSourceLock(source);
    expect(await lockHolder(source)).toEqual({ pid: process.pid, alive: true });
    expect(await liveLockHolders()).toEqual([process.pid]);
    const error = await takeSourceLock(source).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as LockHeldError).pid).toBe(process.pid);
    const pid = deadPid();
    writeFileSync(lock.path, `${pid} 1\n`);
    expect(await lockHolder(source)).toEqual({ pid, alive: false });
    expect(await liveLockHolders()).toEqual([]);
  });

  // A lock file linked to /dev/zero made detach fail with "Invalid string length"; a FIFO would block it.
  it.each([
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path), /lock file '.*sys-usb:sda\.lock' is a symbolic link: refusing to follow it: remove it if no qvm-block-split command is running/],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path]), /lock file '.*sys-usb:sda\.lock' is not a regular file \(a FIFO\)/],
  ])('refuses a lock file that is %s with a clean error, at once', async (_what, plant, message) => {
    mkdirSync(join(runDir, 'locks'), { recursive: true });
    plant(join(runDir, 'locks', 'sys-usb:sda.lock'));
    const started = Date.now();
    await expect(takeSourceLock(source)).rejects.toThrow(OperationError);
    await expect(takeSourceLock(source)).rejects.toThrow(message);
    await expect(lockHolder(source)).rejects.toThrow(message);
    expect(await liveLockHolders()).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('takes over an oversized lock file as an unreadable one', async () => {
    mkdirSync(join(runDir, 'locks'), { recursive: true });
    writeFileSync(join(runDir, 'locks', 'sys-usb:sda.lock'), 'x'.repeat(100_000));
    const warnings: string[] = [];
    const lock = await takeSourceLock(source, (m) => warnings.push(m));
    expect(warnings).toEqual(['taking over the lock of sys-usb:sda left by an unreadable lock file']);
    await lock.release();
    expect(readdirSync(join(runDir, 'locks'))).toEqual([]);
  });
});
