// The VM-side fakes: dmsetup's strict crypt tables, EACCES over a read-only disk, EBUSY while exported, the masked table, info,
// blockdev; and what the destination reads through a mapping of a LUKS1 volume made by the real cryptsetup.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, makeVolume, newSim, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { createDispVm, dom0, inVm, simRun } from './sim-tools.ts';

const tmp = useTmpDir('qubes-sim-dm-');
const KEY = randomBytes(64).toString('hex');
const root = (dir: string, vm: string) => join(dir, 'vms', vm, 'root');

/** `dev` runs with FILE attached as xvds (read-only with `ro`), `work` runs. */
function world(file: string, ro = false): string {
  // No hot-plug or export delay: these tests look at each effect the moment its call returns (delays: export-and-hotplug.test.ts).
  const dir = newSim('--export-delay-ms=0', '--disk-delay-ms=0');
  sim('add-block', dir, 'sys-usb', 'sda', file, ...(ro ? ['--ro'] : []));
  expect(createDispVm(dir, 'dev').exitCode).toBe(0);
  expect(dom0(dir, 'qvm-start', ['dev', 'work']).exitCode).toBe(0);
  expect(dom0(dir, 'qvm-block', ['attach', ...(ro ? ['--ro'] : []), '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
  return dir;
}

function disk(name: string, sectors = 2048): string {
  const path = join(tmp, name);
  writeFileSync(path, Buffer.alloc(sectors * 512));
  return path;
}

describe('dmsetup create', () => {
  const dir = world(disk('plain.img'));

  // Each row: a table the kernel refuses (EINVAL), and why.
  const invalid: [string, string][] = [
    [`1 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0`, 'start must be 0'],
    [`0 1024 crypt aes-cbc-essiv:sha256 ${KEY} 0 /dev/xvds 0`, 'cipher not allowed'],
    [`0 1024 crypt xchacha12,aes-adiantum-plain64 ${KEY} 0 /dev/xvds 0`, 'an Adiantum key is 32 bytes, not 64'],
    [`0 1024 crypt xchacha12,aes-adiantum-plain64 ${KEY.slice(0, 60)} 0 /dev/xvds 0`, 'an Adiantum key of 30 bytes'],
    [`0 1024 crypt aes-xts-plain64 ${KEY.slice(0, 100)} 0 /dev/xvds 0`, 'key neither 64 nor 128 hex digits'],
    [`0 1024 crypt aes-xts-plain64 ${KEY.toUpperCase()} 0 /dev/xvds 0`, 'key not lowercase hex'],
    [`0 0 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0`, 'empty mapping'],
    [`0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 1025`, 'length plus offset past the device'],
    [`0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0 1 sector_size:1024`, 'unsupported option'],
    [`0 1020 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0 1 sector_size:4096`, 'length not whole 4096-byte sectors'],
    [`0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0 extra`, 'trailing field'],
    [`0  1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0`, 'double space'],
    [`0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0\n0 1 zero`, 'second target line'],
  ];
  it.each(invalid)('refuses %s (%s)', (table) => {
    const run = inVm(dir, 'dev', ['dmsetup', 'create', 'bad'], table);
    expect(run).toMatchObject({ exitCode: 1, stderr: 'device-mapper: reload ioctl on bad  failed: Invalid argument\nCommand failed.\n' });
    expect(existsSync(join(root(dir, 'dev'), 'dev/mapper/bad'))).toBe(false);
  });

  it('a missing device is ENODEV; a table from --table works like stdin', () => {
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'nodev'], `0 8 crypt aes-xts-plain64 ${KEY} 0 /dev/xvdz 0`).stderr).toMatch(/reload ioctl on nodev {2}failed: No such device/);
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'viaarg', '--table', `0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 1024`]).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'remove', 'viaarg']).exitCode).toBe(0);
  });

  it('exports the mapping: nodes, sysfs name, VM:dm-N in qvm-block; table without the key; info; busy while attached', () => {
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'm1'], `0 2040 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 8 1 sector_size:4096\n`).exitCode).toBe(0);
    const devRoot = root(dir, 'dev');
    expect(readFileSync(join(devRoot, 'sys/block/dm-0/dm/name'), 'utf8')).toBe('m1\n');
    expect(existsSync(join(devRoot, 'dev/dm-0')) && existsSync(join(devRoot, 'dev/mapper/m1'))).toBe(true);
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'm2'], `0 8 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 0`).stderr).toMatch(/Device or resource busy/);
    expect(inVm(dir, 'dev', ['dmsetup', 'table', 'm1']).stdout).toBe(`0 2040 crypt aes-xts-plain64 ${'0'.repeat(128)} 0 /dev/xvds 8 1 sector_size:4096\n`);
    expect(inVm(dir, 'dev', ['dmsetup', 'info', '-c', '--noheadings', '-o', 'name,blkdevname']).stdout).toBe('m1:dm-0\n');
    expect(inVm(dir, 'dev', ['blockdev', '--getsz', '/dev/dm-0']).stdout).toBe('2040\n');
    expect(inVm(dir, 'dev', ['blockdev', '--getsize64', '/dev/xvds']).stdout).toBe(`${2048 * 512}\n`);
    expect(inVm(dir, 'dev', ['blockdev', '--getsz', '/dev/xvdq'])).toMatchObject({ exitCode: 1, stderr: 'blockdev: cannot open /dev/xvdq: No such file or directory\n' });
    expect(dom0(dir, 'qvm-block', ['list', 'dev']).stdout).toBe('dev:dm-0  m1\n');
    // What tests read instead of the state files: every qube and its state, every mapping by qube.
    expect(simRun(['mappings', dir]).stdout).toBe('dev:m1\n');
    expect(simRun(['qubes', dir]).stdout).toMatch(/^dev running\n(?:.*\n)*work running\n/);
    expect(simRun(['qubes', dir]).stdout).toMatch(/^sim-dvm halted$/m);

    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'dev:dm-0']).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'remove', 'm1'])).toMatchObject({ exitCode: 1, stderr: 'device-mapper: remove ioctl on m1  failed: Device or resource busy\nCommand failed.\n' });
    // Through the mapping, written and read back in 4096-byte units.
    const data = randomBytes(5000);
    expect(simRun(['write-block', dir, 'work', 'xvdi', '4000'], data).exitCode).toBe(0);
    expect(simRun(['read-block', dir, 'work', 'xvdi']).raw.subarray(4000, 9000).equals(data)).toBe(true);
    expect(readFileSync(join(devRoot, 'dev/xvds')).subarray(8 * 512 + 4000, 8 * 512 + 9000).equals(data)).toBe(false);
    expect(dom0(dir, 'qvm-block', ['detach', 'work', 'dev:dm-0']).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'remove', 'm1']).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'remove', 'm1']).stderr).toMatch(/remove ioctl on m1 {2}failed: No such device or address/);
    expect(existsSync(join(devRoot, 'sys/block/dm-0'))).toBe(false);
    expect(dom0(dir, 'qvm-block', ['list', 'dev']).stdout).toBe('');
    expect(simRun(['mappings', dir]).stdout).toBe('');
  });
});

describe('read-only chains', () => {
  it('a read-write table over a read-only disk is EACCES; a read-only one is exported read-only and refuses writes', () => {
    const dir = world(disk('ro.img'), true);
    expect(inVm(dir, 'dev', ['blockdev', '--getro', '/dev/xvds']).stdout).toBe('1\n');
    const table = `0 1024 crypt aes-xts-plain64 ${KEY} 0 /dev/xvds 1024`;
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'rw'], table)).toMatchObject({ exitCode: 1, stderr: 'device-mapper: reload ioctl on rw  failed: Permission denied\nCommand failed.\n' });
    expect(inVm(dir, 'dev', ['dmsetup', 'create', '--readonly', 'ro'], table).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', '-o', 'read-only=no', 'work', 'dev:dm-0']).stderr).toBe('This device can be attached only read-only\n');
    expect(dom0(dir, 'qvm-block', ['attach', '--ro', 'work', 'dev:dm-0']).exitCode).toBe(0);
    const write = simRun(['write-block', dir, 'work', 'xvdi', '0'], Buffer.alloc(512));
    expect(write).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/Read-only file system/) });
    // The device VM going away takes every attachment from and to it.
    expect(dom0(dir, 'qvm-kill', ['dev']).exitCode).toBe(0);
    expect(attachments(dir)).toEqual([]);
    expect(sim('violations', dir).toString()).toBe('');
  });
});

describe('read-block through a mapping of a cryptsetup LUKS1 volume', () => {
  it('the destination reads the plaintext', async () => {
    const volume = await makeVolume(tmp, 'luks.img');
    const dir = world(volume.path);
    const sectors = Number(inVm(dir, 'dev', ['blockdev', '--getsz', '/dev/xvds']).stdout);
    const table = `0 ${sectors - volume.payloadOffset} crypt aes-xts-plain64 ${volume.volumeKey.toString('hex')} 0 /dev/xvds ${volume.payloadOffset}`;
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'luks'], table).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'dev:dm-0']).exitCode).toBe(0);
    const read = simRun(['read-block', dir, 'work', 'xvdi']).raw;
    expect(read.length).toBe((sectors - volume.payloadOffset) * 512);
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    // With a shifted IV offset the same bytes no longer decrypt: the sector number really enters the IV.
    expect(dom0(dir, 'qvm-block', ['detach', 'work', 'dev:dm-0']).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'remove', 'luks']).exitCode).toBe(0);
    expect(inVm(dir, 'dev', ['dmsetup', 'create', 'shifted'], table.replace(' 0 /dev/xvds', ' 1 /dev/xvds')).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'dev:dm-0']).exitCode).toBe(0);
    expect(simRun(['read-block', dir, 'work', 'xvdi']).raw.subarray(0, 512).equals(volume.plaintext.subarray(0, 512))).toBe(false);
  });
});
