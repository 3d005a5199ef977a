// The kernel tier's harness: a simulated Qubes whose device DisposableVMs are QEMU guests running a real kernel (ours with
// Qubes' no_part_scan, or Debian's stock one without it), driven
// through the real qvm-block-split exactly like the userspace end-to-end tests, with every guest powered off afterwards.
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect } from 'vitest';
import { newSim, SIM, sim, splitProcess, type SimRun } from '../helpers/sim.ts';

/** Generous: a TCG guest boots in 15-40 s and each service call starts Node in it, on a machine shared with other tests. */
export const KERNEL_TEST_TIMEOUT_MS = 600_000;

/** The template's opt-out a kernel without no_part_scan needs (Debian's has none), in the DVM template's /etc. */
export function allowPartitionScan(dir: string): void {
  const configDir = join(dir, 'vms', 'sim-dvm', 'root', 'etc', 'split-dm-crypt');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'device-vm.conf'), 'allow_partition_scan=yes\n');
}

/** Kills every qube still running in `dir` (the QEMU guests with them) when the file ends. */
function powerOffAtEnd(dir: string): void {
  afterAll(async () => {
    const running = sim('ls', dir).toString().split('\n').filter((vm) => vm.startsWith('dm-device-'));
    if (running.length > 0) await execa(join(dir, 'bin', 'qvm-kill'), running, { reject: false });
  });
}

/** A simulated Qubes with QEMU device VMs booting `kernel`; guests die with this test process (--owner-pid). */
export function newQemuSim(options: { readonly kernel: 'patched' | 'debian'; readonly optOut: boolean }): string {
  const dir = newSim('--device-vm=qemu', `--guest-kernel=${options.kernel}`, `--owner-pid=${process.pid}`);
  if (options.optOut) allowPartitionScan(dir);
  powerOffAtEnd(dir);
  return dir;
}

/** qvm-block-split with the simulator's environment and the kernel tier's time limit. */
export async function split(dir: string, args: readonly string[], input = ''): Promise<SimRun & { readonly ms: number }> {
  const started = Date.now();
  const result = await splitProcess(dir, args, { stdin: { input }, timeoutMs: KERNEL_TEST_TIMEOUT_MS });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), ms: Date.now() - started };
}

/** A command inside a qube (a QEMU guest for device VMs), never throwing. */
export async function inGuest(dir: string, vm: string, command: readonly string[], input = '', timeoutMs = 120_000): Promise<SimRun> {
  const result = await execa(SIM, ['exec', dir, vm, '--', ...command], { input, reject: false, timeout: timeoutMs });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The device VM running now (there is one per attached volume). */
export function deviceVm(dir: string): string {
  const vm = sim('ls', dir).toString().split('\n').find((name) => name.startsWith('dm-device-'));
  if (!vm) throw new Error('no device VM is running');
  return vm;
}

/** What the guest says of itself: `uname -r` in it, and the guest's uptime when its agent answered (its boot time). */
export async function guestKernel(dir: string, vm: string): Promise<string> {
  const release = await inGuest(dir, vm, ['uname', '-r']);
  expect(release.exitCode, release.stderr).toBe(0);
  const booted = /agent: ready at ([0-9.]+) s/.exec(readFileSync(join(dir, 'vms', vm, 'console.log'), 'utf8'))?.[1];
  return `${release.stdout.trim()} (booted in ${booted ?? '?'} s of guest time)`;
}

/** Polls, while `running` lasts, the device VM a command starts until `probe` answers for it; returns that answer. */
async function whileRunning<T>(dir: string, running: Promise<unknown>, probe: (vm: string) => Promise<T | undefined>): Promise<T> {
  let done = false;
  void running.finally(() => (done = true));
  while (!done) {
    const vm = sim('ls', dir).toString().split('\n').find((name) => name.startsWith('dm-device-'));
    const answer = vm ? await probe(vm) : undefined;
    if (answer !== undefined) return answer;
    await sleep(300);
  }
  throw new Error('the command ended before its device VM answered');
}

/** The guest kernel of the device VM a running command starts. */
export function kernelDuring(dir: string, running: Promise<unknown>): Promise<string> {
  return whileRunning(dir, running, (vm) => guestKernel(dir, vm).catch(() => undefined));
}

/** The device VM a running command starts, once its agent answers. */
export function deviceVmDuring(dir: string, running: Promise<unknown>): Promise<string> {
  return whileRunning(dir, running, async (vm) => ((await inGuest(dir, vm, ['true'])).exitCode === 0 ? vm : undefined));
}

/** One line for the CI log: the guest's kernel and the scenario's outcome. */
export function logScenario(kernel: string, scenario: string, result: string): void {
  process.stdout.write(`kernel-tier: guest kernel ${kernel}: ${scenario}: ${result}\n`);
}
