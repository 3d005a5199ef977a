// Runs the simulator's fake tools the way the orchestrator does: by name, from DIR/bin (dom0) or inside a qube (`qubes-sim exec`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { SIM } from '../helpers/sim.ts';

export interface Run {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

function done(result: ReturnType<typeof spawnSync>): Run {
  return { exitCode: result.status ?? 128, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** A dom0 tool (`qvm-block`, `qvm-run`...) from DIR/bin; never throws on a non-zero exit. */
export function dom0(dir: string, tool: string, args: readonly string[], input = ''): Run {
  return done(spawnSync(join(dir, 'bin', tool), args, { input, encoding: 'utf8' }));
}

/** A command inside a running qube, with its VM-side tools first on PATH. */
export function inVm(dir: string, vm: string, command: readonly string[], input = ''): Run {
  return done(spawnSync(SIM, ['exec', dir, vm, '--', ...command], { input, encoding: 'utf8' }));
}

/** qubes-sim itself, without throwing. */
export function simRun(args: readonly string[], input: string | Buffer = ''): Run & { readonly raw: Buffer } {
  const result = spawnSync(SIM, args, { input, maxBuffer: 64 * 1024 * 1024 });
  return { exitCode: result.status ?? 128, stdout: result.stdout.toString('latin1'), stderr: result.stderr.toString(), raw: result.stdout };
}

/** Starts a dom0 tool in the background (to signal it); resolves with its exit code. */
export function spawnDom0(dir: string, tool: string, args: readonly string[]) {
  const child = spawn(join(dir, 'bin', tool), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : 0))));
  return { child, exited };
}

/** Installs a shell script as a qrexec service file at `relative` (e.g. `usr/local/etc/qubes-rpc/test.Echo`) in a qube's tree. */
export function installService(root: string, relative: string, script: string): void {
  const path = join(root, relative);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
}

/** The usual DispVM creation line of the orchestrator. */
export function createDispVm(dir: string, name: string, template = 'sim-dvm'): Run {
  return dom0(dir, 'qvm-create', ['--class', 'DispVM', '--template', template, '--label', 'red', '--prop', 'netvm=', '--prop', 'auto_cleanup=True', name]);
}
