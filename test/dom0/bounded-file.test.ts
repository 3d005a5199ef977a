// Bounded reads of dom0's small files: a regular file up to its cap is read; anything else is refused at once with a typed
// error naming the path (never read whole, never waited on).
import { execFileSync } from 'node:child_process';
import { symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoundedReadError, readBoundedFile, readCapped, type BoundedReadProblem } from '../../dom0/bounded-file.ts';
import { OperationError } from '../../shared/errors.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const dir = useTmpDir();
let n = 0;
const fresh = (): string => join(dir, `f${n++}`);

describe('readCapped', () => {
  it.each([
    ['an empty file', Buffer.alloc(0)],
    ['a file of exactly the cap', Buffer.alloc(16, 7)],
  ])('reads %s', async (_what, content) => {
    const path = fresh();
    writeFileSync(path, content);
    expect(await readCapped(path, 16, 'test file')).toEqual(content);
    expect((await readBoundedFile(path, 16, 'test file')).ino).toBeGreaterThan(0);
  });

  it.each<[string, (path: string) => void, BoundedReadProblem, RegExp]>([
    // Each row: what is at the path, and why it is refused.
    ['nothing', () => undefined, 'missing', /cannot read test file '.*': no such file/],
    ['one byte over the cap', (path) => writeFileSync(path, Buffer.alloc(17)), 'too-large', /test file '.*' is larger than the limit of 16 bytes/],
    ['a sparse 20 GiB file (refused by its size, not read)', (path) => (writeFileSync(path, ''), truncateSync(path, 20 * 2 ** 30)), 'too-large', /larger than the limit/],
    ['a symlink to /dev/zero (O_NOFOLLOW)', (path) => symlinkSync('/dev/zero', path), 'symlink', /is a symbolic link: refusing to follow it/],
    ['a symlink to a small regular file (still a symlink)', (path) => (writeFileSync(`${path}.target`, 'ok'), symlinkSync(`${path}.target`, path)), 'symlink', /symbolic link/],
    ['a FIFO without a writer (O_NONBLOCK, then fstat)', (path) => execFileSync('mkfifo', [path]), 'not-regular', /is not a regular file \(a FIFO\)/],
    ['a directory', (path) => execFileSync('mkdir', [path]), 'not-regular', /is not a regular file \(a directory\)/],
  ])('refuses %s at once', async (_what, plant, problem, message) => {
    const path = fresh();
    plant(path);
    const started = Date.now();
    const error = await readCapped(path, 16, 'test file').catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(BoundedReadError);
    expect(error).toBeInstanceOf(OperationError);
    expect(error).toMatchObject({ path, problem });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(path);
  });

  it('refuses /dev/zero itself (a character device)', async () => {
    await expect(readCapped('/dev/zero', 16, 'test file')).rejects.toMatchObject({ problem: 'not-regular', message: expect.stringMatching(/a character device/) });
  });
});
