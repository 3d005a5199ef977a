// qvm-block as Qubes behaves: listing per release, the attach checks and their messages, the kernel's view of an attached
// disk (partition scan unless no_part_scan), and the read-only model's violation log.
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, newSim, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { createDispVm, dom0, simRun } from './sim-tools.ts';

const tmp = useTmpDir('qubes-sim-block-');
const root = (dir: string, vm: string) => join(dir, 'vms', vm, 'root');

function image(name: string, sizeBytes = 1024 * 1024, firstSector?: Buffer): string {
  const data = Buffer.alloc(sizeBytes);
  firstSector?.copy(data);
  const path = join(tmp, name);
  writeFileSync(path, data);
  return path;
}

/** An MBR with one Linux partition (boot indicator 0x80, type 0x83). */
function mbr(): Buffer {
  const sector = Buffer.alloc(512);
  sector[446] = 0x80;
  sector[446 + 4] = 0x83;
  sector.writeUInt32LE(2048, 446 + 8);
  sector.writeUInt32LE(100, 446 + 12);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A world with sys-usb:sda (rw) and sys-usb:sdb (read-only), work running, a DispVM `dev` running. */
function world(...initOptions: string[]): string {
  // No hot-plug or export delay: these tests look at each effect the moment its call returns (delays: export-and-hotplug.test.ts).
  const dir = newSim('--export-delay-ms=0', '--disk-delay-ms=0', ...initOptions);
  sim('add-block', dir, 'sys-usb', 'sda', image(`a-${Math.random()}.img`), '--description', 'DataTraveler_2.0 ()');
  sim('add-block', dir, 'sys-usb', 'sdb', image(`b-${Math.random()}.img`), '--ro');
  sim('add-vm', dir, 'halted-vm');
  expect(createDispVm(dir, 'dev').exitCode).toBe(0);
  expect(dom0(dir, 'qvm-start', ['dev', 'work']).exitCode).toBe(0);
  return dir;
}

describe('qvm-block list', () => {
  it('R4.2: description as published, "used by" with its options, no header off a terminal', () => {
    const dir = world();
    expect(dom0(dir, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
    const { stdout, exitCode } = dom0(dir, 'qvm-block', ['list']);
    expect(exitCode).toBe(0);
    expect(stdout).toBe(
      'sys-usb:sda  DataTraveler_2.0 ()  dev (read-only=no, frontend-dev=xvds)\n' +
      'sys-usb:sdb  Sim_Disk_sdb ()\n',
    );
    expect(dom0(dir, 'qvm-block', []).stdout).toBe(stdout);
    expect(dom0(dir, 'qvm-block', ['ls', 'work']).stdout).toBe('');
  });

  it('R4.3: "<category>: hosted by <vm> <name>" and "(attached: ...)"', () => {
    const dir = world('--qubes-release=4.3');
    expect(dom0(dir, 'qvm-block', ['attach', '--ro', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['list', 'sys-usb']).stdout).toBe(
      'sys-usb:sda  Block_Storage: hosted by sys-usb DataTraveler 2.0  dev (attached: read-only=yes, frontend-dev=xvdi)\n' +
      'sys-usb:sdb  Block_Storage: hosted by sys-usb Sim Disk sdb\n',
    );
  });

  it('a halted backend exposes nothing', () => {
    const dir = world();
    sim('add-block', dir, 'halted-vm', 'sdc', image('c.img'));
    expect(dom0(dir, 'qvm-block', ['list', 'halted-vm']).stdout).toBe('');
  });
});

describe('qvm-block attach refusals', () => {
  // [args, exit code, stderr (R4.2)]
  const rows: [string[], number, RegExp][] = [
    // argparse: the frontend must exist.
    [['attach', 'nosuch', 'sys-usb:sda'], 2, /qvm-block: error: no such domain: 'nosuch'/],
    [['attach', 'dev', 'sys-usb'], 2, /expected a backend vm & device id combination/],
    [['attach', 'dev', 'nosuch:sda'], 1, /^qvm-block: error: no backend vm 'nosuch'$/m],
    [['attach', 'dev', 'sys-usb:sdz'], 1, /^qvm-block: error: backend vm 'sys-usb' doesn't expose device 'sdz'$/m],
    // qubesd: the frontend must run.
    [['attach', 'halted-vm', 'sys-usb:sda'], 1, /^VM not running, cannot attach device, do you mean `assign`\?$/m],
    [['attach', '-o', 'frontend-dev=hda', 'dev', 'sys-usb:sda'], 1, /^Invalid frontend-dev option value: hda$/m],
    [['attach', '-o', 'colour=red', 'dev', 'sys-usb:sda'], 1, /^Unsupported option colour$/m],
    // A read-only device asked for read-write explicitly.
    [['attach', '-o', 'read-only=no', 'dev', 'sys-usb:sdb'], 1, /^This device can be attached only read-only$/m],
    [['attach', '--frobnicate', 'dev', 'sys-usb:sda'], 2, /unrecognized arguments: --frobnicate/],
  ];
  it.each(rows)('qvm-block %j', (args, exitCode, stderr) => {
    const dir = sharedWorld();
    const run = dom0(dir, 'qvm-block', args);
    expect(run.stderr).toMatch(stderr);
    expect(run.exitCode).toBe(exitCode);
    expect(attachments(dir)).toEqual([]);
  });

  it('detach of what is not attached: R4.2 asks qubesd whatever the port, R4.3 refuses a port not exposed itself', () => {
    const r42 = world();
    expect(dom0(r42, 'qvm-block', ['detach', 'work', 'sys-usb:sdz'])).toMatchObject({ exitCode: 1, stderr: 'device sdz of class block not attached to work\n' });
    expect(dom0(r42, 'qvm-block', ['detach', 'work', 'nosuch:sda'])).toMatchObject({ exitCode: 1, stderr: "qvm-block: error: no backend vm 'nosuch'\n" });
    const r43 = world('--qubes-release=4.3');
    expect(dom0(r43, 'qvm-block', ['detach', 'work', 'sys-usb:sda'])).toMatchObject({ exitCode: 1, stderr: 'Error: block device sda not attached to work\n' });
    expect(dom0(r43, 'qvm-block', ['detach', 'work', 'sys-usb:sdz'])).toMatchObject({ exitCode: 1, stderr: 'qvm-block: error: sys-usb:sdz:* not found.\n' });
    expect(dom0(r43, 'qvm-block', ['detach', 'work', 'nosuch:sda'])).toMatchObject({ exitCode: 1, stderr: 'qvm-block: error: no such backend vm!\n' });
  });

  it('R4.3 prefixes qubesd errors with "Error:"', () => {
    const dir = world('--qubes-release=4.3');
    const run = dom0(dir, 'qvm-block', ['attach', '-o', 'read-only=no', 'dev', 'sys-usb:sdb']);
    expect(run.stderr).toBe('Error: This device can be attached only read-only\n');
    expect(dom0(dir, 'qvm-block', ['attach', 'dev', 'sys-usb:sdz']).stderr).toBe("qvm-block: error: backend vm sys-usb doesn't expose block device 'sdz'\n");
  });

  it('an attached device cannot be attached again', () => {
    const dir = world();
    expect(dom0(dir, 'qvm-block', ['attach', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
    const again = dom0(dir, 'qvm-block', ['attach', 'work', 'sys-usb:sda']);
    expect(again).toMatchObject({ exitCode: 1, stderr: 'Device sys-usb:sda already attached to dev\n' });
  });
});

let shared: string | undefined;
function sharedWorld(): string {
  shared ??= world();
  return shared;
}

describe('qvm-block attach and detach', () => {
  it('a read-only device attaches read-only by default (as qubesd does), with --ro, or with -o read-only=yes', () => {
    for (const options of [[], ['--ro'], ['-o', 'read-only=yes']]) {
      const dir = sharedWorld();
      expect(dom0(dir, 'qvm-block', ['attach', ...options, 'work', 'sys-usb:sdb']).exitCode).toBe(0);
      expect(attachments(dir)).toEqual(['sys-usb:sdb work frontend-dev=xvdi read-only=yes']);
      expect(readFileSync(join(root(dir, 'work'), 'sys/block/xvdi/ro'), 'utf8')).toBe('1\n');
      expect(dom0(dir, 'qvm-block', ['detach', 'work', 'sys-usb:sdb']).exitCode).toBe(0);
      expect(attachments(dir)).toEqual([]);
    }
  });

  it('shows the disk to the frontend: /dev node, size and ro in /sys; detach removes them', () => {
    const dir = world();
    expect(dom0(dir, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
    const devRoot = root(dir, 'dev');
    expect(readlinkSync(join(devRoot, 'dev/xvds'))).toMatch(/a-.*\.img$/);
    expect(readFileSync(join(devRoot, 'sys/block/xvds/size'), 'utf8')).toBe('2048\n');
    expect(readFileSync(join(devRoot, 'sys/block/xvds/ro'), 'utf8')).toBe('0\n');
    expect(dom0(dir, 'qvm-block', ['detach', 'work', 'sys-usb:sda'])).toMatchObject({ exitCode: 1, stderr: 'device sda of class block not attached to work\n' });
    expect(dom0(dir, 'qvm-block', ['detach', 'dev', 'sys-usb:sda']).exitCode).toBe(0);
    expect(existsSync(join(devRoot, 'dev/xvds'))).toBe(false);
    expect(existsSync(join(devRoot, 'sys/block/xvds'))).toBe(false);
  });

  it('frontend names: the first free xvdi.., a taken one refused', () => {
    const dir = world();
    sim('add-block', dir, 'sys-usb', 'sdc', image('c2.img'));
    expect(dom0(dir, 'qvm-block', ['a', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['at', 'work', 'sys-usb:sdc']).exitCode).toBe(0);
    expect(attachments(dir).map((line) => line.split(' ')[2])).toEqual(['frontend-dev=xvdi', 'frontend-dev=xvdj']);
    expect(dom0(dir, 'qvm-block', ['attach', '--ro', '-o', 'frontend-dev=xvdi', 'work', 'sys-usb:sdb']).exitCode).toBe(1);
  });
});

describe('partition scan at attach', () => {
  it('the kernel scans an MBR unless no_part_scan reads Y; a parameter-less kernel always scans', () => {
    const dir = world();
    sim('add-block', dir, 'sys-usb', 'sdm', image('mbr.img', 1024 * 1024, mbr()));
    const devRoot = root(dir, 'dev');
    expect(readFileSync(join(devRoot, 'sys/module/block/parameters/no_part_scan'), 'utf8')).toBe('N\n');
    expect(dom0(dir, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sdm']).exitCode).toBe(0);
    expect(existsSync(join(devRoot, 'sys/block/xvds/xvds1'))).toBe(true);
    expect(existsSync(join(devRoot, 'dev/xvds1'))).toBe(true);
    expect(dom0(dir, 'qvm-block', ['detach', 'dev', 'sys-usb:sdm']).exitCode).toBe(0);
    expect(existsSync(join(devRoot, 'dev/xvds1'))).toBe(false);

    writeFileSync(join(devRoot, 'sys/module/block/parameters/no_part_scan'), 'Y\n');
    expect(dom0(dir, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sdm']).exitCode).toBe(0);
    expect(existsSync(join(devRoot, 'sys/block/xvds/xvds1'))).toBe(false);

    const plain = world('--no-part-scan=absent');
    sim('add-block', plain, 'sys-usb', 'sdm', image('mbr2.img', 1024 * 1024, mbr()));
    expect(existsSync(join(root(plain, 'dev'), 'sys/module/block/parameters/no_part_scan'))).toBe(false);
    expect(dom0(plain, 'qvm-block', ['attach', '-o', 'frontend-dev=xvds', 'dev', 'sys-usb:sdm']).exitCode).toBe(0);
    expect(existsSync(join(root(plain, 'dev'), 'sys/block/xvds/xvds1'))).toBe(true);
  });

  it('no partition for a bad boot indicator or a missing signature', () => {
    const dir = sharedWorld();
    const badBoot = mbr();
    badBoot[446 + 16] = 0x12;
    const noSignature = mbr();
    noSignature[511] = 0;
    for (const [port, sector] of [['sdx', badBoot], ['sdy', noSignature]] as const) {
      sim('add-block', dir, 'sys-usb', port, image(`${port}.img`, 65536, sector));
      expect(dom0(dir, 'qvm-block', ['attach', 'work', `sys-usb:${port}`]).exitCode).toBe(0);
      expect(existsSync(join(root(dir, 'work'), 'dev/xvdi1'))).toBe(false);
      expect(dom0(dir, 'qvm-block', ['detach', 'work', `sys-usb:${port}`]).exitCode).toBe(0);
    }
  });
});

describe('read-only model', () => {
  it('write-block refuses a read-only attachment; a write behind its back is logged as a violation at detach', () => {
    const dir = world();
    expect(dom0(dir, 'qvm-block', ['attach', '--ro', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    const write = simRun(['write-block', dir, 'work', 'xvdi', '0'], 'data');
    expect(write.exitCode).toBe(1);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(sim('violations', dir).toString()).toBe('');
    // Something writes to the backing file while it is attached read-only (what a bug in a service would do).
    writeFileSync(readlinkSync(join(root(dir, 'work'), 'dev/xvdi')), 'changed');
    expect(dom0(dir, 'qvm-block', ['detach', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    expect(sim('violations', dir).toString()).toMatch(/read-only sys-usb:sda attached to work as xvdi: backing file .* changed/);
  });

  it('write-block and read-block on a read-write file-backed disk', () => {
    const dir = world();
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    expect(simRun(['write-block', dir, 'work', 'xvdi', '1000'], 'hello').exitCode).toBe(0);
    const read = simRun(['read-block', dir, 'work', 'xvdi']).raw;
    expect(read.length).toBe(1024 * 1024);
    expect(read.subarray(1000, 1005).toString()).toBe('hello');
  });
});
