// attach_critical_path: a full `qvm-block-split attach` on the Qubes simulator with every VM start taking a fixed delay, against the
// sequential schedule of the same steps (the original's: each VM start and each step after the previous one).
//
// How the sequential schedule is measured: in the same run, every dom0 tool call (qvm-create, qvm-start, qvm-block, qvm-run ...) goes
// through a logging wrapper that records its start and end. One after the other, those calls would take the sum of their
// durations; ours took the union of their intervals. So sequential = wall + (sum - union): our own wall clock (dom0's work between
// calls included) plus exactly the time our overlap saved. Nothing is estimated from another run or a model.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { round, timed, median, watchLoad, type LoadReport } from './measure.ts';
import { passphraseOf } from './unlock.ts';

const SIM = resolve('test/sim/qubes-sim');
const CLI = resolve('dist/qvm-block-split.mjs');

export interface AttachFigure {
  readonly ratio: number;
  readonly goal: string;
  readonly met: boolean;
  readonly ours: string;
  readonly reference: string;
  readonly start_delay_ms: number;
  readonly ours_ms_median: number;
  readonly sequential_ms_median: number;
  readonly ours_ms: readonly number[];
  readonly sequential_ms: readonly number[];
  readonly steps_of_first_run: readonly { tool: string; start_ms: number; ms: number }[];
  readonly load: LoadReport;
}

interface Interval {
  readonly tool: string;
  readonly start: number;
  readonly end: number;
}

const sim = (...args: string[]): string => execFileSync(SIM, args, { encoding: 'utf8' });

/** The simulator's dom0 environment, as `eval "$(qubes-sim env DIR)"` would set it. */
export function simEnvironment(dir: string): NodeJS.ProcessEnv {
  const dump = execFileSync('bash', ['-c', 'eval "$("$0" env "$1")" && env -0', SIM, dir], { encoding: 'utf8' });
  return Object.fromEntries(dump.split('\0').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Wrappers that log `tool start_ns end_ns` for each dom0 tool call (not for calls made inside simulated VMs). */
function loggingWrappers(dir: string, log: string): string {
  const wrappers = join(dir, '..', 'timed-bin');
  mkdirSync(wrappers, { recursive: true });
  for (const tool of readdirSync(join(dir, 'bin'))) {
    if (tool === 'qvm-block-split') continue;
    const real = join(dir, 'bin', tool);
    const script = [
      '#!/bin/sh',
      `[ -n "$QUBES_SIM_VM" ] && exec '${real}' "$@"`,
      's=$(date +%s%N)',
      `'${real}' "$@"`,
      'rc=$?',
      `echo "${tool} $s $(date +%s%N)" >> '${log}'`,
      'exit $rc',
    ].join('\n');
    writeFileSync(join(wrappers, tool), `${script}\n`);
    chmodSync(join(wrappers, tool), 0o755);
  }
  return wrappers;
}

function readIntervals(log: string): Interval[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [tool = '?', start = '0', end = '0'] = line.split(' ');
      return { tool, start: Number(BigInt(start) / 1000n) / 1000, end: Number(BigInt(end) / 1000n) / 1000 };
    })
    .sort((a, b) => a.start - b.start);
}

/** Total length of the union of the intervals (ms). */
function unionMs(intervals: readonly Interval[]): number {
  let total = 0;
  let [from, to] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const { start, end } of intervals) {
    if (start > to) {
      if (to > from) total += to - from;
      [from, to] = [start, end];
    } else to = Math.max(to, end);
  }
  return to > from ? total + (to - from) : total;
}

async function oneAttach(work: string, volume: string, startDelayMs: number, destination: string[]) {
  const dir = join(mkdtempSync(join(work, 'attach-')), 'qubes');
  sim('init', dir);
  sim('add-block', dir, 'sys-usb', 'sda', volume);
  sim('set', dir, 'start-delay-ms', String(startDelayMs));
  const log = join(dir, '..', 'calls.log');
  writeFileSync(log, '');
  const env = simEnvironment(dir);
  env.PATH = `${loggingWrappers(dir, log)}:${env.PATH ?? ''}`;
  const run = await timed(process.execPath, [CLI, 'attach', ...destination, 'sys-usb:sda'], { env, input: `${passphraseOf(0)}\n` });
  if (run.exitCode !== 0 || !/attached sys-usb:sda to/.test(run.stderr)) throw new Error(`attach on the simulator failed (${run.exitCode}): ${run.stderr.slice(0, 500)}`);
  const intervals = readIntervals(log);
  const sum = intervals.reduce((total, { start, end }) => total + (end - start), 0);
  rmSync(join(dir, '..'), { recursive: true, force: true });
  const first = intervals[0]?.start ?? 0;
  return { ms: run.ms, sequentialMs: run.ms + (sum - unionMs(intervals)), steps: intervals.map((i) => ({ tool: i.tool, start_ms: round(i.start - first, 1), ms: round(i.end - i.start, 1) })) };
}

/** The figure for attach to a new DisposableVM (`destination` empty) or to a named, halted qube. */
export async function attachFigure(work: string, volume: string, rounds: number, startDelayMs: number, destination: string[] = []): Promise<AttachFigure> {
  const load = watchLoad();
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await oneAttach(work, volume, startDelayMs, destination));
  const ours = median(runs.map((r) => r.ms));
  const sequential = median(runs.map((r) => r.sequentialMs));
  const ratio = round(ours / sequential);
  return {
    ratio,
    goal: '<= 0.7',
    met: ratio <= 0.7,
    ours: `qvm-block-split attach ${[...destination, 'sys-usb:sda'].join(' ')} on the simulator (wall clock of the process)`,
    reference: 'the same dom0 tool calls one after the other: wall + (sum of call durations - union of call intervals), same run',
    start_delay_ms: startDelayMs,
    ours_ms_median: round(ours, 1),
    sequential_ms_median: round(sequential, 1),
    ours_ms: runs.map((r) => round(r.ms, 1)),
    sequential_ms: runs.map((r) => round(r.sequentialMs, 1)),
    steps_of_first_run: runs[0]?.steps ?? [],
    load: load.stop(),
  };
}
