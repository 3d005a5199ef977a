// add-key, change-key, remove-key and upgrade on the simulator, end to end, with the real cryptsetup as the judge of the disk
// afterwards: the header DisposableVM asks for the secrets and returns the new header area, a dm-verify VM parses it, dom0 shows
// the key slots before and after and writes it in one write; wrong secrets, missing confirmations and the last key slot write
// nothing; nothing is left running or attached.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cryptsetupFormat, cryptsetupTestPassphrase, cryptsetupVolumeKey, FAST } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeLuks2Volume, makeVolume, newSim, runningVms, runSplit, sim, startSplit, type TestVolume } from '../helpers/sim.ts';

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

describe('upgrade', { timeout: 300_000 }, () => {
  it('converts a LUKS1 volume to LUKS2 and re-wraps its slot with argon2id: cryptsetup opens it with the same passphrase and key', async () => {
    const { dir, volume, before, original } = await diskWith('luks1');
    const run = await runSplit(dir, ['upgrade', '--yes', ...FAST_ARGON2, 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/key slots before: 0 pbkdf2 [^\n]*\n\s+key slots after: +0 argon2id \(4 passes, 8192 KiB/);
    expect(run.stderr).toMatch(/converted the header to luks2 and re-wrapped the key slot with argon2id of sys-usb:sda/);
    expectNothingLeft(dir, before);
    const dump = (await execa('cryptsetup', ['luksDump', volume.path])).stdout;
    expect(dump).toMatch(/^Version:\s+2$/m);
    expect(dump).toMatch(/PBKDF:\s+argon2id/);
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBe(0);
    await expectKey(volume, volume.passphrase);
    expectSameData(volume, original);
    // And it attaches through our own chain, plaintext intact. Its data stays at LUKS1's offset, which attach and inspect take for
    // LUKS2 without asking, an option or a warning.
    const inspected = await runSplit(dir, ['inspect', 'sys-usb:sda']);
    expect(inspected.exitCode, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/luks2/);
    expect(`${inspected.stdout}${inspected.stderr}`).not.toMatch(/data starts at/);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('without cost options re-wraps at the default cost: argon2id, 256 MiB, 4 lanes', async () => {
    const { dir, volume, before } = await diskWith('luks2');
    const run = await runSplit(dir, ['upgrade', '--yes', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expectNothingLeft(dir, before);
    const dump = (await execa('cryptsetup', ['luksDump', volume.path])).stdout;
    expect(dump).toMatch(/PBKDF:\s+argon2id\n\s+Time cost:\s+\d+\n\s+Memory:\s+262144\n\s+Threads:\s+4/);
    await expectKey(volume, volume.passphrase);
  });

  it('refuses a LUKS1 volume whose LUKS2 header would not fit before its data, before any passphrase, and writes nothing', async () => {
    const dir = newSim();
    const path = join(tmp, 'tight.img');
    await cryptsetupFormat(path, 'test passphrase');
    await execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', ...FAST, '--align-payload', '4040', path, '-'], { input: 'test passphrase' });
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const before = runningVms(dir);
    const original = readFileSync(path);
    const run = await runSplit(dir, ['upgrade', '--yes', 'sys-usb:sda'], '');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/the luks2 header would not fit before the data: it needs 2097152 bytes, the data starts at byte 2068480/);
    expect(readFileSync(path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });
});

describe('refusals', { timeout: 240_000 }, () => {
  it.each(['add-key', 'change-key', 'remove-key', 'upgrade'])('%s with a wrong passphrase: exit 2 after 3 tries, the header bytes unchanged', async (command) => {
    const { dir, before, original, volume } = await diskWith('luks1');
    // remove-key --force: the volume has one key slot, which remove-key refuses before any passphrase without it.
    const run = await runSplit(dir, [command, '--yes', ...(command === 'remove-key' ? ['--force'] : []), 'sys-usb:sda'], 'wrong 1\nwrong 2\nwrong 3\n');
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/no key slot matches the passphrase \(3 attempts\)/);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });

  it.each(['add-key', 'change-key', 'remove-key', 'upgrade'])('%s without --yes and without a terminal is refused before anything starts', async (command) => {
    const { dir, before, original, volume } = await diskWith('luks1');
    const run = await runSplit(dir, [command, 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode).toBe(64);
    expect(run.stderr).toMatch(/use --yes/);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });

  it('remove-key --force removes the last key slot', async () => {
    const { dir, before, volume } = await diskWith('luks1');
    const run = await runSplit(dir, ['remove-key', '--yes', '--force', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/key slots after: +none/);
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBeUndefined();
    expectNothingLeft(dir, before);
  });

  it('SIGINT while the header VM derives the new key slot: exit 130, the old header intact, no VM left', async () => {
    const { dir, before, original, volume } = await diskWith('luks2');
    // The default cost (256 MiB, passes for 5 s) keeps the header VM busy long enough to be interrupted in the middle.
    const child = startSplit(dir, ['upgrade', '--yes', 'sys-usb:sda'], `${volume.passphrase}\n`);
    for (let waited = 0; !/splitdmcrypt\.HeaderKeyslots/.test(sim('transcript', dir).toString('latin1')) && waited < 120_000; waited += 200) await sleep(200);
    await sleep(3000);
    child.kill('SIGINT');
    const result = await child.catch((error: { exitCode?: number; stderr?: string }) => error);
    expect(result.exitCode, String(result.stderr)).toBe(130);
    expect(String(result.stderr)).not.toMatch(/bytes written/);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expectNothingLeft(dir, before);
  });
});

describe('key files', { timeout: 240_000 }, () => {
  it('add-key with --key-file and --new-key-file from dom0 paths: cryptsetup opens the new slot with the new key file', async () => {
    const { dir, before, volume } = await diskWith('luks2');
    const existing = join(tmp, 'existing.key');
    const added = join(tmp, 'added.key');
    writeFileSync(existing, volume.passphrase);
    writeFileSync(added, Buffer.from([0, 1, 2, 10, 13, 255, 254, 0, 7]));
    const run = await runSplit(dir, ['add-key', '--yes', `--key-file=${existing}`, `--new-key-file=${added}`, '--key-slot=5', ...FAST_ARGON2, 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/added key slot 5 of sys-usb:sda/);
    const opened = await execa('cryptsetup', ['open', '--test-passphrase', '--verbose', '--key-file', added, volume.path], { reject: false });
    expect(opened.exitCode, opened.stderr).toBe(0);
    expect(opened.stdout + opened.stderr).toMatch(/Key slot 5 unlocked/);
    expectNothingLeft(dir, before);
  });
});
