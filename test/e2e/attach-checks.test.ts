// Mistakes and dangerous destinations are refused before any VM starts and before the passphrase: one error line, exit 1,
// nothing created. The finding: `attach sys-usb sys-usb:sda` attached the plaintext to the qube holding the encrypted disk.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();
let dir = '';
let before: string[] = [];

beforeAll(async () => {
  dir = newSim();
  const volume = await makeVolume(tmp, 'checks.img', 'pass');
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  sim('add-vm', dir, 'debian-12', '--class', 'TemplateVM');
  sim('add-vm', dir, 'other-dvm', '--template-for-dispvms');
  writeFileSync(join(tmp, 'empty.key'), '');
  mkdirSync(join(tmp, 'a-folder'), { recursive: true });
  writeFileSync(join(tmp, 'real.key'), 'k');
  symlinkSync(join(tmp, 'real.key'), join(tmp, 'link.key'));
  before = runningVms(dir);
}, 120_000);

describe('attach refuses before anything starts', () => {
  it.each([
    [['sys-usb', 'sys-usb:sda'], /refusing to attach the decrypted disk to sys-usb: it is the qube that holds the encrypted disk/],
    [['sim-dvm', 'sys-usb:sda'], /sim-dvm: it is a disposable template/],
    [['other-dvm', 'sys-usb:sda'], /other-dvm: it is a disposable template/],
    [['debian-12', 'sys-usb:sda'], /debian-12: it is a template/],
    [['dm-device-disp12345678', 'sys-usb:sda'], /one of split-dm-crypt's own DisposableVMs/],
    [['wrok', 'sys-usb:sda'], /there is no qube named wrok/],
    [['--key-file=/nonexistent/key', 'work', 'sys-usb:sda'], /key file \/nonexistent\/key \(--key-file\) does not exist/],
    [[`--key-file=${join('/', 'tmp')}`, 'work', 'sys-usb:sda'], /key file \/tmp \(--key-file\) is not a regular file/],
  ])('attach %j', async (args, message) => {
    const run = await runSplit(dir, ['attach', ...args], 'pass\n');
    expect(run.exitCode).toBe(1);
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(run.stderr).not.toMatch(/Enter passphrase/);
    expect(runningVms(dir)).toEqual(before);
    expect(sim('transcript', dir).toString('latin1')).not.toMatch(/qvm-run dm-/);
  });

  it.each([
    ['empty.key', /is empty/],
    ['a-folder', /is not a regular file/],
    ['link.key', /is a symbolic link/],
  ])('a key file %s is named with what is wrong', async (name, message) => {
    const run = await runSplit(dir, ['attach', `--key-file=${join(tmp, name)}`, 'work', 'sys-usb:sda']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(runningVms(dir)).toEqual(before);
  });
});
