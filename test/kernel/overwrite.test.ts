// The kernel tier, destructive commands: the device DisposableVM is a QEMU guest (our kernel with no_part_scan), so the bytes reach the source disk through
// real dm-crypt (overwrite-everything-with-random) or the real block layer (header commands), and land in the disk's file.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cryptsetupTestPassphrase } from '../helpers/cryptsetup.ts';
import { makeVolume, runningVms, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { KERNEL_TEST_TIMEOUT_MS, kernelDuring, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();
const T = KERNEL_TEST_TIMEOUT_MS;
/** LUKS1's header area: 4040 sectors of 512 bytes (key material of 8 slots), exactly 505 blocks of 4 KiB. */
const LUKS1_AREA = 2_068_480;
const BLOCK = 4096;

/** A simulated Qubes with a 4 MiB LUKS1 volume at sys-usb:sda. */
async function setUp(name: string) {
  const dir = newQemuSim({ kernel: 'patched', optOut: false });
  const volume = await makeVolume(tmp, `${name}.img`, 'test passphrase', 4 * 1024 * 1024);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) };
}

/** Runs a command and, while it runs, asks its device VM for its kernel. */
async function splitWatched(dir: string, args: readonly string[], input = '') {
  const running = split(dir, args, input);
  const [kernel, run] = await Promise.all([kernelDuring(dir, running), running]);
  return { kernel, run };
}

const blocks = (bytes: Buffer, from = 0, to = bytes.length): Buffer[] => {
  const out: Buffer[] = [];
  for (let at = from; at < to; at += BLOCK) out.push(bytes.subarray(at, at + BLOCK));
  return out;
};

describe('kernel tier: destructive commands', () => {
  it('overwrite-everything-with-random leaves no 4 KiB block of the old ciphertext and does not compress', async () => {
    const { dir, volume, before, original } = await setUp('wipe');
    const { kernel, run } = await splitWatched(dir, ['overwrite-everything-with-random', '--yes', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    const after = readFileSync(volume.path);
    expect(after.length).toBe(original.length);
    const old = new Set(blocks(original).map((b) => createHash('sha256').update(b).digest('hex')));
    expect(blocks(after).filter((b) => old.has(createHash('sha256').update(b).digest('hex')))).toEqual([]);
    const ratio = gzipSync(after).length / after.length;
    expect(ratio).toBeGreaterThan(0.99);
    expect(runningVms(dir)).toEqual(before);
    logScenario(kernel, 'overwrite-everything-with-random', `ok in ${run.ms} ms: no old 4 KiB block left, gzip ratio ${ratio.toFixed(4)}`);
  }, T);

  it('overwrite-header-with-random writes exactly the header area and nothing past it', async () => {
    const { dir, volume, before, original } = await setUp('header-random');
    const { kernel, run } = await splitWatched(dir, ['overwrite-header-with-random', '--yes', '--type=luks1', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    const after = readFileSync(volume.path);
    expect(after.subarray(LUKS1_AREA).equals(original.subarray(LUKS1_AREA))).toBe(true);
    const unchanged = blocks(after, 0, LUKS1_AREA).filter((b, i) => b.equals(original.subarray(i * BLOCK, (i + 1) * BLOCK)));
    expect(unchanged).toEqual([]);
    expect(runningVms(dir)).toEqual(before);
    logScenario(kernel, 'overwrite-header-with-random', `ok in ${run.ms} ms: all ${LUKS1_AREA / BLOCK} blocks of the header area replaced, nothing past byte ${LUKS1_AREA} changed`);
  }, T);

  it('overwrite-header-with-format writes a new header in exactly the header area; cryptsetup opens it', async () => {
    const { dir, volume, before, original } = await setUp('header-format');
    const { kernel, run } = await splitWatched(dir, ['overwrite-header-with-format', '--yes', '--type=luks1', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], 'fresh pass\nfresh pass\n');
    expect(run.exitCode, run.stderr).toBe(0);
    const after = readFileSync(volume.path);
    expect(after.subarray(LUKS1_AREA).equals(original.subarray(LUKS1_AREA))).toBe(true);
    expect(after.subarray(0, LUKS1_AREA).equals(original.subarray(0, LUKS1_AREA))).toBe(false);
    expect(await cryptsetupTestPassphrase(volume.path, 'fresh pass')).toBe(0);
    expect(runningVms(dir)).toEqual(before);
    logScenario(kernel, 'overwrite-header-with-format', `ok in ${run.ms} ms: new header within the first ${LUKS1_AREA} bytes, cryptsetup opens it`);
  }, T);
});
