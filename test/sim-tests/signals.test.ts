// A fake tool stopped by a signal (dom0's time limits and Ctrl-C stop whole process groups) never ends inside its critical
// section: the state lock it held is released, so the next tool does not wait for it to go stale. The signal is handled once
// the section is done; a tool that finishes its work at that moment may still end with 0. A lock whose owner died anyway
// (SIGKILL) is broken as soon as a tool sees the owner gone.
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { newSim } from '../helpers/sim.ts';
import { dom0 } from './sim-tools.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function untilExists(path: string, limitMs: number): Promise<boolean> {
  for (const end = Date.now() + limitMs; Date.now() < end; await sleep(20)) if (existsSync(path)) return true;
  return false;
}

describe('signals to the fake tools', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)('%s inside the state lock: the tool ends (0 or %i) after releasing the lock; the next tool runs at once', async (signal, status) => {
    const dir = newSim();
    const lock = join(dir, '.lock');
    const tool = spawn(join(dir, 'bin', 'qvm-prefs'), ['sim-dvm', 'label', 'green'], { env: { ...process.env, QUBES_SIM_TEST_HOLD_LOCK_MS: '1500' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => tool.on('exit', (code) => resolve(code)));
    expect(await untilExists(lock, 20_000), 'the tool never took the lock').toBe(true);
    tool.kill(signal);
    expect([0, status]).toContain(await exited);
    expect(existsSync(lock), 'the lock was left behind').toBe(false);
    const started = Date.now();
    expect(dom0(dir, 'qvm-prefs', ['sim-dvm', 'label']).exitCode).toBe(0);
    // A stale lock would hold this for 30 s.
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('a lock whose owner is dead is broken at once; a live owner is waited for', async () => {
    const dir = newSim();
    const lock = join(dir, '.lock');
    // A PID that was just in use and is gone now: a SIGKILLed tool's.
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(lock, dead);
    let started = Date.now();
    expect(dom0(dir, 'qvm-prefs', ['sim-dvm', 'label', 'green']).exitCode).toBe(0);
    expect(Date.now() - started, 'a dead owner\'s lock held the tool').toBeLessThan(20_000);
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, String(process.pid));
    const waiting = spawn(join(dir, 'bin', 'qvm-prefs'), ['sim-dvm', 'label', 'blue'], { stdio: 'ignore' });
    let ended = false;
    const exited = new Promise<number | null>((resolve) => waiting.on('exit', (code) => resolve(code))).finally(() => (ended = true));
    await sleep(1500);
    expect(ended, 'the tool ran while a live owner held the lock').toBe(false);
    unlinkSync(lock);
    expect(await exited).toBe(0);
    expect(dom0(dir, 'qvm-prefs', ['sim-dvm', 'label']).stdout).toBe('blue\n');
  }, 60_000);
});
