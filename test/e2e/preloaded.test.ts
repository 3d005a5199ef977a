// Attach with R4.3's preloaded disposables (the simulator's pool follows qubes-core-admin: test/sim/preload.ts), the fall-backs to
// named DisposableVMs (a networked template, R4.2), and Ctrl-C in each window the concurrent attach opened.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { readCalls } from '../sim/faults.ts';
import { attachments, makeVolume, newSim, runSplit, sim, startSplit } from '../helpers/sim.ts';

const tmp = useTmpDir();

const tool = (dir: string, name: string, ...args: string[]): string => execFileSync(join(dir, 'bin', name), args, { env: { ...process.env, QUBES_SIM_DIR: dir }, encoding: 'utf8' });

interface Qube {
  readonly name: string;
  readonly state: string;
  readonly tags: readonly string[];
}

function qubes(dir: string): Qube[] {
  return tool(dir, 'qvm-ls', '--raw-data', '--fields', 'NAME,STATE,TAGS').split('\n').filter(Boolean).map((line) => {
    const [name = '', state = '', tags = ''] = line.split('|');
    return { name, state, tags: tags ? tags.split(',') : [] };
  });
}

/** Qubes of ours: named dm-*, or tagged by us. */
const ours = (dir: string): string[] => qubes(dir).filter((q) => q.name.startsWith('dm-') || q.tags.some((t) => t.startsWith('qvm-block-split-'))).map((q) => q.name);
const pool = (dir: string): string[] => (tool(dir, 'qvm-features', 'sim-dvm', 'preload-dispvm').trim() || '').split(' ').filter(Boolean);

async function waitFor(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A simulated Qubes of `release` with a LUKS1 volume at sys-usb:sda; `preload` turns the template's pool on and waits for it. */
async function setUp(name: string, release: '4.2' | '4.3', preload: number) {
  const dir = newSim(`--qubes-release=${release}`);
  const volume = await makeVolume(tmp, `${name}.img`);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  sim('set', dir, 'start-delay-ms', '200');
  if (preload > 0) {
    tool(dir, 'qvm-features', 'sim-dvm', 'preload-dispvm-max', String(preload));
    if (release === '4.3') await waitFor('the pool', () => qubes(dir).filter((q) => q.state === 'Paused').length === preload);
  }
  return { dir, volume };
}

/** Overwrites the volume's first 2 MiB (its whole LUKS1 header area), so no header parses. */
function spoilHeader(path: string): void {
  const disk = readFileSync(path);
  disk.fill(0x5a, 0, 2 * 1024 * 1024);
  writeFileSync(path, disk);
}

const recordText = (dir: string): string => {
  const folder = join(dir, 'dom0', 'run', 'attachments');
  return existsSync(folder) ? readdirSync(folder).map((file) => readFileSync(join(folder, file), 'utf8')).join('\n') : '';
};

/** Nothing of ours left: no VM, no attachment, no record, status silent. */
async function expectNothingLeft(dir: string): Promise<void> {
  expect(ours(dir)).toEqual([]);
  expect(attachments(dir)).toEqual([]);
  expect(recordText(dir)).toBe('');
  expect((await runSplit(dir, ['status'])).stdout).toBe('');
}

describe('attach with preloaded disposables', () => {
  it('R4.3 with preloading on: device and destination come from the pool, offline, tagged; status sees them; detach removes the device VM', async () => {
    const { dir, volume } = await setUp('pool', '4.3', 3);
    const before = pool(dir);
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    const device = /device VM (disp[0-9]+)/.exec(run.stderr)?.[1];
    const destination = /attached sys-usb:sda to (disp[0-9]+)/.exec(run.stderr)?.[1];
    expect(before).toContain(device);
    expect(before).toContain(destination);
    for (const vm of [device!, destination!]) expect(tool(dir, 'qvm-prefs', vm, 'netvm').trim()).toBe('');
    expect(qubes(dir).find((q) => q.name === device)?.tags).toContain('qvm-block-split-device');
    // The header VM came from the pool too, and is gone.
    expect(ours(dir).sort()).toEqual([device, destination].sort());
    const status = await runSplit(dir, ['status']);
    expect(status.stdout).toMatch(new RegExp(`device-vm=${device} .*destination=${destination}:xvdi .*state=ok`));
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(qubes(dir).some((q) => q.name === device)).toBe(false);
    expect(attachments(dir)).toEqual([]);
  });

  it('a pool with fewer members than an attach needs: asked by name, the one left over is a new qube, started by us, and offline', async () => {
    const { dir, volume } = await setUp('short-pool', '4.3', 1);
    const before = pool(dir);
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    const handOuts = readCalls(dir).filter((call) => call.key === 'qubesd:admin.vm.CreateDisposable');
    // Device and header at once (the destination later): both asked for the qube's name, as the pool had a member.
    expect(handOuts.length).toBeGreaterThanOrEqual(2);
    for (const call of handOuts.slice(0, 2)) expect(call.argv).toEqual(['sim-dvm']);
    const started = readCalls(dir).filter((call) => call.key === 'qvm-start').map((call) => call.argv.at(-1));
    expect(started.length).toBeGreaterThanOrEqual(1);
    for (const name of started) {
      expect(before).not.toContain(name);
      expect(name).toMatch(/^disp[0-9]+$/);
    }
    const device = /device VM (disp[0-9]+)/.exec(run.stderr)![1]!;
    expect(tool(dir, 'qvm-prefs', device, 'netvm').trim()).toBe('');
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(qubes(dir).some((q) => q.name === device)).toBe(false);
    expect(attachments(dir)).toEqual([]);
  });

  it('a pooled qube that has a netvm when handed out is refused before it is given the disk or the header, and removed', async () => {
    const { dir, volume } = await setUp('networked-member', '4.3', 3);
    // As if its netvm had been set between our look at the template (offline) and the hand-out.
    const [first, second] = pool(dir);
    for (const member of [first!, second!]) tool(dir, 'qvm-prefs', member, 'netvm', 'sys-usb');
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/^qvm-block-split: error: disp[0-9]+, handed out by sim-dvm's pool, has netvm sys-usb: refused \(the (device|header) VM must be offline\)$/m);
    expect(readCalls(dir).filter((call) => call.key === 'qvm-block' && call.argv[0] === 'attach')).toEqual([]);
    expect(sim('transcript', dir).toString('latin1')).not.toMatch(/send-header|HeaderUnlock/);
    for (const member of [first!, second!]) expect(qubes(dir).some((q) => q.name === member)).toBe(false);
    await expectNothingLeft(dir);
  });

  it('the destination comes from the pool only once the header is approved: a source whose header does not parse leaves it there', async () => {
    const { dir, volume } = await setUp('no-header-pool', '4.3', 3);
    spoilHeader(volume.path);
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode).toBe(1);
    expect(readCalls(dir).filter((call) => call.key === 'qubesd:admin.vm.CreateDisposable').length).toBe(2);
    await expectNothingLeft(dir);
  });

  it('R4.3 with preloading on but a networked template: named offline DisposableVMs, and why', async () => {
    const { dir, volume } = await setUp('networked', '4.3', 2);
    tool(dir, 'qvm-prefs', 'sim-dvm', 'netvm', 'sys-usb');
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/sim-dvm preloads disposables, but with netvm sys-usb .*named offline DisposableVMs instead/);
    expect(run.stderr).toMatch(/device VM dm-device-disp[0-9]{8}/);
    const device = /device VM (dm-device-disp[0-9]{8})/.exec(run.stderr)![1]!;
    expect(tool(dir, 'qvm-prefs', device, 'netvm').trim()).toBe('');
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('R4.2 (the feature set by hand means nothing there): named DisposableVMs', async () => {
    const { dir, volume } = await setUp('r42', '4.2', 2);
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/device VM dm-device-disp[0-9]{8}/);
    expect(run.stderr).toMatch(/Qubes before R4\.3\?/);
    expect(qubes(dir).some((q) => /^disp[0-9]+$/.test(q.name))).toBe(false);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('cleanup removes a pooled device VM an interrupted attach left recorded, by its tag and uuid', async () => {
    const { dir, volume } = await setUp('crash', '4.3', 3);
    const child = startSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    await waitFor('the source attached', () => attachments(dir).some((line) => line.startsWith('sys-usb:sda')));
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    expect(ours(dir).length).toBeGreaterThan(0);
    expect((await runSplit(dir, ['status'])).stdout).toMatch(/attaching \(interrupted\?/);
    const cleanup = await runSplit(dir, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    await expectNothingLeft(dir);
  });

  it('cleanup removes a disposable the pool handed out to an attach killed before it learnt which qube it got', async () => {
    const { dir, volume } = await setUp('crash-handout', '4.3', 3);
    sim('set', dir, 'preload-handout-ms', '1500');
    const before = pool(dir);
    const child = startSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    // Killed once qubesd has the call (the intent is recorded before the call is sent, so the record alone is too early).
    await waitFor('a hand-out received by qubesd', () => recordText(dir).includes('"handOuts"') && readCalls(dir).some((call) => call.key === 'qubesd:admin.vm.CreateDisposable'));
    child.kill('SIGKILL');
    await child.catch(() => undefined);
    // qubesd finishes the hand-outs without the client: the qubes leave the pool, untagged, named by no record.
    const timed = join(dir, 'qubesd', 'calls-timed.log');
    await waitFor('the hand-outs answered', () => existsSync(timed) && readFileSync(timed, 'utf8').includes('admin.vm.CreateDisposable'));
    const strays = (): string[] => qubes(dir).filter((q) => before.includes(q.name) && !pool(dir).includes(q.name)).map((q) => q.name);
    expect(strays().length).toBeGreaterThan(0);
    const handedOut = strays();
    const cleanup = await runSplit(dir, ['cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    for (const name of handedOut) expect(cleanup.stderr).toContain(`removing ${name}: sim-dvm's pool handed it out to an attach that ended before it could record it`);
    expect(strays()).toEqual([]);
    await expectNothingLeft(dir);
  });
});

describe('ATTACH_ORDER=serial', () => {
  it('starts one VM after the other, in the original order (device, header, destination), and attaches', async () => {
    const { dir, volume } = await setUp('serial', '4.3', 0);
    writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), 'ATTACH_ORDER=serial\n');
    // The simulated qubesd's event log, in the order the world changed (each qube is created, then started).
    mkdirSync(join(dir, 'qubesd'), { recursive: true });
    writeFileSync(join(dir, 'qubesd', 'events.log'), '');
    const run = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    const lifecycle = readFileSync(join(dir, 'qubesd', 'events.log'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { s: string | null; e: string; k: Record<string, string> })
      .filter((event) => event.e === 'domain-add' || event.e === 'domain-start')
      .map((event) => `${event.e} ${/^dm-(device|header|destination)-/.exec(event.s ?? event.k.vm ?? '')?.[1] ?? '?'}`);
    expect(lifecycle).toEqual(['domain-add device', 'domain-start device', 'domain-add header', 'domain-start header', 'domain-add destination', 'domain-start destination']);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });
});

describe('Ctrl-C in each window of the concurrent attach leaves nothing behind', () => {
  it('while the pool hands out a disposable', async () => {
    const { dir, volume } = await setUp('sigint-handout', '4.3', 3);
    sim('set', dir, 'preload-handout-ms', '1500');
    const child = startSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    await waitFor('a hand-out asked for', () => recordText(dir).includes('"handOuts"'));
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(130);
    await expectNothingLeft(dir);
  });

  it('while the pool hands out the destination, during the key derivation', async () => {
    const { dir, volume } = await setUp('sigint-destination-handout', '4.3', 3);
    sim('set', dir, 'preload-handout-ms', '1500');
    const child = startSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    await waitFor('the destination asked for', () => readCalls(dir).filter((call) => call.key === 'qubesd:admin.vm.CreateDisposable').length === 3);
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(130);
    await expectNothingLeft(dir);
  });

  it('while the device VM holds the disk and the header VM still starts', async () => {
    const { dir, volume } = await setUp('sigint-header-start', '4.3', 0);
    sim('set', dir, 'start-delay-ms', '300');
    const child = startSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    await waitFor('the source attached', () => attachments(dir).some((line) => line.startsWith('sys-usb:sda')));
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(130);
    await expectNothingLeft(dir);
  });

  it('a named, halted destination is not started for a source whose header does not parse', async () => {
    const { dir, volume } = await setUp('no-header-destination', '4.3', 0);
    spoilHeader(volume.path);
    const run = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(run.exitCode).toBe(1);
    expect(sim('transcript', dir).toString('latin1')).toContain('HeaderUnlock');
    expect(readCalls(dir).filter((call) => call.key === 'qvm-start' && call.argv.includes('work'))).toEqual([]);
    expect(qubes(dir).find((q) => q.name === 'work')?.state).toBe('Halted');
    await expectNothingLeft(dir);
  });

  it('while a named, halted destination starts during the key derivation: it is stopped again, after the start Qubes finishes anyway', async () => {
    const { dir, volume } = await setUp('sigint-destination', '4.3', 0);
    sim('set', dir, 'start-delay-ms', '1500');
    const child = startSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    // The attach waits for work before it can attach anything: Ctrl-C lands while work's qvm-start runs, before any commit.
    await waitFor('work starting', () => readCalls(dir).some((call) => call.key === 'qvm-start' && call.argv.includes('work')));
    child.kill('SIGINT');
    const run = await child;
    expect(run.exitCode, String(run.stderr)).toBe(130);
    expect(String(run.stderr)).not.toMatch(/^qvm-block-split: attached/m);
    await expectNothingLeft(dir);
    // qubesd went on with the start our killed qvm-start asked for; the undo waited for it, so work cannot come up later.
    expect(qubes(dir).find((q) => q.name === 'work')?.state).toBe('Halted');
    await sleep(2000);
    expect(qubes(dir).find((q) => q.name === 'work')?.state).toBe('Halted');
  });
});
