// Fake dom0 tools with Qubes' syntax, messages and exit codes (REFERENCE sections 3 and 4).
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootKernel, plugDisk, unplugDisk } from './kernel-model.ts';
import { readState, SimToolError, vmRoot, withState, type SimState, type SimVm } from './state.ts';

const hashFile = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function vmOf(state: SimState, name: string | undefined, tool: string): SimVm {
  const vm = name === undefined ? undefined : state.vms[name];
  if (!vm) throw new SimToolError(`${tool}: error: no such domain: '${name ?? ''}'`, 2);
  return vm;
}

/** Options of the form `--opt value`, `--opt=value`, `-o value`, and flags; positionals in order. */
function splitArgs(args: readonly string[], withValue: readonly string[]): { opts: Record<string, string[]>; flags: Set<string>; positionals: string[] } {
  const opts: Record<string, string[]> = {};
  const flags = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (withValue.includes(name)) (opts[name] ??= []).push(inline ?? args[++i] ?? '');
    else if (arg.startsWith('-') && arg !== '-') flags.add(arg);
    else positionals.push(arg);
  }
  return { opts, flags, positionals };
}

/** Detaches everything attached to or from `vm` (a qube going down). */
function unplugAll(dir: string, state: SimState, vm: string): void {
  for (const a of state.attachments.filter((a) => a.frontend === vm || a.backend === vm)) detach(dir, state, a.frontend, a.backend, a.port);
  state.blocks = state.blocks.filter((b) => !(b.backend === vm && b.dmName));
  state.mappings[vm] = [];
}

function detach(dir: string, state: SimState, frontend: string, backend: string, port: string): void {
  const index = state.attachments.findIndex((a) => a.frontend === frontend && a.backend === backend && a.port === port);
  if (index < 0) throw new SimToolError(`qvm-block: error: Device ${backend}:${port} is not attached to ${frontend}`);
  const [attachment] = state.attachments.splice(index, 1);
  const block = state.blocks.find((b) => b.backend === backend && b.port === port);
  if (attachment!.hash && block?.file && hashFile(block.file) !== attachment!.hash) {
    appendFileSync(join(dir, 'violations.log'), `read-only ${backend}:${port} attached to ${frontend} was modified\n`);
  }
  unplugDisk(dir, frontend, attachment!.frontendDev);
}

export async function qvmCreate(dir: string, args: readonly string[]): Promise<void> {
  const { opts, positionals } = splitArgs(args, ['--class', '--template', '--label', '--prop', '-C', '-t', '-l']);
  const name = positionals[0];
  if (!name || positionals.length !== 1) throw new SimToolError('qvm-create: error: the following arguments are required: VMNAME', 2);
  withState(dir, (state) => {
    if (state.vms[name]) throw new SimToolError(`qvm-create: error: VM ${name} already exists`);
    const template = (opts['--template'] ?? opts['-t'])?.[0];
    const klass = ((opts['--class'] ?? opts['-C'])?.[0] ?? 'AppVM') as SimVm['klass'];
    const props = Object.fromEntries((opts['--prop'] ?? []).map((p) => [p.split('=')[0], p.slice(p.indexOf('=') + 1)]));
    if (klass === 'DispVM' && !state.vms[template ?? '']?.templateForDispvms) {
      throw new SimToolError(`qvm-create: error: template for DispVM (${template}) needs to have template_for_dispvms=True`);
    }
    state.vms[name] = {
      name,
      klass,
      template,
      label: (opts['--label'] ?? opts['-l'])?.[0] ?? 'red',
      netvm: props.netvm ?? 'sys-firewall',
      running: false,
      templateForDispvms: false,
      autoCleanup: props.auto_cleanup === 'True',
    };
    const root = vmRoot(dir, name);
    mkdirSync(root, { recursive: true });
    // A DisposableVM sees its template's installed files; /dev, /sys, /run and /home are its own.
    for (const shared of ['etc', 'usr']) symlinkSync(join(vmRoot(dir, template ?? name), shared), join(root, shared));
  });
}

export async function qvmStart(dir: string, args: readonly string[]): Promise<void> {
  const name = args.find((a) => !a.startsWith('-'));
  const state = readState(dir);
  const vm = vmOf(state, name, 'qvm-start');
  if (vm.running) return;
  await sleep(state.startDelayMs);
  withState(dir, (s) => {
    const current = vmOf(s, name, 'qvm-start');
    current.running = true;
    bootKernel(dir, current.name, s);
  });
}

export async function qvmKill(dir: string, args: readonly string[]): Promise<void> {
  const name = args.find((a) => !a.startsWith('-'));
  withState(dir, (state) => {
    const vm = vmOf(state, name, 'qvm-kill');
    if (!vm.running) return;
    vm.running = false;
    unplugAll(dir, state, vm.name);
    if (vm.klass === 'DispVM' && vm.autoCleanup) {
      delete state.vms[vm.name];
      rmSync(join(dir, 'vms', vm.name), { recursive: true, force: true });
    }
  });
}

export async function qvmRemove(dir: string, args: readonly string[]): Promise<void> {
  const name = args.find((a) => !a.startsWith('-'));
  withState(dir, (state) => {
    const vm = vmOf(state, name, 'qvm-remove');
    if (vm.running) throw new SimToolError(`qvm-remove: error: Domain is running: ${vm.name}`);
    delete state.vms[vm.name];
    rmSync(join(dir, 'vms', vm.name), { recursive: true, force: true });
  });
}

export function qvmCheck(dir: string, args: readonly string[]): number {
  const name = args.find((a) => !a.startsWith('-'));
  const vm = vmOf(readState(dir), name, 'qvm-check');
  if (args.includes('--running')) return vm.running ? 0 : 1;
  return 0;
}

export function qvmPrefs(dir: string, args: readonly string[]): string {
  const [name, prop] = args;
  const vm = vmOf(readState(dir), name, 'qvm-prefs');
  const values: Record<string, string> = { template: vm.template ?? '', label: vm.label, netvm: vm.netvm, auto_cleanup: vm.autoCleanup ? 'True' : 'False', template_for_dispvms: vm.templateForDispvms ? 'True' : 'False', klass: vm.klass };
  if (prop === undefined || !(prop in values)) throw new SimToolError(`qvm-prefs: error: no such property: '${prop ?? ''}'`, 2);
  return `${values[prop]}\n`;
}

export function qubesPrefs(dir: string, args: readonly string[]): string {
  if (args[0] !== 'default_dispvm') throw new SimToolError(`qubes-prefs: error: no such property: '${args[0] ?? ''}'`, 2);
  return `${readState(dir).prefs.default_dispvm}\n`;
}

export function qvmLs(dir: string): string {
  return Object.values(readState(dir).vms).map((vm) => `${vm.name}|${vm.running ? 'Running' : 'Halted'}|${vm.klass}\n`).join('');
}

export function qvmBlock(dir: string, args: readonly string[]): string {
  const { opts, flags, positionals } = splitArgs(args, ['-o', '--option']);
  const [verb, vmName, id] = positionals;
  if (verb === 'list' || verb === 'ls' || verb === undefined) return blockList(readState(dir), vmName);
  if ((verb !== 'attach' && verb !== 'detach' && verb !== 'a' && verb !== 'd') || !vmName || !id) throw new SimToolError('qvm-block: error: invalid arguments', 2);
  const [backend, port] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  return withState(dir, (state) => {
    const frontend = vmOf(state, vmName, 'qvm-block');
    if (verb.startsWith('d')) {
      detach(dir, state, frontend.name, backend, port);
      return '';
    }
    const options = Object.fromEntries((opts['-o'] ?? opts['--option'] ?? []).map((o) => [o.split('=')[0], o.slice(o.indexOf('=') + 1)]));
    const readOnly = flags.has('--ro') || options['read-only'] === 'yes' || options['read-only'] === 'True';
    const block = state.blocks.find((b) => b.backend === backend && b.port === port);
    if (!vmOf(state, backend, 'qvm-block').running || !block) throw new SimToolError(`qvm-block: error: backend vm '${backend}' doesn't expose device '${port}'`);
    if (!frontend.running) throw new SimToolError(`qvm-block: error: Domain ${frontend.name} is not running`);
    const existing = state.attachments.find((a) => a.backend === backend && a.port === port);
    if (existing) throw new SimToolError(`qvm-block: error: Device ${backend}:${port} already attached to ${existing.frontend}`);
    if (block.readOnly && !readOnly) throw new SimToolError('qvm-block: error: This device can be attached only read-only');
    const used = new Set(state.attachments.filter((a) => a.frontend === frontend.name).map((a) => a.frontendDev));
    const frontendDev = options['frontend-dev'] ?? 'ijklmnopqrtuvwxyz'.split('').map((c) => `xvd${c}`).find((d) => !used.has(d))!;
    if (!/^(xvd|sd)/.test(frontendDev)) throw new SimToolError('qvm-block: error: frontend-dev must start with xvd or sd');
    state.attachments.push({ backend, port, frontend: frontend.name, frontendDev, readOnly: readOnly || block.readOnly, ...(readOnly && block.file ? { hash: hashFile(block.file) } : {}) });
    plugDisk(dir, frontend.name, frontendDev, block, readOnly || block.readOnly, state);
    return '';
  });
}

function blockList(state: SimState, vm: string | undefined): string {
  return state.blocks
    .filter((b) => !vm || b.backend === vm)
    .map((b) => {
      const a = state.attachments.find((x) => x.backend === b.backend && x.port === b.port);
      const description = state.release === '4.3' ? `Block_Storage: hosted by ${b.backend} ${b.description}` : b.description;
      const usedBy = a ? `  ${a.frontend} (read-only=${a.readOnly ? 'yes' : 'no'}, frontend-dev=${a.frontendDev})` : '';
      return `${b.backend}:${b.port}  ${description}${usedBy}\n`;
    })
    .join('');
}
