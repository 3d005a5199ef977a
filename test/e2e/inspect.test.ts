// `inspect`: what a header says, with no secret, through the split pipeline (read-only device VM, header VM that parses), and
// nothing left when it ends. The facts are checked against what cryptsetup made; the warnings against the weak choices made.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupFormat, cryptsetupFormatLuks2 } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';
import { execa } from 'execa';

const tmp = useTmpDir();

async function uuidOf(path: string): Promise<string> {
  return (await execa('cryptsetup', ['luksUUID', path])).stdout.trim();
}

describe('inspect', { timeout: 120_000 }, () => {
  it('LUKS1 with a cheap PBKDF2 slot: the facts cryptsetup wrote, the warnings, no passphrase asked, nothing left, nothing written', async () => {
    const dir = newSim();
    const path = join(tmp, 'luks1.img');
    await cryptsetupFormat(path, 'never asked', { sizeBytes: 4 * 1024 * 1024 });
    const before = readFileSync(path);
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const vms = runningVms(dir);
    const run = await runSplit(dir, ['inspect', '--json', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      source: 'sys-usb:sda',
      type: 'luks1',
      uuid: await uuidOf(path),
      cipher: 'aes-xts-plain64',
      keyBits: 512,
      dataOffsetSectors: 4096,
      headerCopy: 'primary',
      keyslots: [{ id: 0, kdf: 'pbkdf2', iterations: 1000 }],
    });
    const warnings = report.warnings as string[];
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^LUKS1: /), expect.stringMatching(/^key slot 0 uses PBKDF2 \(1000 iterations, below the \d+ iterations OWASP asks/)]));
    expect(runningVms(dir)).toEqual(vms);
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(sim('violations', dir).toString()).toBe('');
  });

  it('LUKS2 with a small Argon2 cost and an unusual data offset, as text', async () => {
    const dir = newSim();
    const path = join(tmp, 'luks2.img');
    await cryptsetupFormatLuks2(path, 'never asked', { kdf: 'argon2id', sectorSize: 4096, offsetSectors: 40960, sizeBytes: 24 * 1024 * 1024 });
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const run = await runSplit(dir, ['inspect', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^sys-usb:sda: luks2 ${await uuidOf(path)}$`, 'm'));
    expect(run.stdout).toMatch(/cipher: +aes-xts-plain64, 512-bit key, 4096-byte sectors/);
    expect(run.stdout).toMatch(/key slots: +0 argon2id \(4 passes, 8192 KiB, 1 lanes\)/);
    expect(run.stdout).toMatch(/warning: +key slot 0 uses argon2id with 8192 KiB of memory, below 256 MiB/);
    expect(run.stdout).toMatch(/warning: +the data starts at sector 40960 \(20 MiB\), not at cryptsetup's default \(sector 32768\)/);
    expect(run.stdout).not.toMatch(/LUKS1/);
  });

  it('a key slot whose key material has its own cipher is named', async () => {
    const dir = newSim();
    const path = join(tmp, 'keyslot-cipher.img');
    writeFileSync(path, Buffer.alloc(20 * 1024 * 1024));
    await execa('cryptsetup', ['luksFormat', '--type', 'luks2', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--keyslot-cipher', 'aes-cbc-essiv:sha256', '--keyslot-key-size', '256', path, '-'], { input: 'never asked' });
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const run = await runSplit(dir, ['inspect', '--json', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { cipher: string; keyslots: { areaCipher: string }[]; warnings: string[] };
    expect(report.cipher).toBe('aes-xts-plain64');
    expect(report.keyslots[0]!.areaCipher).toBe('aes-cbc-essiv:sha256');
    expect(report.warnings).toContain("key slot 0's key material is encrypted with aes-cbc-essiv:sha256, not with the data's cipher aes-xts-plain64");
  });

  it('a disk without a LUKS header: exit 1, one error line, nothing left', async () => {
    const dir = newSim();
    const path = join(tmp, 'blank.img');
    writeFileSync(path, Buffer.alloc(4 * 1024 * 1024, 0x41));
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const vms = runningVms(dir);
    const run = await runSplit(dir, ['inspect', 'sys-usb:sda']);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/error: sys-usb:sda holds no LUKS header we can read/);
    expect(runningVms(dir)).toEqual(vms);
    expect(attachments(dir)).toEqual([]);
  });
});
