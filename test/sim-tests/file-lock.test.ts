// The simulator's state lock under the race that once lost a qube: a holder dies inside the lock (as a tool SIGKILLed by
// qvm-run's relay does); tool A finds the lock stale, and before A breaks it, tool B breaks it and takes it anew. A must then
// leave B's live lock alone. Staged step by step with a pause hook, so the test does not depend on timing: with the old
// rename-away breaking, A removed B's lock, both changed the state at once, and one increment was lost.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'split-dm-crypt-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One worker: "die" takes the lock and exits inside it; "add" adds 1 to the counter under the lock, and when HOLD names a file,
// creates it once inside and stays until it is removed (a read-modify-write with room for a second holder).
const worker = join(dir, 'worker.mjs');
const source = join(dir, 'worker.ts');
writeFileSync(
  source,
  `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { withLock } from ${JSON.stringify(resolve('test/sim/file-lock.ts'))};
const [, , mode, lock, counter] = process.argv;
if (mode === 'die') withLock(lock, 'test', () => process.exit(0));
withLock(lock, 'test', () => {
  const n = Number(readFileSync(counter, 'latin1'));
  const hold = process.env.HOLD;
  if (hold) {
    writeFileSync(hold, '');
    while (existsSync(hold)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  writeFileSync(counter, String(n + 1));
});
`,
);
buildSync({ entryPoints: [source], outfile: worker, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' });

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number | null> {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  return new Promise((done) => child.on('exit', (code) => done(code)));
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
async function until(what: string, path: string): Promise<void> {
  for (const end = Date.now() + 30_000; !existsSync(path); await sleep(10)) if (Date.now() > end) throw new Error(`${what} never happened`);
}

describe('simulator state lock', () => {
  it('a tool that found a lock stale leaves alone the live lock another tool took after breaking it', async () => {
    const lock = join(dir, 'state.lock');
    const counter = join(dir, 'counter');
    const aPaused = join(dir, 'a-paused');
    const bHolds = join(dir, 'b-holds');
    writeFileSync(counter, '0');
    expect(await run(['die', lock, counter])).toBe(0);
    expect(existsSync(lock), 'the dead holder left its lock').toBe(true);
    const a = run(['add', lock, counter], { QUBES_SIM_TEST_PAUSE_BEFORE_BREAK: aPaused });
    await until('A finding the lock stale', aPaused);
    const b = run(['add', lock, counter], { HOLD: bHolds });
    await until('B breaking the lock and taking it', bHolds);
    rmSync(aPaused);
    // A breaks now (or, fixed, does not); B keeps its lock a moment longer, then both finish.
    await sleep(300);
    rmSync(bHolds);
    expect(await Promise.all([a, b])).toEqual([0, 0]);
    expect(Number(readFileSync(counter, 'latin1'))).toBe(2);
  }, 60_000);
});
