// LUKS2 interop with the real cryptsetup, our side: headers and key slots made by the bundled split-dm-crypt-luks tool, opened
// and changed by cryptsetup (the other direction is in luks2-cryptsetup.test.ts; two files so both test workers share the work).
// KDF costs are small (PBKDF2 1000 iterations, cryptsetup's minimum; Argon2 8 MiB and 4 passes): the cost is not what is under test.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cryptsetupAddKeyLuks2,
  cryptsetupFormatLuks2,
  cryptsetupTestPassphrase,
  cryptsetupVolumeKey,
} from '../helpers/cryptsetup.ts';
import { runLuksTool, unlockWithTool } from '../helpers/luks-tool.ts';
import { useScratchFiles } from '../helpers/tmp.ts';

const { image, keyFile } = useScratchFiles();
const PBKDF2 = ['--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
const ARGON2ID = ['--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-parallel', '1', '--pbkdf-force-iterations', '4'];


describe('LUKS2 headers we make are accepted by cryptsetup', () => {
  it.each([
    { name: 'pbkdf2, 512-bit, sectors of 512', args: [...PBKDF2] },
    { name: 'argon2id, 256-bit, sectors of 4096', args: ['--type', 'luks2', ...ARGON2ID, '--key-size', '256', '--sector-size', '4096'] },
    { name: 'argon2i, sha512', args: ['--type=luks2', '--pbkdf=argon2i', '--pbkdf-memory=8192', '--pbkdf-parallel=2', '--pbkdf-force-iterations=4', '--hash=sha512'] },
  ])('format $name', async ({ args }) => {
    const path = image();
    const run = await runLuksTool(['format', path, ...args], 'new pass\n');
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(readFileSync(path).length).toBe(16 * 1024 * 1024);
    expect(await cryptsetupTestPassphrase(path, 'new pass')).toBe(0);
    expect((await unlockWithTool(path, 'new pass')).volumeKey).toBe(await cryptsetupVolumeKey(path, 'new pass'));
  });

  it('slots we add, change and remove are seen the same way by cryptsetup, and its slots by us', async () => {
    const path = image();
    await runLuksTool(['format', path, ...PBKDF2], 'one\n');
    const key = await cryptsetupVolumeKey(path, 'one');
    expect(JSON.parse((await runLuksTool(['add-key', path, ...ARGON2ID], 'one\ntwo\n')).stdout)).toEqual({ addedKeyslot: 1 });
    expect(await cryptsetupTestPassphrase(path, 'two')).toBe(1);
    await cryptsetupAddKeyLuks2(path, keyFile('two', 'two'), keyFile('cs', 'from cryptsetup'), 'argon2i');
    expect((await unlockWithTool(path, 'from cryptsetup')).keyslot).toBe(2);
    expect(JSON.parse((await runLuksTool(['change-key', path, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'], 'two\nthree\n')).stdout)).toEqual({ changedKeyslot: 1 });
    expect(await cryptsetupTestPassphrase(path, 'two')).toBeUndefined();
    expect(await cryptsetupTestPassphrase(path, 'three')).toBe(1);
    expect(await cryptsetupVolumeKey(path, 'three')).toBe(key);
    expect(JSON.parse((await runLuksTool(['remove-key', path], 'one\n')).stdout)).toEqual({ removedKeyslot: 0 });
    expect(await cryptsetupTestPassphrase(path, 'one')).toBeUndefined();
    expect((await unlockWithTool(path, 'from cryptsetup')).volumeKey).toBe(key);
    const dump = JSON.parse((await runLuksTool(['dump', path])).stdout) as { seqid: number; keyslots: { index: number }[] };
    expect(dump.keyslots.map((s) => s.index)).toEqual([1, 2]);
  });

  it('format --force over a bigger volume writes only the 16 MiB header area', async () => {
    const path = image();
    await cryptsetupFormatLuks2(path, 'old', { sizeBytes: 17 * 1024 * 1024 });
    const before = readFileSync(path);
    const refused = await runLuksTool(['format', path, ...PBKDF2], 'new\n');
    expect(refused.exitCode).toBe(1);
    expect((await runLuksTool(['format', path, '--force', ...PBKDF2], 'new\n')).exitCode).toBe(0);
    const after = readFileSync(path);
    expect(after.length).toBe(before.length);
    expect(after.subarray(16 * 1024 * 1024).equals(before.subarray(16 * 1024 * 1024))).toBe(true);
    expect(await cryptsetupTestPassphrase(path, 'new')).toBe(0);
  });
});
