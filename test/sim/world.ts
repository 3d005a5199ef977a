// Building a simulated Qubes: `init` (dom0, the DVM template with the project's vm/ installed the way a user installs it,
// sys-usb, work), `add-vm`, `add-block`, `set`. The fake tools land in DIR/bin (dom0) and DIR/vm-bin (inside qubes).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bootKernel } from './kernel-model.ts';
import { ensureGuestImage, GUEST_KERNEL_CHOICES, guestKernelFor, type GuestKernelChoice } from './qemu/guest-image.ts';
import { makeVmTree } from './qvm-lifecycle.ts';
import { qubesdPidPath } from './qubesd.ts';
import { sleepSync } from './sleep-sync.ts';
import { recordBlockChange } from './qubesd-events.ts';
import { VM_TOOLS } from './vm-tools.ts';
import { SimToolError, statePath, transcriptPath, vmRoot, withState, writeState, type SimSettings, type SimState, type SimVm, type VmClass } from './state.ts';

export const DOM0_TOOLS = ['qvm-create', 'qvm-start', 'qvm-kill', 'qvm-remove', 'qvm-check', 'qvm-prefs', 'qubes-prefs', 'qvm-ls', 'qvm-block', 'qvm-run', 'qvm-features', 'qvm-tags'] as const;
export const DVM_TEMPLATE = 'sim-dvm';
const PORT = /^[a-z0-9_-]{1,64}$/;

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function writeScript(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

function newVm(name: string, klass: VmClass, running: boolean, extra: Partial<SimVm> = {}): SimVm {
  return { name, class: klass, template: '', label: 'red', netvm: '', running, template_for_dispvms: false, auto_cleanup: false, ...extra };
}

/** A flag's value from `--name=value` or `--name value`. */
function optionValue(args: readonly string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const arg = args[i]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
}

function writeTools(dir: string, repo: string): void {
  const bundle = join(repo, 'dist', 'qubes-sim.mjs');
  for (const sub of ['bin', 'vm-bin', 'dom0/run', 'dom0/volumes.d']) mkdirSync(join(dir, sub), { recursive: true });
  for (const tool of DOM0_TOOLS) writeScript(join(dir, 'bin', tool), `QUBES_SIM_DIR=${shellQuote(dir)} exec node ${shellQuote(bundle)} tool ${tool} "$@"`);
  for (const tool of VM_TOOLS) writeScript(join(dir, 'vm-bin', tool), `QUBES_SIM_DIR=${shellQuote(dir)} exec node ${shellQuote(bundle)} vmtool ${tool} "$@"`);
  writeScript(join(dir, 'bin', 'qvm-block-split'), `exec node ${shellQuote(join(repo, 'dist', 'qvm-block-split.mjs'))} "$@"`);
}

const INIT_USAGE =
  'usage: qubes-sim init DIR [--qubes-release=4.2|4.3] [--no-part-scan=present|absent] [--export-delay-ms=N] [--disk-delay-ms=N] [--device-vm=process|qemu] [--guest-kernel=patched|debian] [--guest-udev=yes|no] [--owner-pid=PID]';

const DELAY = /^[0-9]{1,6}$/;

/** Whose simulated Qubes this is: its QEMU guests and its qubesd end with that process. */
const ownerPid = (args: readonly string[]): string => optionValue(args, '--owner-pid') ?? String(process.ppid);

/**
 * Starts the simulated Qubes' qubesd (a real dom0 always runs one) and waits until it listens. Detached, so it outlives this
 * command; it ends once DIR's state is gone or its owner has exited (QUBES_SIM_QUBESD_OWNER, read by qubesd.ts).
 */
function startQubesd(dir: string, repo: string, owner: string): void {
  const child = spawn(process.execPath, [join(repo, 'dist', 'qubes-sim.mjs'), 'qubesd', dir], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, QUBES_SIM_QUBESD_OWNER: owner },
  });
  child.unref();
  const deadline = Date.now() + 15_000;
  while (!existsSync(qubesdPidPath(dir))) {
    if (Date.now() > deadline) throw new SimToolError(`qubes-sim: qubesd for ${dir} did not start within 15 s`);
    sleepSync(10);
  }
}

/** The QEMU tier's settings; fails loudly when this machine cannot run it (never a silent fallback to processes). */
function qemuSettings(repo: string, args: readonly string[]): Partial<SimSettings> {
  const deviceVm = optionValue(args, '--device-vm') ?? 'process';
  const udev = optionValue(args, '--guest-udev') ?? 'yes';
  const owner = ownerPid(args);
  const kernel = optionValue(args, '--guest-kernel') ?? 'patched';
  const isKernelChoice = (value: string): value is GuestKernelChoice => (GUEST_KERNEL_CHOICES as readonly string[]).includes(value);
  if ((deviceVm !== 'process' && deviceVm !== 'qemu') || (udev !== 'yes' && udev !== 'no') || !/^[1-9][0-9]{0,9}$/.test(owner) || !isKernelChoice(kernel)) {
    throw new SimToolError(INIT_USAGE, 64);
  }
  if (deviceVm === 'process') return {};
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (qemu.status !== 0) throw new SimToolError('qubes-sim: qemu-system-x86_64 is missing: run scripts/install-deps.sh (as root or with sudo) to install the QEMU tier');
  const guestImage = ensureGuestImage(repo, guestKernelFor(repo, kernel));
  return { deviceVm, guestUdev: udev === 'yes', ownerPid: Number(owner), guestImage: { ...guestImage } };
}

/** `init DIR`: see INIT_USAGE. */
export function init(dir: string, repo: string, args: readonly string[]): void {
  const release = optionValue(args, '--qubes-release') ?? '4.2';
  const partScan = optionValue(args, '--no-part-scan') ?? 'present';
  const exportDelay = optionValue(args, '--export-delay-ms') ?? '0';
  const diskDelay = optionValue(args, '--disk-delay-ms') ?? '0';
  if ((release !== '4.2' && release !== '4.3') || (partScan !== 'present' && partScan !== 'absent') || !DELAY.test(exportDelay) || !DELAY.test(diskDelay)) {
    throw new SimToolError(INIT_USAGE, 64);
  }
  const qemu = qemuSettings(repo, args);
  if (existsSync(statePath(dir))) throw new SimToolError(`qubes-sim: ${dir} already holds a simulated Qubes`);
  mkdirSync(dir, { recursive: true });
  const state: SimState = {
    settings: { release, noPartScan: partScan === 'present', startDelayMs: 0, exportDelayMs: Number(exportDelay), diskDelayMs: Number(diskDelay), ...qemu },
    vms: {
      dom0: newVm('dom0', 'AdminVM', true),
      [DVM_TEMPLATE]: newVm(DVM_TEMPLATE, 'AppVM', false, { template_for_dispvms: true }),
      'sys-usb': newVm('sys-usb', 'AppVM', true),
      work: newVm('work', 'AppVM', false, { netvm: 'sys-firewall' }),
    },
    blocks: {},
    attachments: [],
    prefs: { default_dispvm: DVM_TEMPLATE },
  };
  for (const vm of Object.values(state.vms)) makeVmTree(dir, vm);
  for (const vm of Object.values(state.vms).filter((v) => v.running)) bootKernel(dir, vm.name, state.settings);
  writeFileSync(transcriptPath(dir), '');
  writeTools(dir, repo);
  writeState(dir, state);
  // The project's VM side goes into the DVM template exactly as a user installs it.
  execFileSync('make', ['-s', '-C', repo, 'install-vm', `DESTDIR=${vmRoot(dir, DVM_TEMPLATE)}`, 'PREFIX=/usr'], { stdio: ['ignore', 'ignore', 'inherit'] });
  startQubesd(dir, repo, ownerPid(args));
}

/** `add-vm DIR NAME [--class AppVM|DispVM|TemplateVM] [--template T] [--running] [--template-for-dispvms]`. */
export function addVm(dir: string, [name, ...args]: readonly string[]): void {
  const klass = (optionValue(args, '--class') ?? 'AppVM') as VmClass;
  if (!name || !/^[A-Za-z][A-Za-z0-9_.-]{0,30}$/.test(name) || !['AppVM', 'DispVM', 'TemplateVM'].includes(klass)) {
    throw new SimToolError('usage: qubes-sim add-vm DIR NAME [--class AppVM|DispVM|TemplateVM] [--template T] [--running] [--template-for-dispvms]', 64);
  }
  withState(dir, (state) => {
    if (state.vms[name]) throw new SimToolError(`qubes-sim: ${name} already exists`);
    const template = optionValue(args, '--template') ?? (klass === 'DispVM' ? state.prefs.default_dispvm : '');
    if (template && !state.vms[template]) throw new SimToolError(`qubes-sim: no such template ${template}`);
    const vm = newVm(name, klass, args.includes('--running'), { template, template_for_dispvms: args.includes('--template-for-dispvms'), auto_cleanup: klass === 'DispVM' });
    state.vms[name] = vm;
    makeVmTree(dir, vm);
    if (vm.running) bootKernel(dir, name, state.settings);
  });
}

/** `add-block DIR VM PORT FILE [--ro] [--description TEXT] [--device-id ID]`: FILE becomes VM:PORT. */
export function addBlock(dir: string, [vm, port, file, ...args]: readonly string[]): void {
  if (!vm || !port || !file || !PORT.test(port)) throw new SimToolError('usage: qubes-sim add-block DIR VM PORT FILE [--ro] [--description TEXT] [--device-id ID]', 64);
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new SimToolError(`qubes-sim: ${file} is not a file`);
  withState(dir, (state) => {
    if (!state.vms[vm]) throw new SimToolError(`qubes-sim: no such VM ${vm}`);
    if (state.blocks[vm]?.[port]) throw new SimToolError(`qubes-sim: ${vm}:${port} already exists`);
    const deviceId = optionValue(args, '--device-id');
    const block = { file: path, readOnly: args.includes('--ro'), description: optionValue(args, '--description') ?? `Sim_Disk_${port} ()`, ...(deviceId ? { deviceId } : {}) };
    state.blocks[vm] = { ...(state.blocks[vm] ?? {}), [port]: block };
    recordBlockChange(dir, state, vm, { [port]: block }, []);
  });
}

const DELAY_SETTINGS = {
  'start-delay-ms': 'startDelayMs',
  'export-delay-ms': 'exportDelayMs',
  'disk-delay-ms': 'diskDelayMs',
  'start-contention-pct': 'startContentionPct',
  'preload-handout-ms': 'preloadHandoutMs',
  'qubesd-call-ms': 'qubesdCallMs',
} as const;

/** `set DIR start-delay-ms|export-delay-ms|disk-delay-ms|start-contention-pct|preload-handout-ms|qubesd-call-ms N` | `set DIR gui-session VM never|ready`. */
export function setSetting(dir: string, [key, value, extra]: readonly string[]): void {
  const usage = `usage: qubes-sim set DIR ${Object.keys(DELAY_SETTINGS).join('|')} N | gui-session VM never|ready`;
  const delay = key !== undefined && Object.hasOwn(DELAY_SETTINGS, key) ? DELAY_SETTINGS[key as keyof typeof DELAY_SETTINGS] : undefined;
  if (delay && /^[0-9]{1,7}$/.test(value ?? '')) return withState(dir, (state) => void (state.settings[delay] = Number(value)));
  if (key === 'gui-session' && value !== undefined && (extra === 'never' || extra === 'ready')) {
    return withState(dir, (state) => {
      const vm = state.vms[value];
      if (!vm) throw new SimToolError(`qubes-sim: no such VM ${value}`);
      if (extra === 'never') vm.guiSession = 'never';
      else delete vm.guiSession;
    });
  }
  throw new SimToolError(usage, 64);
}
