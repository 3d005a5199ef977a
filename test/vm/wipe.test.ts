// The wipe data path: every byte of the range overwritten with random data, nothing past it, progress that only grows.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { overwriteWithRandom, WIPE_CHUNK_BYTES } from '../../vm/lib/wipe.ts';

const tmp = useTmpDir();

/** The longest run of one repeated byte value: random data of this size never has a long one. */
function longestRun(data: Buffer): number {
  let longest = 0;
  for (let i = 0, run = 0; i < data.length; i++) longest = Math.max(longest, (run = i > 0 && data[i] === data[i - 1] ? run + 1 : 1));
  return longest;
}

describe('overwriteWithRandom', () => {
  it.each([
    ['less than one chunk', 12_345],
    ['exactly two chunks', 2 * WIPE_CHUNK_BYTES],
    ['two chunks and a bit', 2 * WIPE_CHUNK_BYTES + 4096],
  ])('overwrites %s with random data and stops at the end', async (_what, total) => {
    const path = join(tmp, `wipe-${total}.img`);
    writeFileSync(path, Buffer.alloc(total + 8192, 0xaa));
    const reports: number[] = [];
    expect(await overwriteWithRandom(path, total, (done) => reports.push(done))).toBe(total);
    const data = readFileSync(path);
    expect(data.length).toBe(total + 8192);
    expect(longestRun(data.subarray(0, total))).toBeLessThan(8);
    expect(data.subarray(total).every((byte) => byte === 0xaa)).toBe(true);
    expect(reports.at(-1)).toBe(total);
    expect(reports).toEqual([...reports].sort((a, b) => a - b));
  });

  it('makes different data on each run', async () => {
    const path = join(tmp, 'twice.img');
    closeSync(openSync(path, 'w'));
    writeFileSync(path, Buffer.alloc(65_536));
    await overwriteWithRandom(path, 65_536, () => undefined);
    const first = readFileSync(path);
    await overwriteWithRandom(path, 65_536, () => undefined);
    expect(readFileSync(path).equals(first)).toBe(false);
  });

  it('fails on a path it cannot open, leaving nothing running', async () => {
    await expect(overwriteWithRandom(join(tmp, 'missing', 'x.img'), 1024, () => undefined)).rejects.toThrow(/ENOENT/);
  });
});
