// Smoke test of the guest kernel built by build.sh: Qubes' block.no_part_scan exists, is off at boot, can be set by root at
// run time and on the kernel command line, keeps a disk hot-plugged afterwards from being scanned for partitions (while a disk
// present at boot was scanned), and dm-crypt with AES-XTS works on that disk. The first run builds the kernel (minutes).
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTmpDir } from '../../helpers/tmp.ts';
import { bootGuest, buildGuestKernel, BUILD_TIMEOUT_MS, type BootResult } from './boot.ts';
import { GUEST_INIT } from './guest-init.ts';
import { buildInitramfs } from './initramfs.ts';
import { writeMbrDisk } from '../../helpers/partition-tables.ts';
import { runQmp } from './qmp-client.ts';

// Generous: a boot takes seconds on an idle machine, far longer when other emulators share the CPUs.
const BOOT_TIMEOUT_MS = 120_000;

const dir = useTmpDir('guest-kernel-smoke-');
let kernel = '';
let initrd = '';
let hotplug: BootResult;
let cmdline: BootResult;

beforeAll(() => {
  kernel = buildGuestKernel();
  initrd = buildInitramfs(dir, GUEST_INIT);
  writeMbrDisk(join(dir, 'boot-disk.img'));
  copyFileSync(join(dir, 'boot-disk.img'), join(dir, 'hotplug-disk.img'));
  writeMbrDisk(join(dir, 'cmdline-disk.img'));
}, BUILD_TIMEOUT_MS);

describe('guest kernel with block.no_part_scan', () => {
  beforeAll(async () => {
    const qmpSocket = join(dir, 'qmp.sock');
    const plugDisk = (key: string): Promise<void> | undefined => {
      if (key !== 'hotplug-ready') return undefined;
      return runQmp(qmpSocket, [
        {
          execute: 'blockdev-add',
          arguments: { 'node-name': 'disk2', driver: 'raw', file: { driver: 'file', filename: join(dir, 'hotplug-disk.img') } },
        },
        { execute: 'device_add', arguments: { driver: 'virtio-blk-pci', drive: 'disk2', id: 'vdb' } },
      ]);
    };
    hotplug = await bootGuest({
      kernel, initrd, disks: [join(dir, 'boot-disk.img')], qmpSocket, onMarker: plugDisk, timeoutMs: BOOT_TIMEOUT_MS,
    });
    console.log(`hot-plug boot: ${hotplug.seconds.toFixed(1)} s`);
  }, BOOT_TIMEOUT_MS + 5_000);

  it('is the patched kernel', () => {
    expect(hotplug.markers.get('release')).toMatch(/^6\.1\.\d+-nopartscan$/);
    expect(hotplug.markers.get('version')).toContain('split-dm-crypt@guest-kernel');
  });

  it('has no_part_scan off at boot, writable by root only', () => {
    expect(hotplug.markers.get('param-boot')).toBe('N');
    expect(hotplug.markers.get('param-mode')).toBe('644');
    expect(hotplug.markers.get('param-set')).toBe('Y');
  });

  it('scans a disk present at boot', () => {
    expect(hotplug.markers.get('vda1-boot')).toBe('yes');
    expect(hotplug.markers.get('vda-rereadpt')).toBe('yes');
  });

  it('does not scan a disk hot-plugged while no_part_scan is on, nor on request', () => {
    expect(hotplug.markers.get('vdb')).toBe('yes');
    expect(hotplug.markers.get('vdb-size')).toBe('8192');
    expect(hotplug.markers.get('vdb1')).toBe('no');
    expect(hotplug.markers.get('vdb-rereadpt')).toBe('no');
    expect(hotplug.markers.get('vdb1-after-rereadpt')).toBe('no');
  });

  it('maps the unscanned disk with dm-crypt (aes-xts-plain64)', () => {
    expect(hotplug.markers.get('device-mapper')).toBe('yes');
    expect(hotplug.markers.get('dm-crypt-open')).toBe('yes');
    expect(hotplug.markers.get('dm-crypt-name')).toBe('smoke');
    expect(hotplug.markers.get('xts-aes-driver')).toMatch(/aes/);
    expect(hotplug.markers.get('dm-crypt-roundtrip')).toBe('yes');
    expect(hotplug.markers.get('dm-crypt-raw-differs')).toBe('yes');
    expect(hotplug.markers.get('dm-crypt-close')).toBe('yes');
    expect(hotplug.markers.get('done')).toBe('');
  });
});

describe('guest kernel booted with block.no_part_scan=1', () => {
  beforeAll(async () => {
    cmdline = await bootGuest({
      kernel, initrd, append: 'block.no_part_scan=1 smoke_mode=boot-only', disks: [join(dir, 'cmdline-disk.img')],
      qmpSocket: join(dir, 'qmp-cmdline.sock'), timeoutMs: BOOT_TIMEOUT_MS,
    });
    console.log(`command-line boot: ${cmdline.seconds.toFixed(1)} s`);
  }, BOOT_TIMEOUT_MS + 5_000);

  it('has the parameter on from the start and does not scan the boot disk', () => {
    expect(cmdline.markers.get('param-boot')).toBe('Y');
    expect(cmdline.markers.get('vda1-boot')).toBe('no');
    expect(cmdline.markers.get('done')).toBe('');
  });
});
