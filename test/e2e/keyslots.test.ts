// add-key, change-key, remove-key and upgrade on the simulator, end to end, with the real cryptsetup as the judge of the disk
// afterwards: the header DisposableVM asks for the secrets and returns the new header area, a dm-verify VM parses it, dom0 shows
// the key slots before and after and writes it in one write; wrong secrets, missing confirmations and the last key slot write
// nothing; nothing is left running or attached.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cryptsetupTestPassphrase, cryptsetupVolumeKey } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeLuks2Volume, makeVolume, newSim, runningVms, runSplit, sim, type TestVolume } from '../helpers/sim.ts';

const tmp = useTmpDir();
/** Small costs: what is under test is the change, not the KDF's cost (the upgrade's default cost has a test of its own). */
const FAST_LUKS1 = ['--pbkdf-force-iterations=1000'];
const FAST_ARGON2 = ['--pbkdf-force-iterations=4', '--pbkdf-memory=8192'];

let counter = 0;
async function diskWith(kind: 'luks1' | 'luks2') {
  const dir = newSim();
  const name = `ks${counter++}.img`;
  const volume = kind === 'luks1' ? await makeVolume(tmp, name) : await makeLuks2Volume(tmp, name, 'test passphrase', { sectorSize: 512 });
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) };
}

function expectNothingLeft(dir: string, before: readonly string[]): void {
  expect(runningVms(dir)).toEqual([...before]);
  expect(attachments(dir)).toEqual([]);
}

/** The data after the header is never touched. */
function expectSameData(volume: TestVolume, original: Buffer): void {
  const start = volume.payloadOffset * 512;
  expect(readFileSync(volume.path).subarray(start).equals(original.subarray(start))).toBe(true);
}

async function expectKey(volume: TestVolume, passphrase: string): Promise<void> {
  expect(await cryptsetupVolumeKey(volume.path, passphrase)).toBe(volume.volumeKey.toString('hex'));
}

describe.each(['luks1', 'luks2'] as const)('key slots of a %s volume', { timeout: 240_000 }, (kind) => {
  const fast = kind === 'luks1' ? FAST_LUKS1 : FAST_ARGON2;

  it('add-key adds a slot that cryptsetup opens with the new passphrase; the summary shows the slots before and after', async () => {
    const { dir, volume, before, original } = await diskWith(kind);
    const run = await runSplit(dir, ['add-key', '--yes', ...fast, 'sys-usb:sda'], `${volume.passphrase}\nsecond one\nsecond one\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/dm-verify-disp\d+ checked the new header/);
    expect(run.stderr).toMatch(/key slots before: 0 [^\n]*\n\s+key slots after: +0 [^\n]*; 1 /);
    expect(run.stderr).toMatch(/added key slot 1 of sys-usb:sda/);
    expectNothingLeft(dir, before);
    expect(await cryptsetupTestPassphrase(volume.path, 'second one')).toBe(1);
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBe(0);
    await expectKey(volume, 'second one');
    expectSameData(volume, original);
  });

  it('change-key replaces the passphrase of the slot it opens; the old one opens nothing', async () => {
    const { dir, volume, before, original } = await diskWith(kind);
    const run = await runSplit(dir, ['change-key', '--yes', ...fast, 'sys-usb:sda'], `${volume.passphrase}\nchanged\nchanged\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expectNothingLeft(dir, before);
    expect(await cryptsetupTestPassphrase(volume.path, 'changed')).toBe(0);
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBeUndefined();
    await expectKey(volume, 'changed');
    expectSameData(volume, original);
  });

  it('remove-key removes the slot its passphrase opens, and refuses the last one without --force', async () => {
    const { dir, volume, before } = await diskWith(kind);
    expect((await runSplit(dir, ['add-key', '--yes', ...fast, 'sys-usb:sda'], `${volume.passphrase}\nsecond one\nsecond one\n`)).exitCode).toBe(0);
    const removed = await runSplit(dir, ['remove-key', '--yes', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(removed.stderr).toMatch(/removed key slot 0 of sys-usb:sda/);
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBeUndefined();
    expect(await cryptsetupTestPassphrase(volume.path, 'second one')).toBe(1);
    const last = readFileSync(volume.path);
    const refused = await runSplit(dir, ['remove-key', '--yes', 'sys-usb:sda'], 'second one\n');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/one key slot left \(1\): removing it destroys access to the data; use --force/);
    expect(readFileSync(volume.path).equals(last)).toBe(true);
    expectNothingLeft(dir, before);
  });
});
