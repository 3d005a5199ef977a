// The simulated qubesd's answers to the calls dom0 makes on its socket, asked with dom0's own client (dom0/qubesd-call.ts) of the
// qubesd `qubes-sim init` starts: qubesd's formats per release (qubes/api/admin.py), its exceptions, the calls it drops, the
// change a tag makes, one call after the other, faults planned on `qubesd:METHOD`, and the server's end once its simulated Qubes
// is removed.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { callQubesd, QubesdException, QubesdNoReplyError, type QubesdRequest } from '../../dom0/qubesd-call.ts';
import { toolFailureOf } from '../../dom0/run-tool.ts';
import { readCalls } from '../sim/faults.ts';
import { newSim, sim } from '../helpers/sim.ts';
import { dom0 } from './sim-tools.ts';

const ask = (dir: string, request: QubesdRequest, timeoutMs = 5_000) => callQubesd(request, { socketPath: join(dir, 'qubesd.sock'), timeoutMs });
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the simulated qubesd answers', () => {
  it.each(['4.2', '4.3'])('admin.vm.List on R%s: NAME class= state=, sorted; R4.3 adds uuid=; one qube when it is the destination', async (release) => {
    const dir = newSim(`--qubes-release=${release}`);
    const uuid = (vm: string) => dom0(dir, 'qvm-prefs', [vm, 'uuid']).stdout.trim();
    const line = (vm: string, klass: string, state: string) => `${vm} class=${klass} state=${state}${release === '4.3' ? ` uuid=${uuid(vm)}` : ''}\n`;
    expect(await ask(dir, { method: 'admin.vm.List', dest: 'dom0' })).toBe(
      line('dom0', 'AdminVM', 'Running') + line('sim-dvm', 'AppVM', 'Halted') + line('sys-usb', 'AppVM', 'Running') + line('work', 'AppVM', 'Halted'),
    );
    expect(await ask(dir, { method: 'admin.vm.List', dest: 'work' })).toBe(line('work', 'AppVM', 'Halted'));
  });

  it('admin.vm.CurrentState: zeros and Halted for a halted qube, figures and Running once started, no argument taken', async () => {
    const dir = newSim();
    expect(await ask(dir, { method: 'admin.vm.CurrentState', dest: 'work' })).toBe('mem=0 mem_static_max=0 cputime=0 power_state=Halted');
    dom0(dir, 'qvm-start', ['work']);
    expect(await ask(dir, { method: 'admin.vm.CurrentState', dest: 'work' })).toMatch(/^mem=[1-9][0-9]* mem_static_max=[1-9][0-9]* cputime=[0-9]+ power_state=Running$/);
    expect(await failure(ask(dir, { method: 'admin.vm.CurrentState', dest: 'work', arg: 'x' }))).toBeInstanceOf(QubesdNoReplyError);
    expect(await failure(ask(dir, { method: 'admin.vm.CurrentState', dest: 'nosuch' }))).toMatchObject({ qubesType: 'QubesVMNotFoundError' });
  });

  it('properties as _serialize_property writes them; the klass the client computes is no property', async () => {
    const dir = newSim();
    expect(await ask(dir, { method: 'admin.vm.property.Get', dest: 'work', arg: 'netvm' })).toBe('default=False type=vm sys-firewall');
    expect(await ask(dir, { method: 'admin.vm.property.Get', dest: 'sys-usb', arg: 'netvm' })).toBe('default=False type=vm ');
    expect(await ask(dir, { method: 'admin.vm.property.Get', dest: 'sim-dvm', arg: 'template_for_dispvms' })).toBe('default=False type=bool True');
    expect((await ask(dir, { method: 'admin.vm.property.Get', dest: 'work', arg: 'uuid' })).replace('default=False type=str ', '')).toMatch(UUID);
    expect(await ask(dir, { method: 'admin.property.Get', dest: 'dom0', arg: 'default_dispvm' })).toBe('default=False type=vm sim-dvm');
    const klass = await failure(ask(dir, { method: 'admin.vm.property.Get', dest: 'work', arg: 'klass' }));
    expect(klass).toBeInstanceOf(QubesdException);
    expect(klass).toMatchObject({ qubesType: 'QubesNoSuchPropertyError', stderr: "Invalid property 'klass' of work" });
  });

  it('features: a value, or QubesFeatureNotFoundError; a qube that does not exist is QubesVMNotFoundError', async () => {
    const dir = newSim('--qubes-release=4.3');
    dom0(dir, 'qvm-features', ['sim-dvm', 'preload-dispvm-delay', '7']);
    expect(await ask(dir, { method: 'admin.vm.feature.Get', dest: 'sim-dvm', arg: 'preload-dispvm-delay' })).toBe('7');
    expect(await failure(ask(dir, { method: 'admin.vm.feature.Get', dest: 'sim-dvm', arg: 'preload-dispvm-max' }))).toMatchObject({ qubesType: 'QubesFeatureNotFoundError' });
    expect(await failure(ask(dir, { method: 'admin.vm.feature.Get', dest: 'nosuch', arg: 'x' }))).toMatchObject({ qubesType: 'QubesVMNotFoundError', stderr: "No such domain: 'nosuch'" });
  });

  it('tag.Set changes the qube (qvm-tags sees it); tag.List lists sorted; an invalid tag is dropped, changing nothing', async () => {
    const dir = newSim();
    expect(await ask(dir, { method: 'admin.vm.tag.Set', dest: 'work', arg: 'zeta' })).toBe('');
    expect(await ask(dir, { method: 'admin.vm.tag.Set', dest: 'work', arg: 'alpha' })).toBe('');
    expect(await ask(dir, { method: 'admin.vm.tag.List', dest: 'work' })).toBe('alpha\nzeta\n');
    expect(dom0(dir, 'qvm-tags', ['work', 'list']).stdout).toBe('zeta\nalpha\n');
    expect(await failure(ask(dir, { method: 'admin.vm.tag.Set', dest: 'work', arg: 'a.b' }))).toBeInstanceOf(QubesdNoReplyError);
    expect(await ask(dir, { method: 'admin.vm.tag.List', dest: 'work' })).toBe('alpha\nzeta\n');
  });

  it('drops an argument to a call that takes none, and a call without the argument it needs', async () => {
    const dir = newSim();
    expect(await failure(ask(dir, { method: 'admin.vm.List', dest: 'dom0', arg: 'x' }))).toBeInstanceOf(QubesdNoReplyError);
    expect(await failure(ask(dir, { method: 'admin.vm.property.Get', dest: 'work' }))).toBeInstanceOf(QubesdNoReplyError);
  });

  it('CreateDisposable: R4.3 hands out by name or, with the uuid payload, by uuid; R4.2 drops the payload', async () => {
    const r43 = newSim('--qubes-release=4.3');
    expect(await ask(r43, { method: 'admin.vm.CreateDisposable', dest: 'sim-dvm' })).toMatch(/^disp[0-9]{1,4}$/);
    expect(await ask(r43, { method: 'admin.vm.CreateDisposable', dest: 'sim-dvm', payload: 'uuid' })).toMatch(/^uuid:[0-9a-f-]{36}$/);
    expect(readCalls(r43).filter((call) => call.key === 'qubesd:admin.vm.CreateDisposable').map((call) => call.argv)).toEqual([['sim-dvm'], ['sim-dvm', 'payload:uuid']]);
    const r42 = newSim('--qubes-release=4.2');
    expect(await failure(ask(r42, { method: 'admin.vm.CreateDisposable', dest: 'sim-dvm', payload: 'uuid' }))).toBeInstanceOf(QubesdNoReplyError);
  });
});

describe('the time qubesd takes', () => {
  it('answers one call after the other, each after qubesd-call-ms', async () => {
    const dir = newSim();
    sim('set', dir, 'qubesd-call-ms', '200');
    const started = Date.now();
    const answeredAt = await Promise.all(['work', 'sys-usb', 'sim-dvm'].map((vm) => ask(dir, { method: 'admin.vm.property.Get', dest: vm, arg: 'netvm' }).then(() => Date.now() - started)));
    // Three calls at once: the last is answered after three turns, not after one.
    expect(Math.max(...answeredAt)).toBeGreaterThanOrEqual(600);
    expect(Math.min(...answeredAt)).toBeGreaterThanOrEqual(200);
  });
});

describe('faults planned on qubesd:METHOD', () => {
  it('fail is an exception reply, garbage is refused by the client, hang is never answered; each call is recorded', async () => {
    const dir = newSim();
    sim('fault', dir, '--target', 'qubesd:admin.vm.property.Get', '--nth', '1', '--mode', 'fail');
    sim('fault', dir, '--target', 'qubesd:admin.vm.property.Get', '--nth', '2', '--mode', 'garbage');
    sim('fault', dir, '--target', 'qubesd:admin.vm.property.Get', '--nth', '3', '--mode', 'hang');
    const netvm = { method: 'admin.vm.property.Get', dest: 'work', arg: 'netvm' };
    expect(await failure(ask(dir, netvm))).toMatchObject({ qubesType: 'QubesException', stderr: 'injected failure (qubes-sim fault)' });
    const garbage = await failure(ask(dir, netvm));
    expect(garbage).not.toBeInstanceOf(QubesdException);
    expect((garbage as Error).message).toMatch(/qubesd's reply|without a reply/);
    expect(toolFailureOf(await failure(ask(dir, netvm, 500)))).toEqual({ kind: 'time-limit', limitMs: 500 });
    expect(await ask(dir, netvm)).toBe('default=False type=vm sys-firewall');
    expect(readCalls(dir).filter((call) => call.key === 'qubesd:admin.vm.property.Get').map((call) => call.fault ?? 'none')).toEqual(['fail', 'garbage', 'hang', 'none']);
  });
});

describe('the server init starts', () => {
  it('ends once its simulated Qubes is removed', async () => {
    const dir = newSim();
    const pid = Number(readFileSync(join(dir, 'qubesd.pid'), 'utf8'));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    rmSync(dir, { recursive: true, force: true });
    for (let waited = 0; alive() && waited < 5_000; waited += 50) await sleep(50);
    expect(alive()).toBe(false);
    expect(existsSync(join(dir, 'qubesd.sock'))).toBe(false);
  });
});
