// R4.3's preloaded disposables and admin.vm.CreateDisposable, as qubesd does them (QubesOS/qubes-core-admin, main):
// - the pool of a disposable template is its feature `preload-dispvm` (names, in order), at most `preload-dispvm-max`
//   (qubes/vm/mix/dvmtemplate.py get_feat_preload, get_feat_preload_max; dom0's own feature overrides it for the
//   default_dispvm: get_feat_global_preload_max);
// - preloading creates `dispNNNN` with auto_cleanup, marks it (features `internal`, `preload-dispvm-in-progress`, appended to the
//   pool: qubes/vm/dispvm.py mark_preload), starts it and pauses it once started (on_domain_started_dispvm), then
//   `preload-dispvm-completed`;
// - CreateDisposable (qubes/api/admin.py create_disposable) takes the pool's first qube (dvmtemplate.py request_preload, which
//   removes it from the pool: mark_preload_requested), waits for its preloading to complete if it has not yet, at most
//   qrexec_timeout * 1.2 (dispvm.py get_preload), unpauses it and marks it used (use_preload), which refills the pool after
//   `preload-dispvm-delay` seconds (default 3: get_feat_preload_delay); with an empty pool it creates a new dispNNNN that is
//   NOT started (DispVM.gen_disposable) and refills after max(5, delay) s (fill_preload_gap). Either way the qube gets the tags
//   `created-by-dom0` and `disp-created-by-dom0`, and the reply is its name, or `uuid:UUID` when the payload was `uuid`;
// - R4.2 (release4.2 qubes/api/admin.py) has no pool and takes no payload (`no_payload=True`): a payload is a ProtocolError,
//   which qubesd answers by closing the connection without a reply.
// qubesd does the work in its own process: a client that goes away (Ctrl-C) does not stop a hand-out half-way. So does the
// simulator: the simulated qubesd (qubesd.ts) runs the hand-out in its own process, whatever the client does meanwhile.
import { spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootKernel } from './kernel-model.ts';
import { recordEvent, recordStart } from './qubesd-events.ts';
import { makeVmTree, stopVm } from './qvm-lifecycle.ts';
import { exception } from './qubesd-methods.ts';
import { waitForBoot } from './start-latency.ts';
import { readState, SimToolError, vmDir, withState, type SimState, type SimVm } from './state.ts';

/** qrexec_timeout's default (qubes/vm/qubesvm.py), times 1.2 as get_preload waits. */
const PRELOAD_WAIT_MS = 60_000 * 1.2;

export const poolOf = (vm: SimVm | undefined): string[] => (vm?.features?.['preload-dispvm'] ? vm.features['preload-dispvm'].split(' ') : []);

/** get_feat_preload_max: dom0's feature for the default_dispvm when dom0 has one, else the template's; 0 on R4.2. */
export function preloadMax(state: SimState, template: string): number {
  if (state.settings.release !== '4.3') return 0;
  const global = state.prefs.default_dispvm === template ? state.vms.dom0?.features?.['preload-dispvm-max'] : undefined;
  return Number(global ?? state.vms[template]?.features?.['preload-dispvm-max'] ?? 0) || 0;
}

function setPool(vm: SimVm, pool: readonly string[]): void {
  vm.features = { ...vm.features, 'preload-dispvm': pool.join(' ') };
}

/** A qube leaves its template's pool (dispvm.py _preload_cleanup, on removal). */
export function leavePool(state: SimState, vm: SimVm): void {
  const template = state.vms[vm.template];
  if (template && poolOf(template).includes(vm.name)) setPool(template, poolOf(template).filter((name) => name !== vm.name));
}

/** get_new_unused_dispid: a random 0..9999 not in use. */
function newDispName(state: SimState): string {
  for (;;) {
    const name = `disp${randomInt(10_000)}`;
    if (!state.vms[name]) return name;
  }
}

/** DispVM.gen_disposable's new qube: named dispNNNN, auto_cleanup, the template's netvm and label. */
function addDisposable(dir: string, state: SimState, template: SimVm): SimVm {
  const vm: SimVm = { name: newDispName(state), class: 'DispVM', template: template.name, label: template.label, netvm: template.netvm, running: false, template_for_dispvms: false, auto_cleanup: true, uuid: randomUUID() };
  state.vms[vm.name] = vm;
  rmSync(vmDir(dir, vm.name), { recursive: true, force: true });
  makeVmTree(dir, vm);
  recordEvent(dir, null, 'domain-add', { vm: vm.name });
  return vm;
}

/** Starts `preload-fill` in the background after `delayMs` (qubesd's domain-preload-dispvm-start/used with a delay). */
export function refillLater(dir: string, template: string, delayMs: number): void {
  spawn(process.execPath, [process.argv[1]!, 'preload-fill', dir, template, String(delayMs)], { detached: true, stdio: 'ignore' }).unref();
}

/** `preload-fill DIR TEMPLATE DELAY-MS`: on_domain_preload_dispvm_used: fills the pool's gap with qubes that start, then pause. */
export async function preloadFill([dir = '', template = '', delay = '0']: readonly string[]): Promise<void> {
  await sleep(Number(delay));
  const made = withState(dir, (state) => {
    const dvm = state.vms[template];
    if (!dvm) return [];
    const want = preloadMax(state, template) - poolOf(dvm).length;
    const names: string[] = [];
    for (let i = 0; i < want; i++) {
      const vm = addDisposable(dir, state, dvm);
      vm.features = { internal: '1', 'preload-dispvm-in-progress': '1' };
      names.push(vm.name);
      setPool(dvm, [...poolOf(dvm), vm.name]);
    }
    return names;
  });
  await Promise.all(made.map(async (name) => {
    await waitForBoot(dir);
    withState(dir, (state) => {
      const vm = state.vms[name];
      if (!vm) return;
      vm.running = true;
      bootKernel(dir, name, state.settings);
      recordStart(dir, state, name);
      // Not requested meanwhile: paused until it is (on_domain_started_dispvm).
      if (poolOf(state.vms[template]).includes(name)) vm.paused = true;
      vm.features = { ...vm.features, 'preload-dispvm-completed': '1' };
    });
  }));
}

/** CreateDisposable as qubesd answers it: the reply's bytes, or undefined when qubesd closes without one (R4.2 and a payload). */
export async function createDisposableReply(dir: string, template: string, payload: string): Promise<Buffer | undefined> {
  try {
    return await handOut(dir, template, payload);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return exception('QubesException', message).reply;
  }
}

async function handOut(dir: string, template: string, payload: string): Promise<Buffer | undefined> {
  const state = readState(dir);
  if (state.settings.release !== '4.3' && payload !== '') return undefined;
  if (payload !== '' && payload !== 'uuid') return undefined;
  const picked = withState(dir, (current) => {
    const dvm = current.vms[template];
    if (!dvm) throw new SimToolError(`No such domain: '${template}'`);
    if (!dvm.template_for_dispvms) throw new SimToolError('Refusing to create disposable out of app qube which has template_for_dispvms=False');
    const [first] = poolOf(dvm);
    if (first === undefined) {
      if (preloadMax(current, template) > poolOf(dvm).length) refillLater(dir, template, Math.max(5, preloadDelayS(current, dvm)) * 1000);
      return { name: addDisposable(dir, current, dvm).name, preloaded: false };
    }
    setPool(dvm, poolOf(dvm).slice(1));
    return { name: first, preloaded: true };
  });
  if (picked.preloaded) await waitUntilPreloaded(dir, picked.name);
  const vm = withState(dir, (current) => {
    const found = current.vms[picked.name];
    if (!found) throw new SimToolError(`No such domain: '${picked.name}'`);
    found.tags = [...new Set([...(found.tags ?? []), 'created-by-dom0', 'disp-created-by-dom0'])];
    return found;
  });
  if (picked.preloaded) {
    await sleep(state.settings.preloadHandoutMs ?? 0);
    withState(dir, (current) => {
      const found = current.vms[picked.name];
      if (!found) return;
      delete found.paused;
      const { internal: _internal, 'preload-dispvm-in-progress': _progress, ...rest } = found.features ?? {};
      found.features = rest;
      const dvm = current.vms[template];
      if (dvm) refillLater(dir, template, preloadDelayS(current, dvm) * 1000);
    });
  }
  return Buffer.from(`0\0${payload === 'uuid' ? `uuid:${vm.uuid}` : vm.name}`, 'latin1');
}

const preloadDelayS = (state: SimState, dvm: SimVm): number => Number(dvm.features?.['preload-dispvm-delay'] ?? state.vms.dom0?.features?.['preload-dispvm-delay'] ?? 3);

async function waitUntilPreloaded(dir: string, name: string): Promise<void> {
  const until = Date.now() + PRELOAD_WAIT_MS;
  while (Date.now() < until) {
    const vm = readState(dir).vms[name];
    if (!vm) throw new SimToolError(`No such domain: '${name}'`);
    if (vm.features?.['preload-dispvm-completed']) return;
    await sleep(20);
  }
}

/** A pool changes with its feature: set preloads (domain-feature-set:preload-dispvm-max), deleted removes the pool's qubes. */
export function onPreloadMaxChanged(dir: string, state: SimState, vm: SimVm, deleted: boolean): void {
  if (state.settings.release !== '4.3' || !vm.template_for_dispvms) return;
  if (!deleted) return refillLater(dir, vm.name, 0);
  for (const name of poolOf(vm)) {
    const member = state.vms[name];
    if (member?.running) stopVm(dir, state, member);
    else if (member) delete state.vms[name];
  }
  setPool(vm, []);
}
