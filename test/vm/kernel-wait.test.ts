// The device VM waits for the source disk: xen-blkfront adds it a moment after `qvm-block attach` has returned in dom0.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitForDisk } from '../../vm/lib/kernel.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir('kernel-wait-');
let root = '';
let count = 0;

beforeEach(() => {
  root = join(tmp, String(count++));
  mkdirSync(join(root, 'sys/block'), { recursive: true });
  mkdirSync(join(root, 'dev'), { recursive: true });
  process.env.SPLIT_DM_CRYPT_SYSROOT = root;
});
afterEach(() => {
  delete process.env.SPLIT_DM_CRYPT_SYSROOT;
});

const plug = () => {
  mkdirSync(join(root, 'sys/block/xvds'), { recursive: true });
  writeFileSync(join(root, 'sys/block/xvds/size'), '2048\n');
};

describe('waitForDisk', () => {
  it('returns at once for a disk that is there', async () => {
    plug();
    const started = Date.now();
    expect(await waitForDisk('xvds', 2000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('waits for a disk that appears later', async () => {
    setTimeout(plug, 400);
    const started = Date.now();
    expect(await waitForDisk('xvds', 5000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
  });

  it('gives up after its limit for a disk that never comes', async () => {
    const started = Date.now();
    expect(await waitForDisk('xvds', 300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
