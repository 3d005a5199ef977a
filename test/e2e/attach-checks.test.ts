// Mistakes and dangerous destinations are refused before any VM starts and before the passphrase: one error line, exit 1,
// nothing created. The finding: `attach sys-usb sys-usb:sda` attached the plaintext to the qube holding the encrypted disk.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume, newSim, runningVms, runSplit, sim, SIM as SIM_PATH } from '../helpers/sim.ts';

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

describe('what the user is told', () => {
  it('the network qube of the source is refused as destination', async () => {
    const own = newSim();
    sim('add-vm', own, 'sys-net', '--running');
    const volume = await makeVolume(tmp, 'netvm.img', 'pass');
    sim('add-block', own, 'sys-usb', 'sda', volume.path);
    // sys-usb gets a network qube: the plaintext must not go where the source's traffic goes.
    const prefs = await runSplit(own, ['--version']);
    expect(prefs.stdout).toMatch(/^qvm-block-split \d+\.\d+\.\d+$/);
    const { execFileSync } = await import('node:child_process');
    execFileSync('bash', ['-c', `eval "$("$0" env "$1")" && qvm-prefs sys-usb netvm sys-net`, SIM_PATH, own]);
    const run = await runSplit(own, ['attach', 'sys-net', 'sys-usb:sda'], 'pass\n');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/sys-net: it is the network qube of sys-usb/);
  });

  it('a disposable template without our services is named, with the fix, instead of a framing error', async () => {
    const own = newSim();
    sim('add-vm', own, 'bare-dvm', '--template-for-dispvms');
    const volume = await makeVolume(tmp, 'bare.img', 'pass');
    sim('add-block', own, 'sys-usb', 'sda', volume.path);
    // The simulated dom0's configuration (qubes-sim env points SPLIT_DM_CRYPT_CONF at it).
    writeFileSync(join(own, 'dom0', 'split-dm-crypt.conf'), 'TEMPLATE_FOR_DISPVMS=bare-dvm\n');
    const run = await runSplit(own, ['attach', 'work', 'sys-usb:sda'], 'pass\n');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/error: dm-(device|header)-disp\d{8} has no working splitdmcrypt\.\w+: install split-dm-crypt into its disposable template/);
    expect(run.stderr).not.toMatch(/invalid protocol/);
  });

  it('status with nothing attached says so on stderr; detach of a default destination says it keeps running', async () => {
    const own = newSim();
    const status = await runSplit(own, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toBe('');
    expect(status.stderr).toMatch(/nothing is attached by qvm-block-split/);
    const volume = await makeVolume(tmp, 'notice.img', 'pass');
    sim('add-block', own, 'sys-usb', 'sda', volume.path);
    const attach = await runSplit(own, ['attach', 'sys-usb:sda'], 'pass\n');
    expect(attach.exitCode, attach.stderr).toBe(0);
    const destination = /attached sys-usb:sda to (dm-destination-disp\d{8})/.exec(attach.stderr)![1]!;
    // Where the disk is, in the destination's own words.
    expect(attach.stderr).toMatch(new RegExp(`in ${destination} it is /dev/xvdi: e\\.g\\. 'sudo mount /dev/xvdi /mnt' there`));
    const detach = await runSplit(own, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode).toBe(0);
    expect(detach.stderr).toMatch(new RegExp(`${destination} keeps running \\(it may hold your work\\)`));
    expect(runningVms(own)).toContain(destination);
  });
});
