// attach_e2e_s: the wall time of `qvm-block-split attach sys-usb:sda` (to a new disposable destination) end to end, on the
// simulator with Qubes-like start times, three ways: the original split-dm-crypt's serial order (ATTACH_ORDER=serial: each VM
// started when the previous step is done), today's concurrent order with named DisposableVMs (R4.3, preloading off), and
// R4.3's preloaded disposables; and `kdf`, the key derivation's own time in that run. Per step, when each dom0 tool call
// started and how long it took, so the serial schedule ("before") and the concurrent ones ("after") can be compared.
//
// Where the start times come from: Qubes' own measurements, QubesOS/qubes-core-admin tests-data/dispvm_perf/nv54-mem16.json
// (tests/dispvm_perf.py, R4.3-rc2, Intel Core Ultra 7 155H, 16 GB, debian-13-xfce disposables, 12 iterations each):
// - "dom0-dispvm-api", dom0 asks for a disposable, starts it and runs a trivial service in it: "exec" median 6.325 s. Used as one
//   qube's start (it includes the first service call, which our start then does not pay again: a rough figure, slightly high);
// - "dom0-dispvm-concurrent-api", four at once: "exec" median 8.79 s each, i.e. each start about 13 % slower per other start
//   under way ((8.79 / 6.325 - 1) / 3 = 0.13);
// - "dom0-dispvm-preload-api" (4 preloaded): "exec" median 0.475 s from asking for a preloaded disposable to the end of the same
//   trivial service: used as the hand-out latency (again including one service call: rough, slightly high).
// The fedora-42-xfce rows of the same file are 7.14 s, 9.73 s (concurrent) and 1.04 s; the whonix ones 7.52 s and 0.88 s.
import { execFileSync } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loggingWrappers, sim, simEnvironment } from './attach.ts';
import { median, round, timed, watchLoad, type LoadReport } from './measure.ts';
import { passphraseOf } from './unlock.ts';
import { QUBESD_CALL_MS, qubesdTimesPath } from '../test/sim/qubesd.ts';

const CLI = resolve('dist/qvm-block-split.mjs');

/** The figures above, in ms and percent. */
/** qubesdCallMs is the simulator's assumed per-call time of qubesd (test/sim/qubesd.ts QUBESD_CALL_MS), not a measured figure. */
export const QUBES_LIKE = { startMs: 6325, contentionPct: 13, handoutMs: 475, qubesdCallMs: QUBESD_CALL_MS } as const;

type Scenario = 'original_sequence' | 'named_dispvms' | 'preloaded';
const SCENARIOS: readonly Scenario[] = ['original_sequence', 'named_dispvms', 'preloaded'];

interface Step {
  readonly step: string;
  readonly start_s: number;
  readonly s: number;
}

export interface AttachE2eFigure {
  readonly attach_e2e_s: Record<Scenario | 'kdf', number>;
  readonly goals: { readonly named_vs_original: string; readonly named_vs_original_ratio: number; readonly preloaded_minus_kdf: string; readonly preloaded_minus_kdf_s: number; readonly met: boolean };
  readonly runs_s: Record<Scenario | 'kdf', readonly number[]>;
  readonly settings: typeof QUBES_LIKE & { readonly source: string; readonly disk_mib: number };
  readonly steps_of_first_run: Record<Scenario, readonly Step[]>;
  readonly load: LoadReport;
}

/** A step's name from its logged tool call: the tool and what it acted on (the VM's role, the service). */
function stepName(tool: string, args: readonly string[]): string {
  const service = args.find((arg) => arg.startsWith('splitdmcrypt.') || arg.startsWith('qubes.'));
  if (service) return `${tool} ${service.split('+')[0]}`;
  const role = args.map((arg) => /^dm-(device|header|destination)-disp/.exec(arg)?.[1]).find(Boolean);
  const verb = tool === 'qvm-block' ? ` ${args[0] ?? ''}` : '';
  if (tool === 'qubesd') return `qubesd ${(args[0] ?? '').replace(/^admin\.vm\./, '')}`;
  return `${tool}${verb}${role ? ` ${role}` : ''}`;
}

/** The steps of one attach: the tools' calls (`log`) and the Admin API calls qubesd answered on its socket (`qubesdLog`). */
function readSteps(log: string, qubesdLog: string): Step[] {
  const lines = [log, qubesdLog].flatMap((file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []));
  const calls = lines.filter(Boolean).map((line) => {
    const [tool = '?', start = '0', end = '0', ...args] = line.split(' ');
    return { tool, args, start: Number(BigInt(start) / 1000n) / 1e6, end: Number(BigInt(end) / 1000n) / 1e6 };
  });
  const first = Math.min(...calls.map((call) => call.start));
  // qubesd's reads and tagging are short and many: the table keeps the steps that wait.
  return calls
    .filter((call) => !(call.tool === 'qubesd' && call.args[0] !== 'admin.vm.CreateDisposable'))
    .sort((a, b) => a.start - b.start)
    .map((call) => ({ step: stepName(call.tool, call.args), start_s: round(call.start - first, 2), s: round(call.end - call.start, 2) }));
}

/** The key derivation the header VM does for this volume (LUKS1: the slot's PBKDF2, then the digest's), timed here, now. */
function kdfSeconds(volume: string): number {
  const header = readFileSync(volume).subarray(0, 592);
  const hash = header.subarray(72, 104).toString('latin1').replace(/\0.*$/s, '');
  const keyBytes = header.readUInt32BE(108);
  const digestIterations = header.readUInt32BE(164);
  const slotIterations = header.readUInt32BE(212);
  const started = performance.now();
  const key = pbkdf2Sync(passphraseOf(0), header.subarray(216, 248), slotIterations, keyBytes, hash);
  pbkdf2Sync(key, header.subarray(132, 164), digestIterations, 20, hash);
  return (performance.now() - started) / 1000;
}

async function oneAttach(work: string, volume: string, scenario: Scenario): Promise<{ s: number; steps: Step[] }> {
  const dir = join(mkdtempSync(join(work, `e2e-${scenario}-`)), 'qubes');
  sim('init', dir, '--qubes-release=4.3', '--export-delay-ms=40', '--disk-delay-ms=40');
  sim('add-block', dir, 'sys-usb', 'sda', volume);
  sim('set', dir, 'start-delay-ms', String(QUBES_LIKE.startMs));
  sim('set', dir, 'start-contention-pct', String(QUBES_LIKE.contentionPct));
  sim('set', dir, 'preload-handout-ms', String(QUBES_LIKE.handoutMs));
  sim('set', dir, 'qubesd-call-ms', String(QUBES_LIKE.qubesdCallMs));
  const env = simEnvironment(dir);
  if (scenario === 'original_sequence') {
    mkdirSync(join(dir, 'dom0'), { recursive: true });
    writeFileSync(env.SPLIT_DM_CRYPT_CONF!, 'ATTACH_ORDER=serial\n');
  }
  if (scenario === 'preloaded') {
    execFileIn(dir, env, 'qvm-features', ['sim-dvm', 'preload-dispvm-max', '3']);
    // As on a desktop some time after login: the pool is full and its qubes paused before anyone attaches.
    for (let waited = 0; execFileIn(dir, env, 'qvm-ls', ['--raw-data', '--fields', 'STATE']).split('\n').filter((state) => state === 'Paused').length < 3; waited += 200) {
      if (waited > 120_000) throw new Error('the simulated pool did not fill');
      await sleep(200);
    }
  }
  const log = join(dir, '..', 'calls.log');
  writeFileSync(log, '');
  writeFileSync(qubesdTimesPath(dir), '');
  env.PATH = `${loggingWrappers(dir, log)}:${env.PATH ?? ''}`;
  const run = await timed(process.execPath, [CLI, 'attach', 'sys-usb:sda'], { env, input: `${passphraseOf(0)}\n` });
  if (run.exitCode !== 0 || !/attached sys-usb:sda to/.test(run.stderr)) throw new Error(`${scenario}: attach on the simulator failed (${run.exitCode}): ${run.stderr.slice(0, 500)}`);
  const steps = readSteps(log, qubesdTimesPath(dir));
  // Retried: the simulated qubesd's detached helpers (a pool refill, a start) may still be writing in it for a moment.
  rmSync(join(dir, '..'), { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  return { s: run.ms / 1000, steps };
}

/** Runs one of the simulated dom0's tools. */
const execFileIn = (dir: string, env: NodeJS.ProcessEnv, tool: string, args: readonly string[]): string => execFileSync(join(dir, 'bin', tool), args, { env, encoding: 'utf8' });

/**
 * The disk attached: the LUKS1 volume given, grown (sparse) to DISK_MIB. Every real disk is larger than the 16 MiB the device VM
 * reads for the header (MAX_HEADER_TRANSFER_BYTES), so the whole fixed read is part of each attach, as it is for a user.
 */
const DISK_MIB = 64;

/** The figure: `rounds` attaches of each scenario, interleaved, with the KDF timed after each preloaded one. */
export async function attachE2eFigure(work: string, luksVolume: string, rounds: number): Promise<AttachE2eFigure> {
  const volume = join(work, 'e2e-disk.img');
  copyFileSync(luksVolume, volume);
  truncateSync(volume, DISK_MIB * 1024 * 1024);
  const load = watchLoad();
  const runs: Record<Scenario | 'kdf', number[]> = { original_sequence: [], named_dispvms: [], preloaded: [], kdf: [] };
  const steps: Partial<Record<Scenario, Step[]>> = {};
  for (let i = 0; i < rounds; i++) {
    for (const scenario of SCENARIOS) {
      const { s, steps: taken } = await oneAttach(work, volume, scenario);
      runs[scenario].push(s);
      steps[scenario] ??= taken;
      if (scenario === 'preloaded') runs.kdf.push(kdfSeconds(volume));
    }
  }
  const med = (key: Scenario | 'kdf') => round(median(runs[key]), 2);
  const e2e = { original_sequence: med('original_sequence'), named_dispvms: med('named_dispvms'), preloaded: med('preloaded'), kdf: med('kdf') };
  const ratio = round(e2e.named_dispvms / e2e.original_sequence, 2);
  const preloadedMinusKdf = round(e2e.preloaded - e2e.kdf, 2);
  return {
    attach_e2e_s: e2e,
    goals: { named_vs_original: '<= 0.5', named_vs_original_ratio: ratio, preloaded_minus_kdf: '<= 2.5 s', preloaded_minus_kdf_s: preloadedMinusKdf, met: ratio <= 0.5 && preloadedMinusKdf <= 2.5 },
    runs_s: { original_sequence: runs.original_sequence.map((v) => round(v, 2)), named_dispvms: runs.named_dispvms.map((v) => round(v, 2)), preloaded: runs.preloaded.map((v) => round(v, 2)), kdf: runs.kdf.map((v) => round(v, 3)) },
    settings: { ...QUBES_LIKE, disk_mib: DISK_MIB, source: 'QubesOS/qubes-core-admin tests-data/dispvm_perf/nv54-mem16.json; qubesdCallMs assumed (see bench/attach-e2e.ts, test/sim/qubesd.ts)' },
    steps_of_first_run: steps as Record<Scenario, Step[]>,
    load: load.stop(),
  };
}
