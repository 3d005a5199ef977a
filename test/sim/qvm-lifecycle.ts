// Fake qvm-create, qvm-start, qvm-kill and qvm-remove (qubesadmin's tools over qubesd), with their messages and exit codes.
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { detachAll } from './attachments.ts';
import { bootKernel } from './kernel-model.ts';
import { bootGuest, powerOffGuest } from './qemu/guest-vm.ts';
import { recordEvent, recordStart, recordStop } from './qubesd-events.ts';
import { leavePool } from './preload.ts';
import { inQubesd, writeReply } from './qubesd-work.ts';
import { waitForBoot } from './start-latency.ts';
import { lastValue, parseToolArgs, usageError } from './tool-args.ts';
import { readState, SimToolError, vmDir, vmProcsDir, vmRoot, withState, writeMappings, type SimState, type SimVm, type VmClass } from './state.ts';

const LABELS = ['red', 'orange', 'yellow', 'green', 'gray', 'blue', 'purple', 'black'];
const CLASSES: readonly VmClass[] = ['AppVM', 'DispVM', 'TemplateVM'];
const VM_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;

/** Every name must exist, else argparse's `no such domain` (exit 2) before anything happens. */
export function existingVms(prog: string, state: SimState, names: readonly string[]): SimVm[] {
  if (names.length === 0) throw usageError(prog, 'the following arguments are required: VMNAME');
  return names.map((name) => {
    const vm = state.vms[name];
    if (!vm) throw usageError(prog, `no such domain: '${name}'`);
    return vm;
  });
}

/**
 * A new qube's tree: its own /home, /dev, /sys, /run. A DisposableVM gets its own copy of its template's /etc and /usr: in Qubes
 * its root and private volumes are snapshots taken at start and never saved (QubesOS/qubes-core-admin qubes/vm/dispvm.py,
 * DispVM.default_volume_config: root and private "snap_on_start": True, "save_on_stop": False), so whatever one DisposableVM changes there (a root shell replacing a service) no other qube ever sees. Other
 * qubes based on a template see the template's /etc and /usr (written only through the template in these tests).
 */
export function makeVmTree(dir: string, vm: SimVm): void {
  const root = vmRoot(dir, vm.name);
  mkdirSync(join(root, 'home/user'), { recursive: true });
  if (!vm.template) return;
  for (const shared of ['etc', 'usr']) {
    const target = join(vmRoot(dir, vm.template), shared);
    mkdirSync(target, { recursive: true });
    if (vm.class === 'DispVM') cpSync(target, join(root, shared), { recursive: true, verbatimSymlinks: true });
    else symlinkSync(target, join(root, shared));
  }
}

/** With `init --device-vm=qemu`, the device DisposableVMs (the only qubes that map disks) are QEMU guests. */
const runsInQemu = (state: SimState, klass: VmClass, name: string): boolean => state.settings.deviceVm === 'qemu' && klass === 'DispVM' && name.startsWith('dm-device-');

const bool = (value: string): boolean => ['true', '1', 'yes', 'on'].includes(value.toLowerCase());

export function qvmCreate(dir: string, rawArgs: readonly string[]): void {
  const args = parseToolArgs('qvm-create', rawArgs, {
    valued: [['--class', '-C'], ['--template', '-t'], ['--label', '-l'], ['--property', '--prop', '-P'], ['--pool', '-p']],
    flags: [['--quiet', '-q'], ['--verbose', '-v']],
  });
  const label = lastValue(args, '--label');
  const klass = (lastValue(args, '--class') ?? 'AppVM') as VmClass;
  const name = args.positionals[0];
  if (label === undefined) throw usageError('qvm-create', '--label option is mandatory');
  if (name === undefined || args.positionals.length !== 1) throw usageError('qvm-create', 'VMNAME is mandatory');
  if (!LABELS.includes(label)) throw usageError('qvm-create', `no such label: '${label}'; available: ${LABELS.join(', ')}`);
  if (!CLASSES.includes(klass)) throw usageError('qvm-create', `no such domain class: '${klass}'`);
  const props = new Map((args.values.get('--property') ?? []).map((p) => p.split(/=(.*)/s).slice(0, 2) as [string, string]));
  withState(dir, (state) => {
    const fail = (message: string) => new SimToolError(`qvm-create: error: Error creating VM: ${message}`, 1);
    if (!VM_NAME.test(name)) throw fail(`VM name contains illegal characters: ${name}`);
    if (state.vms[name]) throw fail(`Qube already exists: ${name}`);
    const template = lastValue(args, '--template') ?? (klass === 'DispVM' ? state.prefs.default_dispvm : '');
    if (template && !state.vms[template]) throw fail(`No such domain: '${template}'`);
    if (klass === 'DispVM' && !state.vms[template]?.template_for_dispvms) throw fail('template for disposable must have template_for_dispvms=True');
    const vm: SimVm = {
      name,
      class: klass,
      template,
      label,
      netvm: props.get('netvm') ?? 'sys-firewall',
      running: false,
      template_for_dispvms: bool(props.get('template_for_dispvms') ?? 'False'),
      auto_cleanup: bool(props.get('auto_cleanup') ?? 'False'),
      ...(runsInQemu(state, klass, name) ? { qemu: true } : {}),
      // qubesd gives each new qube uuid.uuid4() (BaseVM.on_domain_init_loaded, qubes-core-admin qubes/vm/__init__.py).
      uuid: randomUUID(),
    };
    state.vms[name] = vm;
    rmSync(vmDir(dir, name), { recursive: true, force: true });
    makeVmTree(dir, vm);
    recordEvent(dir, null, 'domain-add', { vm: name });
  });
}

export async function qvmStart(dir: string, rawArgs: readonly string[]): Promise<number> {
  const args = parseToolArgs('qvm-start', rawArgs, { flags: [['--skip-if-running'], ['--quiet', '-q'], ['--verbose', '-v']] });
  const state = readState(dir);
  const vms = existingVms('qvm-start', state, args.positionals);
  let exitCode = 0;
  const fail = (name: string, reason: string) => {
    exitCode = 1;
    const message = state.settings.release === '4.3' ? `Error: Starting qube failed: ${name}: ${reason}` : `qvm-start: error: ${reason === 'Domain is already running' ? `domain ${name} is already running` : reason}`;
    process.stderr.write(`${message}\n`);
  };
  await Promise.all(
    vms.map(async (vm) => {
      if (vm.running) {
        if (!args.flags.has('--skip-if-running')) fail(vm.name, 'Domain is already running');
        return;
      }
      const outcome = await startInQubesd(dir, vm.name);
      if (outcome.kind === 'failed') fail(vm.name, outcome.reason);
      if (outcome.kind === 'error') throw new SimToolError(outcome.message, outcome.exitCode);
    }),
  );
  return exitCode;
}

type StartOutcome = { kind: 'started' } | { kind: 'failed'; reason: string } | { kind: 'error'; message: string; exitCode: number };

/**
 * admin.vm.Start runs in qubesd and goes on when its client goes: QubesDaemonProtocol.connection_lost cancels only operations
 * marked cancellable (QubesOS/qubes-core-admin qubes/api/__init__.py), which vm_start is not (qubes/api/admin.py). A killed
 * qvm-start therefore leaves its qube starting, and the qube comes up later; while it boots, qvm-kill finds it not started
 * and ignores it (qubesadmin.utils.kill's ignored QubesVMNotStartedError, qubes-core-admin-client qubesadmin/utils/__init__.py).
 * So here: the boot runs in a detached `qubes-sim start-qube` process, and qvm-start only waits for its reply file.
 */
async function startInQubesd(dir: string, name: string): Promise<StartOutcome> {
  return JSON.parse(await inQubesd(dir, 'start-qube', [name])) as StartOutcome;
}

/** `start-qube DIR NAME REPLY-FILE`: qubesd's side of one start (startInQubesd); the outcome goes to REPLY-FILE. */
export async function startQubeWorker([dir = '', name = '', replyFile = '']: readonly string[]): Promise<void> {
  const reply = (outcome: StartOutcome) => writeReply(replyFile, JSON.stringify(outcome));
  try {
    reply(await bootQube(dir, name));
  } catch (error) {
    reply({ kind: 'error', message: error instanceof Error ? error.message : String(error), exitCode: error instanceof SimToolError ? error.exitCode : 1 });
  }
}

async function bootQube(dir: string, name: string): Promise<StartOutcome> {
  const state = readState(dir);
  const vm = state.vms[name];
  if (!vm) return { kind: 'failed', reason: `No such domain: '${name}'` };
  // The boot takes time; the state stays unlocked meanwhile, so other tools run.
  await waitForBoot(dir);
  if (vm.qemu) await bootGuest(dir, vm.name, state.settings);
  return withState(dir, (current): StartOutcome => {
    const now = current.vms[vm.name];
    if (!now && vm.qemu) powerOffGuest(dir, vm.name);
    if (!now) return { kind: 'failed', reason: `No such domain: '${vm.name}'` };
    if (now.running) return { kind: 'started' };
    now.running = true;
    bootKernel(dir, now.name, current.settings);
    recordStart(dir, current, now.name);
    return { kind: 'started' };
  });
}

/** The qube's processes (services and commands qvm-run started, each the leader of its group) end with it, as a domain's do. */
function killProcesses(dir: string, vm: string): void {
  const procs = vmProcsDir(dir, vm);
  for (const entry of existsSync(procs) ? readdirSync(procs) : []) {
    if (!/^[1-9][0-9]{0,9}$/.test(entry)) continue;
    try {
      process.kill(-Number(entry), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(procs, { recursive: true, force: true });
}

/** Stops `vm` at once: its processes and devices vanish, its mappings with its kernel; an auto_cleanup DisposableVM is removed. */
export function stopVm(dir: string, state: SimState, vm: SimVm): void {
  killProcesses(dir, vm.name);
  recordStop(dir, state, vm.name, vm.class === 'DispVM' && vm.auto_cleanup);
  if (vm.qemu) {
    // What it exports goes first, while its kernel still runs; then the power goes off, and its own disks with it.
    detachAll(dir, state, vm.name, 'exported');
    powerOffGuest(dir, vm.name);
  }
  detachAll(dir, state, vm.name);
  writeMappings(dir, vm.name, []);
  vm.running = false;
  vm.paused = false;
  if (vm.class === 'DispVM' && vm.auto_cleanup) {
    leavePool(state, vm);
    delete state.vms[vm.name];
    rmSync(vmDir(dir, vm.name), { recursive: true, force: true });
  }
}

export function qvmKill(dir: string, rawArgs: readonly string[]): void {
  const args = parseToolArgs('qvm-kill', rawArgs, { flags: [['--quiet', '-q'], ['--verbose', '-v']] });
  withState(dir, (state) => {
    // qvm-kill ignores qubes that are already powered off.
    for (const vm of existingVms('qvm-kill', state, args.positionals)) if (vm.running) stopVm(dir, state, vm);
  });
}

/** Why `vm` cannot be removed: other qubes or global prefs that use it. */
function usesOf(state: SimState, vm: SimVm): string[] {
  const uses = Object.values(state.vms).filter((other) => other.template === vm.name).map((other) => ` - template for ${other.name}`);
  if (state.prefs.default_dispvm === vm.name) uses.push(' - global property default_dispvm');
  return uses;
}

export function qvmRemove(dir: string, rawArgs: readonly string[]): number {
  const args = parseToolArgs('qvm-remove', rawArgs, { flags: [['--force', '-f'], ['--force-root'], ['--quiet', '-q'], ['--verbose', '-v']] });
  const vms = existingVms('qvm-remove', readState(dir), args.positionals);
  if (vms.some((vm) => vm.name === 'dom0')) throw new SimToolError("Domain 'dom0' cannot be removed.", 1);
  if (!args.flags.has('--force')) {
    process.stdout.write(`This will completely remove the selected VM(s)...\n${vms.map((vm) => `  ${vm.name}\n`).join('')}Are you sure? [y/N] `);
    const answer = readFileSync(0, 'utf8').split('\n')[0]?.trim().toUpperCase();
    if (answer !== 'Y') throw new SimToolError('Remove cancelled.', 1);
  }
  withState(dir, (state) => {
    for (const { name } of vms) {
      const vm = state.vms[name];
      if (!vm) continue;
      if (vm.running) throw new SimToolError(`qvm-remove: error: Domain is not powered off: '${name}'`, 1);
      const uses = usesOf(state, vm);
      if (uses.length > 0) throw new SimToolError(`VM ${name} cannot be removed. It is in use as:\n${uses.join('\n')}\nqvm-remove: error: VM in use: '${name}'`, 1);
      if (vm.qemu) powerOffGuest(dir, name);
      leavePool(state, vm);
      delete state.vms[name];
      if (existsSync(vmDir(dir, name))) rmSync(vmDir(dir, name), { recursive: true, force: true });
      recordEvent(dir, null, 'domain-delete', { vm: name });
    }
  });
  return 0;
}
