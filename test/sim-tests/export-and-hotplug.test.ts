// What real Qubes does after a call has returned: a dm mapping is exported to dom0 a moment after `dmsetup create` (a udev
// RUN), only if Qubes' export filters let it through; a disk attached with qvm-block appears in its qube a moment after
// qvm-block returns (xen-blkfront's hot-plug). QubesOS/qubes-linux-utils udev/udev-qubes-block.rules and udev-block-add-change.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSim, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { sleepSync } from '../sim/sleep-sync.ts';
import { createDispVm, dom0, inVm } from './sim-tools.ts';

const tmp = useTmpDir('qubes-sim-export-');
const KEY = randomBytes(64).toString('hex');
const root = (dir: string, vm: string) => join(dir, 'vms', vm, 'root');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the hot-plugged disk is there, as the device VM itself does before using it (vm/lib/kernel.ts waitForDisk). */
function untilDiskAppears(dir: string, vm: string, disk: string): void {
  const deadline = Date.now() + 10_000;
  while (!existsSync(join(root(dir, vm), 'dev', disk)) || !existsSync(join(root(dir, vm), 'sys/block', disk))) {
    if (Date.now() > deadline) throw new Error(`${disk} never appeared in ${vm}`);
    sleepSync(20);
  }
}

/** A simulated Qubes whose DisposableVM `dev` has sys-usb:sda as xvds (with no_part_scan on, as DevicePrepare leaves it). */
function world(options: string[], rules?: string): string {
  const dir = newSim(...options);
  const file = join(tmp, `${randomBytes(4).toString('hex')}.img`);
  writeFileSync(file, Buffer.alloc(2048 * 512));
  sim('add-block', dir, 'sys-usb', 'sda', file);
  if (rules !== undefined) {
    mkdirSync(join(root(dir, 'sim-dvm'), 'etc/udev/rules.d'), { recursive: true });
    writeFileSync(join(root(dir, 'sim-dvm'), 'etc/udev/rules.d/13-test.rules'), `${rules}\n`);
  }
  expect(createDispVm(dir, 'dev').exitCode).toBe(0);
  expect(dom0(dir, 'qvm-start', ['dev', 'work']).exitCode).toBe(0);
  writeFileSync(join(root(dir, 'dev'), 'sys/module/block/parameters/no_part_scan'), 'Y\n');
  expect(dom0(dir, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
  // The disk arrives disk-delay-ms after the attach returned (a hot-plug): on a loaded machine, later still.
  untilDiskAppears(dir, 'dev', 'xvds');
  return dir;
}

const map = (dir: string, name: string, device = '/dev/xvds') => inVm(dir, 'dev', ['dmsetup', 'create', name], `0 1024 crypt aes-xts-plain64 ${KEY} 0 ${device} 0`);
const listed = (dir: string) => dom0(dir, 'qvm-block', ['list', 'dev']).stdout;

describe("a mapping's export to dom0", () => {
  it('comes export-delay-ms after dmsetup create: until then qvm-block attach says the backend does not expose it', async () => {
    const dir = world(['--export-delay-ms=2000']);
    expect(map(dir, 'late').exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'dev:dm-0'])).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/backend vm 'dev' doesn't expose device 'dm-0'/) });
    expect(listed(dir)).toBe('');
    await sleep(2100);
    expect(listed(dir)).toMatch(/^dev:dm-0 +late\n$/);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'dev:dm-0']).exitCode).toBe(0);
  });

  // Each row: the qube's rule, the release, whether dom0 sees the mapping.
  it.each([
    ['KERNEL=="dm-*", ENV{UDISKS_IGNORE}="1"', '4.3', false],
    ['KERNEL=="dm-*", ENV{UDISKS_IGNORE}="1"', '4.2', true],
    ['KERNEL=="dm-*", ENV{DM_UDEV_DISABLE_DISK_RULES_FLAG}="1"', '4.2', false],
    ['KERNEL=="dm-*", ENV{DM_UDEV_DISABLE_DISK_RULES_FLAG}="1"', '4.3', false],
    ['KERNEL=="dm-*", ENV{QUBES_EXPORT_BLOCK_DEVICE}="0"', '4.2', false],
    ['# nothing', '4.3', true],
  ] as const)('%s on R%s: exported %s', (rule, release, exported) => {
    const dir = world([`--qubes-release=${release}`], rule);
    expect(map(dir, 'flagged').exitCode).toBe(0);
    expect(listed(dir).includes('dev:dm-0')).toBe(exported);
  });

  it("the project's own rules leave the mapping exported on R4.3 (no UDISKS_IGNORE on dm-*)", () => {
    const dir = world(['--qubes-release=4.3']);
    expect(existsSync(join(root(dir, 'dev'), 'usr/lib/udev/rules.d/12-split-dm-crypt.rules'))).toBe(true);
    expect(map(dir, 'ours').exitCode).toBe(0);
    expect(listed(dir)).toMatch(/^dev:dm-0 /);
  });

  it('a mapping in use (another mapping stacked on it) is not exported, unless attached already', () => {
    const dir = world([]);
    expect(map(dir, 'lower').exitCode).toBe(0);
    expect(map(dir, 'upper', '/dev/dm-0').exitCode).toBe(0);
    expect(listed(dir)).not.toMatch(/dev:dm-0 /);
    expect(listed(dir)).toMatch(/dev:dm-1 +upper/);
  });
});

describe('a hot-plugged disk', () => {
  it('appears in its qube disk-delay-ms after qvm-block attach returned; a detach before that leaves nothing behind', async () => {
    const dir = newSim('--disk-delay-ms=1500');
    const file = join(tmp, 'late.img');
    writeFileSync(file, Buffer.alloc(2048 * 512));
    sim('add-block', dir, 'sys-usb', 'sda', file);
    sim('add-block', dir, 'sys-usb', 'sdb', file);
    expect(dom0(dir, 'qvm-start', ['work']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    expect(sim('attachments', dir).toString()).toMatch(/sys-usb:sda/);
    expect(existsSync(join(root(dir, 'work'), 'sys/block/xvdi'))).toBe(false);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'sys-usb:sdb']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['detach', 'work', 'sys-usb:sdb']).exitCode).toBe(0);
    await sleep(2500);
    expect(existsSync(join(root(dir, 'work'), 'sys/block/xvdi/size'))).toBe(true);
    expect(existsSync(join(root(dir, 'work'), 'dev/xvdi'))).toBe(true);
    expect(existsSync(join(root(dir, 'work'), 'sys/block/xvdj'))).toBe(false);
  });
});
