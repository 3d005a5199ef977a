// Interop with the real cryptsetup in both directions, through the bundled split-dm-crypt-luks tool.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cryptsetupAddKey,
  cryptsetupFormat,
  cryptsetupKillSlot,
  cryptsetupTestPassphrase,
  cryptsetupVolumeKey,
} from '../helpers/cryptsetup.ts';
import { runLuksTool, unlockWithTool } from '../helpers/luks-tool.ts';
import { useScratchFiles } from '../helpers/tmp.ts';

const { dir, image } = useScratchFiles();
const FAST = ['--pbkdf-force-iterations', '1000'];

async function ourVolumeKey(path: string, passphrase: string, extra: string[] = []): Promise<{ key: string; keyslot: number }> {
  const unlocked = await unlockWithTool(path, passphrase, extra);
  return { key: unlocked.volumeKey, keyslot: unlocked.keyslot };
}

describe('volumes made by cryptsetup unlock to the key cryptsetup dumps', () => {
  const MATRIX = [
    { cipher: 'aes-xts-plain64', keySize: 512, hash: 'sha256' },
    { cipher: 'aes-xts-plain64', keySize: 256, hash: 'sha512' },
    { cipher: 'aes-xts-plain64', keySize: 512, hash: 'sha1' },
    { cipher: 'aes-xts-plain', keySize: 512, hash: 'sha256' },
    { cipher: 'aes-cbc-essiv:sha256', keySize: 256, hash: 'sha256' },
    { cipher: 'aes-cbc-essiv:sha256', keySize: 128, hash: 'sha1' },
    { cipher: 'aes-cbc-plain', keySize: 192, hash: 'sha512' },
    { cipher: 'aes-cbc-plain64', keySize: 256, hash: 'sha256' },
  ];
  it.each(MATRIX)('$cipher $keySize bits $hash', async (options) => {
    const path = image();
    await cryptsetupFormat(path, 'pass word', options);
    const { key, keyslot } = await ourVolumeKey(path, 'pass word');
    expect(key).toBe(await cryptsetupVolumeKey(path, 'pass word'));
    expect(key).toHaveLength((options.keySize / 8) * 2);
    expect(keyslot).toBe(0);
  });

  it('finds the right slot among several and uses key files byte for byte', async () => {
    const path = image();
    await cryptsetupFormat(path, 'first');
    const first = join(dir, 'first.key');
    writeFileSync(first, 'first');
    const binary = join(dir, 'binary.key');
    writeFileSync(binary, Buffer.from([0, 1, 2, 0x0a, 0xff, 0x0a]));
    await cryptsetupAddKey(path, first, binary, 5);
    const expected = await cryptsetupVolumeKey(path, 'first');
    const run = await runLuksTool(['unlock', path, '--key-file', binary, '--dump-volume-key']);
    expect(JSON.parse(run.stdout)).toMatchObject({ keyslot: 5, volumeKey: expected });
    // A trailing newline is part of a key file: the same bytes without it do not open the slot.
    writeFileSync(join(dir, 'short.key'), Buffer.from([0, 1, 2, 0x0a, 0xff]));
    expect((await runLuksTool(['unlock', path, '--key-file', join(dir, 'short.key')])).exitCode).toBe(2);
  });

  it('reads a slot killed by cryptsetup as inactive', async () => {
    const path = image();
    await cryptsetupFormat(path, 'first');
    const first = join(dir, 'k1.key');
    writeFileSync(first, 'first');
    const second = join(dir, 'k2.key');
    writeFileSync(second, 'second');
    await cryptsetupAddKey(path, first, second);
    await cryptsetupKillSlot(path, 0, second);
    expect((await runLuksTool(['unlock', path], 'first\n')).exitCode).toBe(2);
    expect((await ourVolumeKey(path, 'second')).keyslot).toBe(1);
    const dump = JSON.parse((await runLuksTool(['dump', path])).stdout) as { keyslots: { active: boolean }[] };
    expect(dump.keyslots.map((s) => s.active)).toEqual([false, true, false, false, false, false, false, false]);
  });
});

describe('headers we make are accepted by cryptsetup', () => {
  it.each([
    { keySize: '512', hash: 'sha512' },
    { keySize: '256', hash: 'sha256' },
    { keySize: '512', hash: 'sha1' },
  ])('format --key-size $keySize --hash $hash', async ({ keySize, hash }) => {
    const path = image();
    const run = await runLuksTool(['format', path, '--type', 'luks1', '--key-size', keySize, '--hash', hash, ...FAST], 'new pass\n');
    expect(run.exitCode).toBe(0);
    expect(readFileSync(path).length).toBe(4096 * 512);
    expect(await cryptsetupTestPassphrase(path, 'new pass')).toBe(0);
    expect((await ourVolumeKey(path, 'new pass')).key).toBe(await cryptsetupVolumeKey(path, 'new pass'));
  });

  it('slots we add, change and remove are seen the same way by cryptsetup', async () => {
    const path = image();
    await runLuksTool(['format', path, '--type', 'luks1', ...FAST], 'one\n');
    const key = await cryptsetupVolumeKey(path, 'one');
    expect(JSON.parse((await runLuksTool(['add-key', path, ...FAST], 'one\ntwo\n')).stdout)).toEqual({ addedKeyslot: 1 });
    expect(await cryptsetupTestPassphrase(path, 'two')).toBe(1);
    expect(JSON.parse((await runLuksTool(['change-key', path, ...FAST], 'two\nthree\n')).stdout)).toEqual({ changedKeyslot: 1 });
    expect(await cryptsetupTestPassphrase(path, 'two')).toBeUndefined();
    expect(await cryptsetupTestPassphrase(path, 'three')).toBe(1);
    expect(await cryptsetupVolumeKey(path, 'three')).toBe(key);
    expect(JSON.parse((await runLuksTool(['remove-key', path], 'one\n')).stdout)).toEqual({ removedKeyslot: 0 });
    expect(await cryptsetupTestPassphrase(path, 'one')).toBeUndefined();
    // The last slot is protected.
    const last = await runLuksTool(['remove-key', path], 'three\n');
    expect(last.exitCode).toBe(1);
    expect(last.stderr).toMatch(/last one/);
    expect(await cryptsetupTestPassphrase(path, 'three')).toBe(1);
  });

  it('writes only the header area of an existing volume', async () => {
    const path = image();
    await cryptsetupFormat(path, 'old', { sizeBytes: 3 * 1024 * 1024 });
    const before = readFileSync(path);
    const run = await runLuksTool(['format', path, '--type', 'luks1', '--force', ...FAST], 'new\n');
    expect(run.exitCode).toBe(0);
    const after = readFileSync(path);
    expect(after.length).toBe(before.length);
    expect(after.subarray(4040 * 512).equals(before.subarray(4040 * 512))).toBe(true);
    expect(after.subarray(0, 4040 * 512).equals(before.subarray(0, 4040 * 512))).toBe(false);
  });
});
