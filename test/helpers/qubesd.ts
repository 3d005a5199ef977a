// The simulated qubesd (`qubes-sim qubesd DIR`) as a child of the test: started, stopped as qubesd stops (SIGTERM: connections
// closed, socket removed) or killed (SIGKILL: a stale socket stays behind), to test what follows the event stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { SIM } from './sim.ts';

export interface SimQubesd {
  readonly socket: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: the socket file stays, as after a crash. */
  kill(): Promise<void>;
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

/** Stops the qubesd `qubes-sim init` started for `dir` (DIR/qubesd.pid), so a test can run, stop and kill its own. */
export async function stopInitQubesd(dir: string): Promise<void> {
  const pidFile = join(dir, 'qubesd.pid');
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
  } catch (error) {
    // A qubesd killed with SIGKILL leaves its pid file behind.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    rmSync(pidFile, { force: true });
  }
  for (let waited = 0; existsSync(pidFile); waited += 10) {
    if (waited > 10_000) throw new Error(`the qubesd of ${dir} did not stop`);
    await sleep(10);
  }
}

/** Starts qubesd for the simulator in `dir` (in place of the one init started); resolves once it listens. */
export async function startQubesd(dir: string): Promise<SimQubesd> {
  await stopInitQubesd(dir);
  const child = spawn(SIM, ['qubesd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`qubes-sim qubesd exited with ${code}: ${stderr}`)));
  });
  const signal = async (name: NodeJS.Signals) => {
    child.kill(name);
    await exited(child);
  };
  return { socket: join(dir, 'qubesd.sock'), stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}
