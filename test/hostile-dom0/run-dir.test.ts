// A local dom0 user (or anything else that can write dom0's run directory) attacks qvm-block-split through its files: records
// that name qubes the tool never made or whose names were reused, records and locks that are symlinks to /dev/zero or FIFOs,
// and a `cleanup` run while an attach is still waiting for its passphrase. Each attack is run through the real command on the
// simulator; every test failed on the code before the run directory was hardened.
import type { ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim, splitProcess, type SimRun, type TestVolume } from '../helpers/sim.ts';

const tmp = useTmpDir();
const volume: Promise<TestVolume> = makeVolume(tmp, 'hostile-dom0.img', 'run dir pass', 3 * 1024 * 1024);

interface World {
  readonly dir: string;
  readonly records: string;
  readonly locks: string;
  readonly passphrase: string;
}

/** A simulated Qubes with the volume at sys-usb:sda and `work` running. */
async function world(name: string): Promise<World> {
  const { path, passphrase } = await volume;
  const dir = newSim();
  const image = join(tmp, `${name}.img`);
  writeFileSync(image, readFileSync(path));
  sim('add-block', dir, 'sys-usb', 'sda', image);
  execFileSync(join(dir, 'bin', 'qvm-start'), ['work'], { env: { ...process.env, QUBES_SIM_DIR: dir } });
  const run = join(dir, 'dom0', 'run');
  for (const sub of ['attachments', 'locks']) mkdirSync(join(run, sub), { recursive: true });
  return { dir, records: join(run, 'attachments'), locks: join(run, 'locks'), passphrase };
}

/** The uuid the simulator's qubesd gave `vm`. */
function uuidOf(dir: string, vm: string): string {
  return (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { vms: Record<string, { uuid: string }> }).vms[vm]!.uuid;
}

/** A record as the attacker writes it, with the fields the schema wants. */
function plant(w: World, file: string, fields: Record<string, unknown>): string {
  const record = { source: { backend: 'sys-usb', port: file.replace(/^sys-usb:|\.json$/g, '') }, deviceVm: '', mapping: null, destination: null, readOnly: false, phase: 'attaching', createdVms: [], createdAt: '2026-01-01T00:00:00.000Z', ...fields };
  const path = join(w.records, file);
  writeFileSync(path, JSON.stringify(record));
  return path;
}

/** Runs a command with a short limit: the bounded reads must make it finish at once. */
async function quick(w: World, args: readonly string[]): Promise<SimRun & { readonly timedOut: boolean }> {
  const result = await splitProcess(w.dir, args, { stdin: 'ignore', timeoutMs: 30_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut };
}

/** A command whose stdin stays open (it waits for a passphrase there) until the test writes to it. */
function startWaiting(w: World, args: readonly string[]): ResultPromise {
  return splitProcess(w.dir, args, { stdin: 'pipe' });
}

/** Waits until the command on sys-usb:sda has recorded its device VM and attached the source to it. */
async function untilSourceAttached(w: World, child: ResultPromise): Promise<{ deviceVm: string; createdVms: { name: string }[]; phase: string }> {
  for (let i = 0; i < 600; i++) {
    const path = join(w.records, 'sys-usb:sda.json');
    if (existsSync(path)) {
      const record = JSON.parse(readFileSync(path, 'utf8')) as { deviceVm: string; createdVms: { name: string }[]; phase: string };
      if (record.deviceVm !== '' && attachments(w.dir).some((line) => line.includes('sys-usb:sda'))) return record;
    }
    if (child.exitCode !== null) throw new Error(`the command ended early: ${String((await child).stderr)}`);
    await sleep(100);
  }
  throw new Error('the command never attached the source');
}

describe('planted records do not make dom0 kill qubes it did not create', () => {
  it.each([
    // The format the code before accepted (names only), and the current one with the victims' real uuids.
    ['names only', (w: World) => [{ deviceVm: 'sys-usb', createdVms: ['sys-usb'] }, { createdVms: ['work'], destination: { vm: 'work', createdByUs: true } }]],
    ['names with the victims\' uuids', (w: World) => [
      { deviceVm: 'sys-usb', createdVms: [{ name: 'sys-usb', uuid: uuidOf(w.dir, 'sys-usb') }] },
      { createdVms: [{ name: 'work', uuid: uuidOf(w.dir, 'work') }], destination: { vm: 'work', createdByUs: true } },
    ]],
  ])('a record naming sys-usb and one naming work (%s): cleanup, status and detach leave both running', async (_format, fields) => {
    const w = await world(`planted-${_format.replace(/\W+/g, '-')}`);
    const [usb, work] = fields(w);
    const usbRecord = plant(w, 'sys-usb:sdz.json', usb!);
    const workRecord = plant(w, 'sys-usb:sdy.json', work!);
    const before = runningVms(w.dir);
    expect(before).toEqual(expect.arrayContaining(['sys-usb', 'work']));

    const cleanup = await quick(w, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain(`warning: attachment record ${usbRecord} is corrupt`);
    expect(cleanup.stderr).toContain(`warning: attachment record ${workRecord} is corrupt`);
    expect(cleanup.stderr).not.toMatch(/cleaned up|removed/);
    expect(runningVms(w.dir)).toEqual(before);

    const status = await quick(w, ['status']);
    expect(status.stdout).toBe('');
    expect(status.stderr).toContain(usbRecord);

    const detach = await quick(w, ['detach', 'sys-usb:sdz']);
    expect(detach.exitCode).toBe(1);
    expect(detach.stderr).toMatch(new RegExp(`^qvm-block-split: error: attachment record ${usbRecord.replace(/[.+]/g, '\\$&')} is corrupt: `, 'm'));
    expect(runningVms(w.dir)).toEqual(before);
    expect(readdirSync(w.locks)).toEqual([]);
  });

  it('a record naming a DisposableVM whose name now belongs to another qube (another uuid): cleanup leaves that qube alone', async () => {
    const w = await world('reused-cleanup');
    const name = 'dm-device-disp12345678';
    const recorded = '00000000-1111-4222-8333-444444444444';
    plant(w, 'sys-usb:sdz.json', { deviceVm: name, createdVms: [{ name, uuid: recorded }] });
    sim('add-vm', w.dir, name, '--class', 'DispVM', '--running');
    const actual = uuidOf(w.dir, name);
    expect(actual).not.toBe(recorded);

    const cleanup = await quick(w, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain(`warning: ${name} is not the DisposableVM the record names: its uuid is ${actual}, the record says ${recorded}; left alone`);
    expect(cleanup.stderr).toContain('cleaned up the attaching attachment of sys-usb:sdz');
    expect(runningVms(w.dir)).toContain(name);
    expect(readdirSync(w.records)).toEqual([]);
  });

  it('a record naming a DisposableVM whose name was reused: detach leaves that qube alone and says so', async () => {
    const w = await world('reused-detach');
    const name = 'dm-device-disp87654321';
    plant(w, 'sys-usb:sdz.json', { phase: 'attached', deviceVm: name, createdVms: [{ name, uuid: '00000000-1111-4222-8333-444444444444' }] });
    sim('add-vm', w.dir, name, '--class', 'DispVM', '--running');

    const detach = await quick(w, ['detach', 'sys-usb:sdz']);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(detach.stderr).toMatch(/warning: dm-device-disp87654321 is not the DisposableVM the record names: its uuid is [0-9a-f-]{36}, the record says 0{8}-1111-4222-8333-4{12}; left alone/);
    expect(detach.stderr).toContain('the qube now called dm-device-disp87654321 is not its device VM and was left alone');
    expect(runningVms(w.dir)).toContain(name);
  });

  it('a record naming a qube of ours by name and uuid that is not a DisposableVM: left alone', async () => {
    const w = await world('not-a-dispvm');
    const name = 'dm-header-disp11112222';
    sim('add-vm', w.dir, name, '--class', 'AppVM', '--running');
    plant(w, 'sys-usb:sdz.json', { createdVms: [{ name, uuid: uuidOf(w.dir, name) }] });
    const cleanup = await quick(w, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain(`warning: ${name} is not the DisposableVM the record names: it is a AppVM, not a DispVM; left alone`);
    expect(runningVms(w.dir)).toContain(name);
  });
});

describe('what status prints from a record', () => {
  // The destination's device name is printed by status: a planted one carrying a terminal escape must never reach the screen.
  it.each([
    ['a terminal escape', 'xvdi\u001b]0;pwned\u0007'],
    ['a path', '../../dev/sda'],
    ['a long name', `xvd${'a'.repeat(100)}`],
  ])('a destination device name with %s: the record is refused, nothing of it printed', async (_what, frontend) => {
    const w = await world(`frontend-${_what.replace(/\W+/g, '-')}`);
    const path = plant(w, 'sys-usb:sdy.json', { phase: 'attached', destination: { vm: 'work', createdByUs: false, frontend } });
    const run = await quick(w, ['status']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(path);
    expect(run.stderr).toMatch(/skipped/);
    expect(run.stdout + run.stderr).not.toContain('\u001b');
    expect(run.stdout + run.stderr).not.toContain('pwned\u0007');
  });
});

describe('files that cannot be read whole or without blocking', () => {
  it.each([
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path), /is not a regular file; skipped/],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path]), /is not a regular file; skipped/],
    ['a sparse 20 GiB file', (path: string) => (writeFileSync(path, ''), truncateSync(path, 20 * 2 ** 30)), /larger than the limit of 65536 bytes; skipped/],
  ])('a record that is %s: status and cleanup finish at once with a warning naming it', async (_what, make, warning) => {
    const w = await world(`record-${_what.replace(/\W+/g, '-')}`);
    const path = join(w.records, 'sys-usb:sdz.json');
    make(path);
    for (const args of [['status'], ['cleanup']]) {
      const run = await quick(w, args);
      expect(run.timedOut, `${args[0]} did not finish`).toBe(false);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toMatch(warning);
      expect(run.stderr).toContain(path);
    }
  });

  it.each([
    ['a symlink to /dev/zero', (path: string) => symlinkSync('/dev/zero', path), /is a symbolic link: refusing to follow it/],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path]), /is not a regular file \(a FIFO\)/],
  ])('a lock file that is %s: detach and attach fail at once with one clean error', async (_what, make, reason) => {
    const w = await world(`lock-${_what.replace(/\W+/g, '-')}`);
    const lock = join(w.locks, 'sys-usb:sda.lock');
    make(lock);
    for (const args of [['detach', 'sys-usb:sda'], ['attach', 'work', 'sys-usb:sda']]) {
      const run = await quick(w, args);
      expect(run.timedOut).toBe(false);
      expect(run.exitCode).toBe(1);
      const errors = run.stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));
      expect(errors, run.stderr).toHaveLength(1);
      expect(errors[0]).toContain(`lock file '${lock}'`);
      expect(errors[0]).toMatch(reason);
      expect(run.stderr).not.toMatch(/Invalid string length|unexpected failure/);
    }
    expect(runningVms(w.dir)).toEqual(['sys-usb', 'work']);
  });
});

describe('cleanup and status against a command still running', () => {
  it('cleanup during an attach waiting for its passphrase leaves it alone and says so; status shows it in progress', async () => {
    const w = await world('live-attach');
    const attach = startWaiting(w, ['attach', '--type=luks1', 'work', 'sys-usb:sda']);
    const record = await untilSourceAttached(w, attach);
    const vms = runningVms(w.dir);
    expect(vms).toEqual(expect.arrayContaining(record.createdVms.map((vm) => vm.name)));

    const cleanup = await quick(w, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain(`qvm-block-split: sys-usb:sda: an attach is still running (pid ${attach.pid}); left alone`);
    expect(cleanup.stderr).not.toMatch(/cleaned up|removed/);
    expect(runningVms(w.dir)).toEqual(vms);

    const status = await quick(w, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^sys-usb:sda .*state=attaching \\(pid ${attach.pid}, in progress\\)$`, 'm'));
    expect(status.stdout).not.toMatch(/cleanup/);

    attach.stdin!.end(`${w.passphrase}\n`);
    const done = await attach;
    expect(done.exitCode, String(done.stderr)).toBe(0);
    const detach = await runSplit(w.dir, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(detach.stderr).toMatch(/removed DisposableVM dm-device-disp[0-9]{8} \(uuid [0-9a-f-]{36}\)/);
    expect(attachments(w.dir)).toEqual([]);
  });

  it('an overwrite killed half-way leaves a record: status shows it interrupted, cleanup removes its VMs', async () => {
    const w = await world('killed-overwrite');
    const before = runningVms(w.dir);
    const overwrite = startWaiting(w, ['overwrite-header-with-format', '--yes', '--type=luks1', 'sys-usb:sda']);
    const record = await untilSourceAttached(w, overwrite);
    expect(record.phase).toBe('overwriting');
    overwrite.kill('SIGKILL');
    await overwrite;
    const made = record.createdVms.map((vm) => vm.name);
    expect(runningVms(w.dir)).toEqual(expect.arrayContaining(made));

    const status = await quick(w, ['status']);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toMatch(/^sys-usb:sda .*state=overwriting \(interrupted\? run 'qvm-block-split cleanup'\)/m);

    const cleanup = await quick(w, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(cleanup.stderr).toContain('cleaned up the interrupted overwrite of sys-usb:sda');
    for (const name of made) expect(cleanup.stderr).toMatch(new RegExp(`removed DisposableVM ${name} \\(uuid [0-9a-f-]{36}\\)`));
    expect(runningVms(w.dir)).toEqual(before);
    expect(attachments(w.dir)).toEqual([]);
    expect(readdirSync(w.records)).toEqual([]);
    expect(readdirSync(w.locks)).toEqual([]);
  });
});
