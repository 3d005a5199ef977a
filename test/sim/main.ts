// qubes-sim: a simulated Qubes dom0 for tests and the demo. Subcommands manage the world; `tool`/`vmtool` are the fake
// dom0 and VM-side tools (reached through small wrappers on PATH).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBlock, writeBlock } from './blocks.ts';
import { qubesPrefs, qvmBlock, qvmCheck, qvmCreate, qvmKill, qvmLs, qvmPrefs, qvmRemove, qvmStart } from './dom0-tools.ts';
import { bootKernel } from './kernel-model.ts';
import { qvmRun, vmEnvironment } from './qrexec.ts';
import { readState, SimToolError, statePath, vmRoot, withState, type SimState, type SimVm } from './state.ts';
import { blockdev, dmsetup } from './vm-tools.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(REPO, 'dist', 'qubes-sim.mjs');
const DOM0_TOOLS = ['qvm-create', 'qvm-start', 'qvm-kill', 'qvm-remove', 'qvm-check', 'qvm-prefs', 'qubes-prefs', 'qvm-ls', 'qvm-block', 'qvm-run'];
const VM_TOOLS = ['dmsetup', 'blockdev', 'sync'];
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function wrapper(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

function vm(name: string, klass: SimVm['klass'], running: boolean, extra: Partial<SimVm> = {}): SimVm {
  return { name, klass, label: 'red', netvm: '', running, templateForDispvms: false, autoCleanup: false, ...extra };
}

function init(dir: string, options: string[]): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'vm-bin'), { recursive: true });
  mkdirSync(join(dir, 'dom0', 'run'), { recursive: true });
  const state: SimState = {
    release: options.includes('--qubes-release=4.3') ? '4.3' : '4.2',
    noPartScan: !options.includes('--no-part-scan=absent'),
    startDelayMs: 0,
    vms: {
      dom0: vm('dom0', 'AdminVM', true),
      'sim-dvm': vm('sim-dvm', 'AppVM', false, { templateForDispvms: true }),
      'sys-usb': vm('sys-usb', 'AppVM', true),
      work: vm('work', 'AppVM', false),
    },
    blocks: [],
    attachments: [],
    mappings: {},
    prefs: { default_dispvm: 'sim-dvm' },
  };
  writeFileSync(statePath(dir), JSON.stringify(state, null, 1));
  writeFileSync(join(dir, 'transcript.bin'), '');
  for (const name of Object.keys(state.vms)) mkdirSync(join(vmRoot(dir, name), 'home/user'), { recursive: true });
  for (const name of ['sys-usb', 'dom0']) bootKernel(dir, name, state);
  for (const tool of DOM0_TOOLS) wrapper(join(dir, 'bin', tool), `QUBES_SIM_DIR=${quote(dir)} exec node ${quote(BUNDLE)} tool ${tool} "$@"`);
  for (const tool of VM_TOOLS) wrapper(join(dir, 'vm-bin', tool), `exec node ${quote(BUNDLE)} vmtool ${tool} "$@"`);
  wrapper(join(dir, 'bin', 'qvm-block-split'), `exec node ${quote(join(REPO, 'dist', 'qvm-block-split.mjs'))} "$@"`);
  // The project's vm/ tree goes into the DVM template exactly as a user installs it.
  execFileSync('make', ['-s', '-C', REPO, 'install-vm', `DESTDIR=${vmRoot(dir, 'sim-dvm')}`, 'PREFIX=/usr', `DIST=${join(REPO, 'dist')}`], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function addBlock(dir: string, [vmName, port, file, ...rest]: string[]): void {
  if (!vmName || !port || !file) throw new SimToolError('usage: qubes-sim add-block DIR VM PORT FILE [--ro] [--description TEXT]', 64);
  const descriptionIndex = rest.indexOf('--description');
  withState(dir, (state) => {
    if (!state.vms[vmName]) throw new SimToolError(`qubes-sim: no such VM ${vmName}`);
    state.blocks.push({ backend: vmName, port, file: resolve(file), readOnly: rest.includes('--ro'), description: descriptionIndex >= 0 ? rest[descriptionIndex + 1]! : `${port} ()` });
  });
}

function addVm(dir: string, [name, ...rest]: string[]): void {
  if (!name) throw new SimToolError('usage: qubes-sim add-vm DIR NAME [--class C] [--template T] [--running]', 64);
  withState(dir, (state) => {
    const klassIndex = rest.indexOf('--class');
    const templateIndex = rest.indexOf('--template');
    state.vms[name] = vm(name, (klassIndex >= 0 ? rest[klassIndex + 1] : 'AppVM') as SimVm['klass'], rest.includes('--running'), templateIndex >= 0 ? { template: rest[templateIndex + 1]! } : {});
    mkdirSync(join(vmRoot(dir, name), 'home/user'), { recursive: true });
    if (state.vms[name]!.running) bootKernel(dir, name, state);
  });
}

async function tool(name: string, args: string[]): Promise<number> {
  const dir = process.env.QUBES_SIM_DIR ?? '';
  let out: string | undefined;
  switch (name) {
    case 'qvm-create': await qvmCreate(dir, args); break;
    case 'qvm-start': await qvmStart(dir, args); break;
    case 'qvm-kill': await qvmKill(dir, args); break;
    case 'qvm-remove': await qvmRemove(dir, args); break;
    case 'qvm-check': return qvmCheck(dir, args);
    case 'qvm-prefs': out = qvmPrefs(dir, args); break;
    case 'qubes-prefs': out = qubesPrefs(dir, args); break;
    case 'qvm-ls': out = qvmLs(dir); break;
    case 'qvm-block': out = qvmBlock(dir, args); break;
    case 'qvm-run': return qvmRun(dir, args);
    default: throw new SimToolError(`qubes-sim: unknown tool ${name}`, 127);
  }
  if (out) process.stdout.write(out);
  return 0;
}

function vmTool(name: string, args: string[]): number {
  const dir = process.env.QUBES_SIM_DIR ?? '';
  const vmName = process.env.QUBES_SIM_VM ?? '';
  if (name === 'sync') return 0;
  const out = name === 'blockdev' ? blockdev(dir, vmName, args) : dmsetup(dir, vmName, args, args.includes('create') && !args.includes('--table') ? readFileSync(0) : Buffer.alloc(0));
  process.stdout.write(out);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, first, ...rest] = argv;
  if (command === 'tool') return tool(first ?? '', rest);
  if (command === 'vmtool') return vmTool(first ?? '', rest);
  const dir = first ? resolve(first) : '';
  if (!dir) throw new SimToolError('usage: qubes-sim COMMAND DIR ...', 64);
  switch (command) {
    case 'init': init(dir, rest); return 0;
    case 'add-vm': addVm(dir, rest); return 0;
    case 'add-block': addBlock(dir, rest); return 0;
    case 'env':
      process.stdout.write(`export PATH=${quote(join(dir, 'bin'))}:"$PATH"; export QUBES_SIM_DIR=${quote(dir)}; export SPLIT_DM_CRYPT_CONF=${quote(join(dir, 'dom0', 'split-dm-crypt.conf'))}; export SPLIT_DM_CRYPT_RUNDIR=${quote(join(dir, 'dom0', 'run'))}\n`);
      return 0;
    case 'read-block': process.stdout.write(readBlock(dir, rest[0] ?? '', rest[1] ?? '')); return 0;
    case 'write-block': writeBlock(dir, rest[0] ?? '', rest[1] ?? '', Number(rest[2] ?? 0), readFileSync(0)); return 0;
    case 'ls': process.stdout.write(Object.values(readState(dir).vms).filter((v) => v.running && v.name !== 'dom0').map((v) => `${v.name}\n`).join('')); return 0;
    case 'attachments':
      process.stdout.write(readState(dir).attachments.map((a) => `${a.backend}:${a.port} ${a.frontend} frontend-dev=${a.frontendDev} read-only=${a.readOnly ? 'yes' : 'no'}\n`).join(''));
      return 0;
    case 'transcript': process.stdout.write(readFileSync(join(dir, 'transcript.bin'))); return 0;
    case 'violations': if (existsSync(join(dir, 'violations.log'))) process.stdout.write(readFileSync(join(dir, 'violations.log'))); return 0;
    case 'set':
      if (rest[0] !== 'start-delay-ms' || !/^[0-9]+$/.test(rest[1] ?? '')) throw new SimToolError('usage: qubes-sim set DIR start-delay-ms N', 64);
      withState(dir, (state) => void (state.startDelayMs = Number(rest[1])));
      return 0;
    case 'exec': {
      const vmName = rest[0] ?? '';
      const cmd = rest.slice(rest[1] === '--' ? 2 : 1);
      if (!readState(dir).vms[vmName]?.running) throw new SimToolError(`qubes-sim: ${vmName} is not running`);
      return spawnSync(cmd[0] ?? 'true', cmd.slice(1), { stdio: 'inherit', env: vmEnvironment(dir, vmName), cwd: join(vmRoot(dir, vmName), 'home/user') }).status ?? 1;
    }
    default: throw new SimToolError(`qubes-sim: unknown command ${command ?? ''}`, 64);
  }
}

// A reader that stops early (`read-block ... | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof SimToolError ? error.exitCode : 1;
  },
);
