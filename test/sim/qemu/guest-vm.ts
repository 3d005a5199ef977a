// A QEMU guest standing for one qube: booted under TCG by a small supervisor process that also powers it off when the
// simulator's owner (the test or shell that ran `qubes-sim init`) is gone, so a killed test leaves no qemu behind.
// The runtime facts (agent port, QMP socket, pids) live in DIR/vms/NAME/qemu.json while the guest runs.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { callAgent, guestEnvironment } from './agent-client.ts';
import { AGENT_GUEST_PORT } from './agent-protocol.ts';
import { debianKernel, ensureGuestImage } from './guest-image.ts';
import { SimToolError, vmDir, vmRoot, type SimSettings } from '../state.ts';
import { sleepSync } from '../sleep-sync.ts';

export interface GuestRuntime {
  readonly port: number;
  readonly qmp: string;
  readonly qemuPid: number;
  readonly supervisorPid: number;
}

const BUNDLE = fileURLToPath(import.meta.url);
/** The bundle is dist/qubes-sim.mjs: the repository is one level up. */
export const REPO = resolve(dirname(BUNDLE), '..');
const BOOT_TIMEOUT_MS = 180_000;
export const runtimePath = (dir: string, vm: string): string => join(vmDir(dir, vm), 'qemu.json');
export const consolePath = (dir: string, vm: string): string => join(vmDir(dir, vm), 'console.log');

/** The running guest of `vm`, or undefined when it has none. */
export function guestRuntime(dir: string, vm: string): GuestRuntime | undefined {
  const path = runtimePath(dir, vm);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as GuestRuntime) : undefined;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new SimToolError('qubes-sim: no free port for the guest agent');
  return address.port;
}

/** QEMU's command line: TCG, the host root over 9p (read-only), the agent's forwarded port, QMP, serial console to a file. */
function qemuArgs(dir: string, vm: string, settings: SimSettings, port: number, repo: string): string[] {
  const image = settings.guestImage ?? ensureGuestImage(repo, debianKernel(repo));
  const append = ['console=ttyS0', 'quiet', 'panic=-1', `qsim_agent=${join(repo, 'dist', 'qubes-sim.mjs')}`, `qsim_root=${vmRoot(dir, vm)}`, `qsim_udev=${settings.guestUdev === false ? 0 : 1}`];
  return [
    '-accel', 'tcg', '-cpu', 'max', '-m', '768', '-smp', '1', '-no-reboot', '-nodefaults', '-display', 'none',
    '-serial', `file:${consolePath(dir, vm)}`, '-monitor', 'none',
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', append.join(' '),
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    // restrict=on: the guest reaches nothing (an offline qube); only the agent's port is forwarded in, from 127.0.0.1.
    '-netdev', `user,id=agent,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:${AGENT_GUEST_PORT}`,
    '-device', 'virtio-net-pci,netdev=agent,romfile=',
    '-qmp', `unix:${join(vmDir(dir, vm), 'qmp.sock')},server=on,wait=off`,
  ];
}

/** `qemu-supervise DIR VM OWNER PORT REPO`: runs QEMU, records the runtime file, powers the guest off when OWNER dies. */
export async function superviseGuest([dir = '', vm = '', owner = '', port = '', repo = '']: readonly string[], settings: SimSettings): Promise<number> {
  const log = openSync(consolePath(dir, vm), 'a');
  const qemu = spawn('qemu-system-x86_64', qemuArgs(dir, vm, settings, Number(port), repo), { stdio: ['ignore', log, log] });
  const runtime: GuestRuntime = { port: Number(port), qmp: join(vmDir(dir, vm), 'qmp.sock'), qemuPid: qemu.pid ?? -1, supervisorPid: process.pid };
  writeFileSync(runtimePath(dir, vm), JSON.stringify(runtime));
  const exited = new Promise<number>((resolve) => qemu.on('close', (code) => resolve(code ?? 1)));
  const watchdog = setInterval(() => {
    if (!alive(Number(owner))) qemu.kill('SIGKILL');
  }, 1000);
  const code = await exited;
  clearInterval(watchdog);
  // The runtime file names this guest only while it runs (a new boot of the same qube writes its own).
  const current = guestRuntime(dir, vm);
  if (current?.supervisorPid === process.pid) rmSync(runtimePath(dir, vm), { force: true });
  return code;
}

function consoleTail(dir: string, vm: string): string {
  const path = consolePath(dir, vm);
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-15).join('\n') : '';
}

/** Boots `vm`'s guest and waits until its agent runs a command. */
export async function bootGuest(dir: string, vm: string, settings: SimSettings, repo = REPO): Promise<void> {
  rmSync(consolePath(dir, vm), { force: true });
  const port = await freePort();
  const owner = String(settings.ownerPid ?? process.ppid);
  const supervisor = spawn(process.execPath, [BUNDLE, 'qemu-supervise', dir, vm, owner, String(port), repo], { detached: true, stdio: 'ignore' });
  supervisor.unref();
  const started = Date.now();
  for (;;) {
    await sleep(500);
    const runtime = guestRuntime(dir, vm);
    if (supervisor.exitCode !== null || (runtime && !alive(runtime.qemuPid))) {
      throw new SimToolError(`qubes-sim: the QEMU guest of ${vm} stopped while booting:\n${consoleTail(dir, vm)}`);
    }
    if (runtime) {
      const ready = await callAgent(runtime.port, { argv: ['true'], env: guestEnvironment(), cwd: '/' }, { onStdout: () => undefined, onStderr: () => undefined }).catch(() => -1);
      if (ready === 0) return;
    }
    if (Date.now() - started > BOOT_TIMEOUT_MS) {
      powerOffGuest(dir, vm);
      throw new SimToolError(`qubes-sim: the QEMU guest of ${vm} did not answer within ${BOOT_TIMEOUT_MS / 1000} s:\n${consoleTail(dir, vm)}`);
    }
  }
}

/** Powers the guest off at once, as libvirt's destroy does (SIGTERM, then SIGKILL), and waits until QEMU is gone. */
export function powerOffGuest(dir: string, vm: string): void {
  const runtime = guestRuntime(dir, vm);
  if (!runtime) return;
  for (const [signal, waitMs] of [['SIGTERM', 5000], ['SIGKILL', 5000]] as const) {
    if (!alive(runtime.qemuPid)) break;
    process.kill(runtime.qemuPid, signal);
    for (let waited = 0; waited < waitMs && alive(runtime.qemuPid); waited += 50) sleepSync(50);
  }
  if (alive(runtime.qemuPid)) throw new SimToolError(`qubes-sim: QEMU (pid ${runtime.qemuPid}) of ${vm} did not exit`);
  rmSync(runtimePath(dir, vm), { force: true });
}
