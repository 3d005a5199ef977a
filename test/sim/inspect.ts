// Looking into a simulated Qubes from outside, as tests do: what a qube reads or writes at /dev/NAME, which qubes exist and
// run, what is attached, which dm mappings the qubes' kernels hold, the transcript of dom0's pipes, violations of the read-only model, and commands run inside a qube.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestChain, isQemuVm, readChain, resolveChain, writeChain, type BlockChain } from './block-chain.ts';
import { callAgent, guestEnvironment } from './qemu/agent-client.ts';
import { guestRuntime } from './qemu/guest-vm.ts';
import { vmEnvironment } from './qrexec.ts';
import { readMappings, readState, SimToolError, transcriptPath, violationsPath, vmRoot } from './state.ts';
import { shellQuote } from './world.ts';
import { sleepSync } from './sleep-sync.ts';

/**
 * Waits (at most 10 s) while a disk attached to `vm` as `name` is still being hot-plugged (attachments.ts plug-later): someone
 * reading the disk in the qube waits for it to show up, as a user does after `qvm-block attach` returned.
 */
function untilPlugged(dir: string, vm: string, name: string): void {
  const deadline = Date.now() + 10_000;
  const pending = () => readState(dir).attachments.some((a) => a.frontend === vm && a.frontendDev === name && a.pendingPlug === true);
  while (pending() && Date.now() < deadline) sleepSync(20);
}

function chainAt(dir: string, vm: string, frontend: string | undefined): BlockChain {
  const name = (frontend ?? '').replace(/^\/dev\//, '');
  if (!vm || !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.+-]+)?$/.test(name)) throw new SimToolError('usage: qubes-sim read-block|write-block DIR VM FRONTEND ...', 64);
  if (!readState(dir).vms[vm]?.running) throw new SimToolError(`qubes-sim: ${vm} is not running`);
  untilPlugged(dir, vm, name);
  try {
    // In a QEMU guest the guest's kernel answers (the mapping itself, or the source disk).
    if (isQemuVm(dir, vm)) return guestChain(dir, vm, `/dev/${name}`);
    return resolveChain(dir, vm, `/dev/${name}`);
  } catch (error) {
    throw new SimToolError(`qubes-sim: /dev/${name} in ${vm}: ${(error as Error).message}`);
  }
}

/** The bytes `vm` reads at /dev/FRONTEND. */
export function readBlock(dir: string, [vm = '', frontend]: readonly string[]): Buffer {
  return readChain(chainAt(dir, vm, frontend));
}

/** Writes stdin at OFFSET of /dev/FRONTEND in `vm`; a read-only device fails with EROFS (in a QEMU guest: as its kernel fails). */
export function writeBlock(dir: string, [vm = '', frontend, offset]: readonly string[]): void {
  if (!/^[0-9]{1,15}$/.test(offset ?? '')) throw new SimToolError('usage: qubes-sim write-block DIR VM FRONTEND OFFSET < DATA', 64);
  const chain = chainAt(dir, vm, frontend);
  if (chain.readOnly && chain.guest?.vm !== vm) throw new SimToolError(`qubes-sim: write to /dev/${frontend} in ${vm} failed: Read-only file system (EROFS)`);
  writeChain(chain, Number(offset), readFileSync(0));
}

/** Running qubes (not dom0), one per line, sorted. */
export function listRunning(dir: string): string {
  return Object.values(readState(dir).vms)
    .filter((vm) => vm.running && vm.class !== 'AdminVM')
    .map((vm) => vm.name)
    .sort()
    .map((name) => `${name}\n`)
    .join('');
}

/** Every qube Qubes knows (not dom0) as `NAME running|halted`, one per line, sorted by name. */
export function listQubes(dir: string): string {
  return Object.values(readState(dir).vms)
    .filter((vm) => vm.class !== 'AdminVM')
    .map((vm) => `${vm.name} ${vm.running ? 'running' : 'halted'}\n`)
    .sort()
    .join('');
}

/**
 * The dm mappings each qube's kernel holds, `VM:NAME` one per line, sorted; also those of a qube that no longer exists but whose
 * directory is left (a removal that went wrong must show).
 */
export function listMappings(dir: string): string {
  const vmsDir = join(dir, 'vms');
  const names = existsSync(vmsDir) ? readdirSync(vmsDir) : [];
  return names
    .flatMap((vm) => readMappings(dir, vm).map((mapping) => `${vm}:${mapping.name}\n`))
    .sort()
    .join('');
}

/** `BACKEND:PORT FRONTEND frontend-dev=X read-only=yes|no`, one per attachment. */
export function listAttachments(dir: string): string {
  return readState(dir)
    .attachments.map((a) => `${a.backend}:${a.port} ${a.frontend} frontend-dev=${a.frontendDev} read-only=${a.readOnly ? 'yes' : 'no'}\n`)
    .join('');
}

export const transcript = (dir: string): Buffer => readFileSync(transcriptPath(dir));

export const violations = (dir: string): Buffer => (existsSync(violationsPath(dir)) ? readFileSync(violationsPath(dir)) : Buffer.alloc(0));

/** The simulated dom0's environment, besides PATH (which gets DIR/bin first): the one list `env` and the tests use. */
export function simulatedDom0Environment(dir: string): Record<string, string> {
  return {
    QUBES_SIM_DIR: dir,
    SPLIT_DM_CRYPT_CONF: join(dir, 'dom0', 'split-dm-crypt.conf'),
    SPLIT_DM_CRYPT_RUNDIR: join(dir, 'dom0', 'run'),
    SPLIT_DM_CRYPT_VOLUMES: join(dir, 'dom0', 'volumes.d'),
    // Where the simulated qubesd listens (dom0/qubesd-call.ts and dom0/admin-events.ts read it).
    SPLIT_DM_CRYPT_QUBESD_SOCKET: join(dir, 'qubesd.sock'),
  };
}

/** The shell lines `env` prints, for `eval`. */
export function environment(dir: string): string {
  return [
    `export PATH=${shellQuote(join(dir, 'bin'))}:"$PATH"`,
    ...Object.entries(simulatedDom0Environment(dir)).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
  ].join('; ').concat('\n');
}

/** CMD as a root process in `vm`'s QEMU guest, stdio relayed through the agent. */
function execInGuest(dir: string, vm: string, command: readonly string[]): Promise<number> {
  const runtime = guestRuntime(dir, vm);
  if (!runtime) throw new SimToolError(`qubes-sim: ${vm} has no running QEMU guest`);
  return callAgent(runtime.port, { argv: command, env: guestEnvironment(), cwd: '/home/user' }, {
    stdin: process.stdin,
    onStdout: (chunk) => void process.stdout.write(chunk),
    onStderr: (chunk) => void process.stderr.write(chunk),
  });
}

/**
 * `exec DIR VM -- CMD...`: CMD runs as a process of `vm` (its /home/user, its sysroot, the VM-side fakes on PATH); in a
 * QEMU guest, as a root process of the guest with the guest's own tools.
 */
export function execInVm(dir: string, [vm = '', ...rest]: readonly string[]): number | Promise<number> {
  const command = rest[0] === '--' ? rest.slice(1) : rest;
  if (!vm || command.length === 0) throw new SimToolError('usage: qubes-sim exec DIR VM -- CMD...', 64);
  if (!readState(dir).vms[vm]?.running) throw new SimToolError(`qubes-sim: ${vm} is not running`);
  if (isQemuVm(dir, vm)) return execInGuest(dir, vm, command);
  const result = spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', env: vmEnvironment(dir, vm), cwd: join(vmRoot(dir, vm), 'home/user') });
  if (result.error) throw new SimToolError(`qubes-sim: ${command[0]}: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`, 127);
  return result.status ?? 128;
}
