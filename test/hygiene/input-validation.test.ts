// Input validation at dom0's edges, end to end where it matters: names by Qubes' rules, device ports, key-file specs,
// option look-alikes where a name is expected, oversized key files (from dom0 and from a VM), and two commands on one device.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../shared/errors.ts';
import { MAX_KEY_FILE_BYTES } from '../../shared/protocol/contract.ts';
import { parseSplitCommand } from '../../dom0/cli.ts';
import { parseDevicePort, parseKeyFileSpec, parseSourceSpec, parseVmName } from '../../dom0/names.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim, startSplit } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();

describe('names and specs', () => {
  it.each([
    ['a'.repeat(31), true, 'longest name Qubes accepts'],
    ['a'.repeat(32), false, 'one character too long'],
    ['work_2.old-x', true, 'letters, digits, _ . -'],
    ['2work', false, 'must start with a letter'],
    ['-work', false, 'an option look-alike'],
    ['wörk', false, 'non-ASCII'],
    ['work dir', false, 'space'],
    ['none', false, 'reserved'],
    ['Domain-0', false, "Xen's name for dom0"],
    ['sys-net-dm', false, 'stubdomain suffix'],
    ['dom0', false, 'dom0 is never a target'],
  ])('qube name %j valid=%s (%s)', (raw, valid) => {
    if (valid) expect(parseVmName(raw)).toBe(raw);
    else expect(() => parseVmName(raw)).toThrow(UsageError);
  });

  it.each([
    ['a'.repeat(64), true, '64 characters'],
    ['a'.repeat(65), false, '65 characters'],
    ['mapper/vg-lv', true, 'a slash'],
    ['SDA', false, 'upper case'],
    ['-sda', false, 'an option look-alike'],
    ['../sda', false, 'climbing out of /dev'],
    ['a//b', false, 'an empty component'],
    ['sda:1', false, 'a colon'],
    ['', false, 'empty'],
  ])('device port %j valid=%s (%s)', (raw, valid) => {
    if (valid) expect(parseDevicePort(raw)).toBe(raw);
    else expect(() => parseDevicePort(raw)).toThrow(UsageError);
  });

  it.each([
    ['sys-usb:keys/disk.key', { kind: 'vm', vm: 'sys-usb', path: 'keys/disk.key' }],
    ['/home/user/disk.key', { kind: 'dom0', path: '/home/user/disk.key' }],
    ['./a:b', { kind: 'dom0', path: './a:b' }],
    ['disk.key', { kind: 'dom0', path: 'disk.key' }],
  ])('key-file %j', (raw, expected) => {
    expect(parseKeyFileSpec(raw)).toEqual(expected);
  });

  it.each([
    ['sys-usb:/etc/shadow', 'absolute VM path'],
    ['sys-usb:../.ssh/id', '.. component'],
    ['sys-usb:-x', 'option look-alike'],
    ['sys-usb:a\nb', 'control character'],
    ['dom0:x', 'dom0 as the VM'],
    ['sys-usb:', 'empty path'],
    ['', 'empty value'],
  ])('key-file %j is refused (%s)', (raw) => {
    expect(() => parseKeyFileSpec(raw)).toThrow(UsageError);
  });

  it.each([
    [['attach', '--', '-work', 'sys-usb:sda'], 'a destination starting with -'],
    [['attach', '-work', 'sys-usb:sda'], 'an unknown short option'],
    [['detach', 'sys-usb:-sda'], 'a port starting with -'],
    [['detach', '-x:sda'], 'a backend starting with -'],
    [['detach', '--', '--yes'], 'an option after --'],
    [['attach', '--key-file=-x:y', 'sys-usb:sda'], 'a key-file VM starting with -'],
  ])('argv %j is a usage error (%s)', (argv) => {
    expect(() => parseSplitCommand(argv)).toThrow(UsageError);
  });

  it('a source names dom0 as backend only (its loop devices), never as destination', () => {
    expect(parseSourceSpec('dom0:loop0')).toEqual({ backend: 'dom0', port: 'loop0' });
    expect(() => parseSplitCommand(['attach', 'dom0', 'sys-usb:sda'])).toThrow(/cannot be dom0/);
  });
});

describe('on the simulator', () => {
  async function setUp(name: string) {
    const dir = newSim();
    const volume = await makeVolume(tmp, `${name}.img`, 'pass', 3 * 1024 * 1024);
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) };
  }
  function expectNothingLeft(context: Awaited<ReturnType<typeof setUp>>): void {
    expect(runningVms(context.dir)).toEqual(context.before);
    expect(attachments(context.dir)).toEqual([]);
    expect(readdirSync(join(context.dir, 'dom0', 'run', 'locks'))).toEqual([]);
    expect(readFileSync(context.volume.path).equals(context.original)).toBe(true);
  }
  const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));

  it('a key file over 8 MiB is refused, from dom0 and from a VM, and nothing is left', async () => {
    const context = await setUp('big-key');
    const big = Buffer.alloc(MAX_KEY_FILE_BYTES + 1, 0x61);
    const dom0File = join(tmp, 'big.key');
    writeFileSync(dom0File, big);
    writeFileSync(join(context.dir, 'vms', 'sys-usb', 'root', 'home', 'user', 'big.key'), big);
    for (const spec of [dom0File, 'sys-usb:big.key']) {
      const run = await runSplit(context.dir, ['attach', '--type=luks1', `--key-file=${spec}`, 'work', 'sys-usb:sda']);
      expect(run.exitCode).toBe(1);
      expect(errorLines(run.stderr), run.stderr).toEqual([expect.stringMatching(/key file .*larger than the limit of 8388608 bytes/)]);
      expectNothingLeft(context);
    }
  });

  it('a second command on a device in use fails at once naming the holder; the first completes', async () => {
    const context = await setUp('lock');
    sim('set', context.dir, 'start-delay-ms', '1500');
    const first = startSplit(context.dir, ['attach', '--type=luks1', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    // Wait until the first command holds the lock, then try a destructive command on the same device.
    const locks = join(context.dir, 'dom0', 'run', 'locks');
    for (let i = 0; i < 200; i++) {
      try {
        if (readdirSync(locks).some((f) => f.endsWith('.lock'))) break;
      } catch {
        // Not created yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const second = await runSplit(context.dir, ['overwrite-header-with-random', '--yes', '--type=luks1', 'sys-usb:sda']);
    expect(second.exitCode).toBe(1);
    expect(errorLines(second.stderr)).toEqual([expect.stringMatching(/another qvm-block-split command is using sys-usb:sda \(pid \d+\)/)]);
    expect(readFileSync(context.volume.path).equals(context.original)).toBe(true);
    const result = await first;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(runningVms(context.dir)).toEqual([...context.before, 'work'].sort());
    expect(attachments(context.dir)).toEqual([]);
  });
});
