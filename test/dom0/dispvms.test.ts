// DisposableVMs are destroyed only while the qube of that name is still the one we created: the uuid Qubes gave it (and, from a
// record, class DispVM) is read again before any qvm-kill or qvm-remove. Each row: what Qubes answers, and the exact calls made.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CleanupStack } from '../../dom0/cleanup-stack.ts';
import { destroyDispVM, destroyRecordedDispVM, DISPVM_NAME, startDispVMs, type DispVmIdentity } from '../../dom0/dispvms.ts';
import { qubesAdapter } from '../../dom0/qubes.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { installFakeTools, type FakeQubesdAnswer } from './fake-tools.ts';

const fakes = installFakeTools(useTmpDir());
const qubes = qubesAdapter({});
const OURS = '0b5e3c1a-6f0e-4a7b-9c55-0d7f3e2a1b90';
const THEIRS = '7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const vm: DispVmIdentity = { name: 'dm-device-disp12345678', uuid: OURS };
const ls = (klass: string): FakeQubesdAnswer => ({ value: `${vm.name} class=${klass} state=Running\n` });
const uuidIs = (uuid: string): FakeQubesdAnswer => ({ value: `default=False type=str ${uuid}` });
const NO_SUCH: FakeQubesdAnswer = { exception: ['QubesVMNotFoundError', `No such domain: '${vm.name}'`] };
/** qubesd answering nothing: an unexpected exception on its side, or qubesd going away. */
const NO_ANSWER: FakeQubesdAnswer = { drop: true };
const RUNNING: FakeQubesdAnswer = { value: 'mem=409600 mem_static_max=4096000 cputime=3 power_state=Running' };

let stderr: string[] = [];
beforeEach(() => {
  for (const tool of ['qvm-kill', 'qvm-remove', 'qvm-create', 'qvm-start']) fakes.answer(tool, {});
  fakes.resetQubesd();
  fakes.answerQubesd('admin.vm.property.Get+uuid', uuidIs(OURS));
  fakes.answerQubesd('admin.vm.List', ls('DispVM'));
  fakes.answerQubesd('admin.vm.CurrentState', RUNNING);
  fakes.takeCalls();
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

const PREFS = `qubesd [admin.vm.property.Get] [${vm.name}] [uuid]`;
const LS = `qubesd [admin.vm.List] [${vm.name}]`;
const KILL = `qvm-kill [${vm.name}]`;
const EXISTS = `qubesd [admin.vm.CurrentState] [${vm.name}]`;

describe('destroyRecordedDispVM', () => {
  it.each<[string, FakeQubesdAnswer, FakeQubesdAnswer, FakeQubesdAnswer, string, string[]]>([
    // [case, the uuid property, admin.vm.List, admin.vm.CurrentState, outcome, calls]
    ['the qube recorded, gone after the kill (auto_cleanup)', uuidIs(OURS), ls('DispVM'), NO_SUCH, 'removed', [PREFS, LS, KILL, EXISTS]],
    ['the name now has another uuid (reused): never killed', uuidIs(THEIRS), ls('DispVM'), RUNNING, 'refused', [PREFS]],
    ['the recorded uuid but not a DispVM: never killed', uuidIs(OURS), ls('AppVM'), RUNNING, 'refused', [PREFS, LS]],
    ['no such qube: nothing to do', NO_SUCH, ls('DispVM'), RUNNING, 'gone', [PREFS]],
  ])('%s', async (_case, prefs, list, state, outcome, calls) => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', prefs);
    fakes.answerQubesd('admin.vm.List', list);
    fakes.answerQubesd('admin.vm.CurrentState', state);
    expect((await destroyRecordedDispVM(qubes, vm)).kind).toBe(outcome);
    expect(fakes.takeCalls()).toEqual(calls);
  });

  it('checks again before qvm-remove when the killed qube is still there', async () => {
    expect(await destroyRecordedDispVM(qubes, vm)).toEqual({ kind: 'removed' });
    // Still there and still running after the kill (qubesd says Running to both checks): killed once more, checked, then removed.
    expect(fakes.takeCalls()).toEqual([PREFS, LS, KILL, EXISTS, EXISTS, KILL, EXISTS, PREFS, LS, `qvm-remove [-f] [${vm.name}]`]);
  });

  it('says why it refused, naming both uuids', async () => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', uuidIs(THEIRS));
    expect(await destroyRecordedDispVM(qubes, vm)).toEqual({ kind: 'refused', reason: `${vm.name} is not the DisposableVM the record names: its uuid is ${THEIRS}, the record says ${OURS}` });
  });

  it('does not go ahead when Qubes cannot say which qube it is', async () => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', NO_ANSWER);
    await expect(destroyRecordedDispVM(qubes, vm)).rejects.toThrow(/qubesd closed the connection without a reply/);
    expect(fakes.takeCalls()).toEqual([PREFS]);
  });
});

describe('destroyDispVM (a VM of the running command)', () => {
  it('goes by name before the uuid is known', async () => {
    fakes.answerQubesd('admin.vm.CurrentState', NO_SUCH);
    expect(await destroyDispVM(qubes, { name: vm.name })).toEqual({ kind: 'removed' });
    expect(fakes.takeCalls()).toEqual([KILL, EXISTS]);
  });

  it('leaves a qube with another uuid alone, with a warning', async () => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', uuidIs(THEIRS));
    expect((await destroyDispVM(qubes, vm)).kind).toBe('refused');
    expect(fakes.takeCalls()).toEqual([PREFS]);
    expect(stderr.join('')).toMatch(/warning: dm-device-disp12345678 is not the DisposableVM this command created: its uuid is 7d1c.*; left alone/);
  });

  it('kills its own VM by name when Qubes cannot tell the uuid twice (a VM left running may hold the disk)', async () => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', NO_ANSWER);
    fakes.answerQubesd('admin.vm.CurrentState', NO_SUCH);
    expect(await destroyDispVM(qubes, vm)).toEqual({ kind: 'removed' });
    expect(fakes.takeCalls()).toEqual([PREFS, PREFS, KILL, EXISTS]);
  });
});

describe('startDispVMs', () => {
  it('names VMs dm-<role>-disp and eight digits, within 31 characters, and reports each identity before starting it', async () => {
    fakes.answerQubesd('admin.vm.CurrentState', NO_SUCH);
    const stack = new CleanupStack();
    const created: DispVmIdentity[] = [];
    const vms = await startDispVMs(qubes, ['device', 'destination'], 'sim-dvm', 'red', stack, (identity) => void created.push(identity));
    expect(vms.device).toMatch(/^dm-device-disp[0-9]{8}$/);
    expect(vms.destination).toMatch(/^dm-destination-disp[0-9]{8}$/);
    expect(vms.destination.length).toBeLessThanOrEqual(31);
    for (const name of Object.values(vms)) expect(name).toMatch(DISPVM_NAME);
    expect(created.map((identity) => identity.uuid)).toEqual([OURS, OURS]);
    const calls = fakes.takeCalls();
    for (const name of Object.values(vms)) {
      expect(calls.indexOf(`qubesd [admin.vm.property.Get] [${name}] [uuid]`)).toBeGreaterThan(calls.findIndex((call) => call.startsWith('qvm-create') && call.includes(name)));
      expect(calls.indexOf(`qvm-start [${name}]`)).toBeGreaterThan(calls.indexOf(`qubesd [admin.vm.property.Get] [${name}] [uuid]`));
    }
    expect(stack.size).toBe(2);
  });

  it.each(['dm-device-disp1234', 'dm-device-disp123456789', 'dm-shell-disp12345678', 'sys-usb', 'dm-device-disp1234567a'])('does not take %s for one of its names', (name) => {
    expect(DISPVM_NAME.test(name)).toBe(false);
  });
});
