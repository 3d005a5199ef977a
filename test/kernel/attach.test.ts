// The kernel tier, attach and detach: the device DisposableVM is a QEMU guest running our kernel with Qubes' no_part_scan,
// prepared before the source disk is hot-plugged into it as Qubes does, so the mapping is made by real dm-crypt, udev runs the
// project's rules, and a busy mapping is refused by the kernel, not by a model of it.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { attachments, makeLuks2Volume, makeVolume, newSim, runningVms, runSplit, sim, type TestVolume } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { deviceVm, guestKernel, inGuest, KERNEL_TEST_TIMEOUT_MS, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();
const T = KERNEL_TEST_TIMEOUT_MS;

/** Properties udev stored for a device in the guest, as `KEY=value` lines. */
async function udevProperties(dir: string, vm: string, device: string): Promise<Map<string, string>> {
  const info = await inGuest(dir, vm, ['udevadm', 'info', '--query=property', `--name=${device}`]);
  expect(info.exitCode, info.stderr).toBe(0);
  return new Map(info.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
}

describe('kernel tier: attach and detach', () => {
  let dir = '';
  let volume: TestVolume;
  let vm = '';

  beforeAll(async () => {
    dir = newQemuSim({ kernel: 'patched', optOut: false });
    volume = await makeVolume(tmp, 'luks1.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  });

  it('the destination reads the plaintext real dm-crypt decrypts: the same bytes as the userspace simulator', async () => {
    const original = readFileSync(volume.path);
    const userspaceCopy = join(tmp, 'userspace.img');
    copyFileSync(volume.path, userspaceCopy);
    const attach = await split(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    expect(attach.stderr).not.toMatch(/warning/);
    vm = deviceVm(dir);
    expect((await inGuest(dir, vm, ['cat', '/sys/module/block/parameters/no_part_scan'])).stdout.trim()).toBe('Y');
    const table = await inGuest(dir, vm, ['dmsetup', 'table']);
    expect(table.stdout).toMatch(/: 0 \d+ crypt aes-xts-plain64 0{128} 0 \d+:\d+ 4096$/m);
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.length).toBe(original.length - volume.payloadOffset * 512);
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);

    const userspace = newSim();
    sim('add-block', userspace, 'sys-usb', 'sda', userspaceCopy);
    expect((await runSplit(userspace, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`)).exitCode).toBe(0);
    expect(sim('read-block', userspace, 'work', 'xvdi').equals(read)).toBe(true);
    expect((await runSplit(userspace, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    logScenario(await guestKernel(dir, vm), 'attach LUKS1', `ok in ${attach.ms} ms, ${read.length} plaintext bytes equal to the userspace simulator's`);
  }, T);

  it('udev in the guest: the project\'s rules keep blkid off the raw disk and off the mapping', async () => {
    // The disk is probe-able: without the rules, udev's blkid would record ID_FS_TYPE=crypto_LUKS for it.
    expect((await inGuest(dir, vm, ['blkid', '-p', '-o', 'value', '-s', 'TYPE', '/dev/xvds'])).stdout.trim()).toBe('crypto_LUKS');
    expect((await inGuest(dir, vm, ['test', '-S', '/run/udev/control'])).exitCode).toBe(0);
    const disk = await udevProperties(dir, vm, '/dev/xvds');
    const mapping = await udevProperties(dir, vm, '/dev/dm-0');
    for (const properties of [disk, mapping]) {
      expect(properties.has('ID_FS_TYPE')).toBe(false);
      expect(properties.get('UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG')).toBe('1');
      expect(properties.get('DM_NOSCAN')).toBe('1');
    }
    expect(disk.get('UDISKS_IGNORE')).toBe('1');
    // The mapping stays visible to Qubes' block backend (R4.3 hides UDISKS_IGNORE devices).
    expect(mapping.has('UDISKS_IGNORE')).toBe(false);
    logScenario(await guestKernel(dir, vm), 'udev rules', `ok: no ID_FS_TYPE on ${disk.get('DEVNAME')} or ${mapping.get('DEVNAME')} (${mapping.get('DM_NAME')}), flags set`);
  }, T);

  it('detach retries dmsetup remove while a process in the guest holds the mapping, and finishes once it is gone', async () => {
    const kernel = await guestKernel(dir, vm);
    // Holds the mapping open until DeviceClose has tried (and failed) to remove it at least once, then lets go. Each
    // attempt's dmsetup lives only a moment, so /proc is scanned with shell builtins alone (starting pgrep each time, under
    // emulation, missed them), for at most 20 s; seen at its exec, it is given 1.5 s to reach its ioctl before the fd closes.
    const hold = `exec 3</dev/dm-0; echo held
      while ! pgrep -f 'splitdmcrypt[.]DeviceClose' >/dev/null; do sleep 0.1; done
      end=$(($(date +%s) + 20)); seen=
      while [ -z "$seen" ] && [ "$(date +%s)" -lt "$end" ]; do
        for comm in /proc/[0-9]*/comm; do read -r name < "$comm" 2>/dev/null && [ "$name" = dmsetup ] && seen=1 && break; done
      done
      sleep 1.5`;
    const holder = inGuest(dir, vm, ['sh', '-c', hold]);
    for (let i = 0; i < 100 && (await inGuest(dir, vm, ['dmsetup', 'info', '-c', '--noheadings', '-o', 'open'])).stdout.trim() !== '2'; i++);
    const detach = await split(dir, ['detach', 'sys-usb:sda']);
    expect((await holder).stdout).toBe('held');
    expect(detach.exitCode, detach.stderr).toBe(0);
    const closed = /\u{a8}attempts([\x00-\x7f])/u.exec(sim('transcript', dir).toString('latin1'));
    const attempts = closed ? closed[1]!.charCodeAt(0) : 0;
    expect(attempts).toBeGreaterThan(1);
    expect(sim('attachments', dir).toString()).toBe('');
    expect(readFileSync(volume.path).subarray(0, 4096).equals(readFileSync(join(tmp, 'userspace.img')).subarray(0, 4096))).toBe(true);
    logScenario(kernel, 'dmsetup remove while held', `ok: removed after ${attempts} attempts, detach took ${detach.ms} ms`);
  }, T);

  it('--ro: a write to the mapping fails in the guest\'s kernel', async () => {
    const attach = await split(dir, ['attach', '--ro', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    const ro = deviceVm(dir);
    expect((await inGuest(dir, ro, ['blockdev', '--getro', '/dev/xvds', '/dev/dm-0'])).stdout.split('\n')).toEqual(['1', '1']);
    const write = await inGuest(dir, ro, ['dd', 'if=/dev/zero', 'of=/dev/dm-0', 'bs=4096', 'count=1', 'oflag=direct']);
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/Operation not permitted|Read-only file system/);
    const kernel = await guestKernel(dir, ro);
    const detach = await split(dir, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(sim('violations', dir).toString()).toBe('');
    logScenario(kernel, '--ro attach', `ok: the guest kernel refused the write (${write.stderr.trim().split('\n')[0]})`);
  }, T);

  it('a LUKS2 volume cryptsetup made with its defaults (small argon2id cost) attaches, and the destination reads its plaintext', async () => {
    const luks2 = await makeLuks2Volume(tmp, 'luks2.img', 'luks2 passphrase', { sectorSize: 512 });
    const luks2Dir = newQemuSim({ kernel: 'patched', optOut: false });
    sim('add-block', luks2Dir, 'sys-usb', 'sda', luks2.path);
    const before = runningVms(luks2Dir);
    const original = readFileSync(luks2.path);
    const attach = await split(luks2Dir, ['attach', 'work', 'sys-usb:sda'], `${luks2.passphrase}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    const device = deviceVm(luks2Dir);
    const table = await inGuest(luks2Dir, device, ['dmsetup', 'table']);
    expect(table.stdout).toMatch(/: 0 \d+ crypt aes-xts-plain64 0{128} 0 \d+:\d+ 32768$/m);
    const read = sim('read-block', luks2Dir, 'work', 'xvdi');
    expect(read.length).toBe(original.length - luks2.payloadOffset * 512);
    expect(read.subarray(0, luks2.plaintext.length).equals(luks2.plaintext)).toBe(true);
    const kernel = await guestKernel(luks2Dir, device);
    const detach = await split(luks2Dir, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(runningVms(luks2Dir)).toEqual([...before, 'work'].sort());
    expect(attachments(luks2Dir)).toEqual([]);
    expect(readFileSync(luks2.path).equals(original)).toBe(true);
    logScenario(kernel, 'attach LUKS2 (cryptsetup defaults, argon2id)', `ok in ${attach.ms} ms, the destination read the plaintext`);
  }, T);
});
