// Failure injection over whole commands: record the calls a successful run makes, then make each call in turn fail (or hang,
// or answer garbage) in a fresh simulated Qubes, and check the failure contract: non-zero exit, exactly one error line and no
// stack trace, nothing left (VMs, attachments, mappings, records, locks), the source disk changed only by the command's purpose.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { faultCommand, readCalls, type CallRecord, type FaultMode } from '../sim/faults.ts';
import { listAttachments, listMappings, listQubes } from '../sim/inspect.ts';
import { addBlock } from '../sim/world.ts';
import { newSim, splitProcess, type SimRun, type TestVolume } from '../helpers/sim.ts';

// In-process equivalents of `qubes-sim add-block|fault|qubes|attachments|mappings` and of runSplit's `eval "$(qubes-sim env
// DIR)"`: the same code, without a Node.js start for each (the suite runs a few hundred commands). The world is read only
// through these inspect commands, never from the simulator's state files.
const lines = (text: string): string[] => text.split('\n').filter(Boolean);
const attachments = (dir: string): string[] => lines(listAttachments(dir));
/** Every qube, `NAME` or `NAME running`, sorted. */
const vmsOf = (dir: string): string[] => lines(listQubes(dir)).map((line) => line.replace(/ halted$/, ''));
/** dm mappings in every qube of the simulator. */
const mappingsOf = (dir: string): string[] => lines(listMappings(dir));

/** One command's run, with what a failure message needs to say where the time went. */
export interface TimedRun extends SimRun {
  readonly timedOut: boolean;
  readonly seconds: number;
}

/**
 * How long one simulated command may take before the harness stops it. Why this much: under the full suite (two test files at
 * once, QEMU guests of the kernel tier among them, PARALLEL commands here) an honest failing attach measured up to 40 s on two
 * cores, and dom0's own limits end any wait for a VM long before.
 */
const RUN_LIMIT_MS = 240_000;

/** Runs qvm-block-split in the simulator's environment (what `qubes-sim env` prints). */
export async function runSplit(dir: string, args: readonly string[], input = ''): Promise<TimedRun> {
  const started = Date.now();
  const result = await splitProcess(dir, args, { stdin: { input }, timeoutMs: RUN_LIMIT_MS });
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: result.timedOut, seconds };
}

/** "qvm-block-split attach ... with a fail at qvm-start#1 ...: exit 1 after 12.3 s", the prefix of every assertion message. */
const describeRun = (scenario: Scenario, mode: FaultMode, step: Step, run: TimedRun): string =>
  `${scenario.name} with a ${mode} at ${step.label}: exit ${run.exitCode} after ${run.seconds} s${run.timedOut ? ' (stopped by the harness)' : ''}\nstderr:\n${run.stderr}`;

export interface Scenario {
  readonly name: string;
  readonly args: readonly string[];
  readonly input: string;
  /** Runs (without faults) before the command: its calls are not steps. Detach needs an attachment. */
  readonly prepare?: (dir: string, volume: TestVolume) => Promise<void>;
  /** The step (a call key) from which on the command may write the source disk; undefined: it never may. */
  readonly writesFrom?: string;
  /** The bytes it may change from then on. */
  readonly mayChange?: { readonly start: number; readonly end: number };
  /** Detach: after a failure, running it again must finish the job. */
  readonly rerunAfterFailure?: boolean;
  /** Start `work` first, so the baseline has it running (a named destination). */
  readonly workRunning?: boolean;
}

export interface Step {
  readonly key: string;
  readonly index: number;
  readonly seq: number;
  readonly label: string;
}

/** The time limits for hang cases: short, yet long enough for an honest call on a loaded two-core machine. */
export const HANG_LIMIT_S = 4;

/** At most this many simulated commands at once per test file (vitest runs two files at once). */
const PARALLEL = 3;
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((ready) => waiting.push(ready));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface World {
  readonly dir: string;
  readonly image: string;
  readonly vms: string[];
  readonly attachments: string[];
}

/** Files left in dom0's run directory (attachment records, locks). */
function runDirFiles(dir: string, sub: string): string[] {
  const path = join(dir, 'dom0', 'run', sub);
  return existsSync(path) ? readdirSync(path) : [];
}

/** A fresh simulated Qubes with a copy of `volume` at sys-usb:sda, prepared, its call log cleared. */
async function newWorld(scenario: Scenario, volume: TestVolume, tmp: string, tag: string): Promise<World> {
  const dir = newSim();
  const image = join(tmp, `${tag}.img`);
  copyFileSync(volume.path, image);
  addBlock(dir, ['sys-usb', 'sda', image]);
  if (scenario.workRunning) execFileSync(join(dir, 'bin', 'qvm-start'), ['work'], { env: { ...process.env, QUBES_SIM_DIR: dir } });
  await scenario.prepare?.(dir, { ...volume, path: image });
  faultCommand(dir, ['--clear']);
  return { dir, image, vms: vmsOf(dir), attachments: attachments(dir) };
}

/** The calls of one successful run, as injectable steps (a service call counts once, as the service). */
export async function recordSteps(scenario: Scenario, volume: TestVolume, tmp: string): Promise<Step[]> {
  const world = await newWorld(scenario, volume, tmp, `${scenario.name}-record`);
  const run = await runSplit(world.dir, scenario.args, scenario.input);
  if (run.exitCode !== 0) throw new Error(`${scenario.name} failed without faults: ${run.stderr}`);
  const calls = readCalls(world.dir).filter((call: CallRecord) => !(call.key === 'qvm-run' && call.argv.includes('--service')));
  return calls.map((call) => ({ key: call.key, index: call.index, seq: call.seq, label: `${call.key}#${call.index} ${call.argv.join(' ').slice(0, 60)}` }));
}

function expectOneErrorLine(run: TimedRun, context: string): string {
  // A run the harness had to stop says nothing about dom0's messages: report it as what it is.
  expect(run.timedOut, context).toBe(false);
  const lines = run.stderr.split('\n').filter(Boolean);
  // Everything dom0 prints is in its one voice: no stack trace, no raw tool output.
  // Progress lines (a wipe's, a key slot's derivation) and a summary's indented continuation lines (describeHeader) are dom0's too.
  for (const line of lines) expect(line, context).toMatch(/^qvm-block-split: |^overwriting \S+: [0-9.]+ [KMG]?i?B|^deriving the new key slot in \S+: done in [0-9.]+ s$|^ {2}\S/);
  expect(run.stderr, context).not.toMatch(/^\s+at |unexpected failure|internal error/m);
  const errors = lines.filter((line) => line.startsWith('qvm-block-split: error:'));
  expect(errors, context).toHaveLength(1);
  return errors[0]!;
}

function expectSourceIntact(scenario: Scenario, world: World, original: Buffer, step: Step, steps: readonly Step[], absorbed: boolean): void {
  const now = readFileSync(world.image);
  expect(now.length).toBe(original.length);
  const writer = scenario.writesFrom === undefined ? undefined : steps.find((s) => s.key === scenario.writesFrom);
  // A command that absorbed the fault and succeeded did its work; one that failed may have written only from its writing step on.
  if (writer === undefined || (step.seq < writer.seq && !absorbed) || scenario.mayChange === undefined) {
    expect(now.equals(original), `source changed by a failure at ${step.label}`).toBe(true);
    return;
  }
  const { start, end } = scenario.mayChange;
  expect(now.subarray(0, start).equals(original.subarray(0, start))).toBe(true);
  expect(now.subarray(end).equals(original.subarray(end))).toBe(true);
}

export interface Outcome {
  readonly absorbed: boolean;
}

/** Injects `mode` at `step` and checks the failure contract. Resolves with whether dom0 absorbed the fault (exit 0, all clean). */
export function injectAt(scenario: Scenario, volume: TestVolume, tmp: string, step: Step, steps: readonly Step[], mode: FaultMode): Promise<Outcome> {
  return slot(async () => {
    const world = await newWorld(scenario, volume, tmp, `${scenario.name}-${mode}-${step.seq}`);
    const original = readFileSync(world.image);
    if (mode === 'hang') writeFileSync(join(world.dir, 'dom0', 'split-dm-crypt.conf'), ['START', 'REPLY', 'TOOL'].map((k) => `${k}_TIMEOUT_S=${HANG_LIMIT_S}\n`).join(''));
    faultCommand(world.dir, ['--target', step.key, '--nth', String(step.index), '--mode', mode]);
    const run = await runSplit(world.dir, scenario.args, scenario.input);
    const context = describeRun(scenario, mode, step, run);
    const fired = readCalls(world.dir).some((call) => call.fault === mode);
    expect(fired, `the fault never fired: ${context}`).toBe(true);
    let absorbed = false;
    if (run.exitCode === 0) {
      // A fault dom0 may legitimately absorb: garbage on a tool whose output is not used, a failed qvm-kill tried again.
      absorbed = true;
      expect(run.stderr, context).not.toMatch(/error:/);
      if (scenario.args[0] === 'attach') expect((await runSplit(world.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    } else {
      const error = expectOneErrorLine(run, context);
      if (mode === 'hang') {
        expect(run.exitCode, context).toBe(3);
        expect(error, context).toMatch(/did not (answer|finish|end) within/);
      }
      if (scenario.rerunAfterFailure) {
        const again = await runSplit(world.dir, scenario.args, scenario.input);
        expect(again.exitCode, `re-run after a failure at ${step.label} (${again.seconds} s): ${again.stderr}`).toBe(0);
      }
    }
    const expectedVms = scenario.rerunAfterFailure || (absorbed && scenario.args[0] === 'attach') ? vmsAfterDetach(world, scenario) : world.vms;
    const vms = vmsOf(world.dir);
    // The destination DisposableVM of an absorbed attach stays, as after any attach: detach leaves it to the user.
    expect(vms.filter((vm) => !/^dm-destination-disp/.test(vm) || !absorbed), `VMs after the ${context}`).toEqual(expectedVms);
    expect(attachments(world.dir), `attachments after the ${context}`).toEqual(scenario.rerunAfterFailure ? [] : world.attachments);
    expect(mappingsOf(world.dir), `mappings after a ${mode} at ${step.label}`).toEqual([]);
    expect(runDirFiles(world.dir, 'locks'), 'locks left').toEqual([]);
    expect(runDirFiles(world.dir, 'attachments'), 'attachment records left').toEqual([]);
    expectSourceIntact(scenario, world, original, step, steps, absorbed);
    return { absorbed };
  });
}

/** The qubes once everything is detached: detach's baseline without its device VM (the destination stays, as after detach). */
function vmsAfterDetach(world: World, scenario: Scenario): string[] {
  if (scenario.args[0] === 'attach') return world.vms;
  return world.vms.filter((vm) => !/^dm-device-disp/.test(vm));
}

/** Counts for the summary line. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }
  summary(name: string): string {
    return `${name}: ${[...this.counts].map(([what, count]) => `${count} ${what}`).join(', ')}`;
  }
}

/** The steps on which hang and garbage are tried: the first call of each distinct tool or service. */
export function representative(steps: readonly Step[], keys?: readonly string[]): Step[] {
  const seen = new Set<string>();
  return steps.filter((step) => {
    if (keys ? !keys.includes(step.key) : step.key.startsWith('vmtool:')) return false;
    if (seen.has(step.key)) return false;
    seen.add(step.key);
    return true;
  });
}

/** The cases of one scenario: a failure at each of `failAt`, a hang and garbage at the first call of each service among them. */
export function injectionCases(scenario: Scenario, volume: TestVolume, tmp: string, steps: readonly Step[], failAt: readonly Step[], tally: Tally): void {
  const services = representative(failAt, [...new Set(steps.map((s) => s.key).filter((k) => k.startsWith('service:')))]);
  it.each(failAt)('fail at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'fail')).absorbed ? 'fail absorbed' : 'fail injected');
  }, 300_000);
  it.each(services)('hang at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'hang')).absorbed ? 'hang absorbed' : 'hang injected');
  }, 300_000);
  it.each(services)('garbage at $label', async (step) => {
    tally.add((await injectAt(scenario, volume, tmp, step, steps, 'garbage')).absorbed ? 'garbage absorbed' : 'garbage injected');
  }, 300_000);
}
