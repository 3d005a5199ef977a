// `npm run bench`: every figure of issue 7 measured side by side with the real tools on this machine, written to bench/results.json
// and printed as a table. Options: --runs=N (default 5), --only=unlock,multislot,rss,secrets,wipe,attach,e2e,cold (and the opt-in wipe-kernel),
// --wipe-mib=N (default 1024), --start-delay-ms=N (default 2000), --iter-ms=N (target CPU time of one slot, default 1000), --e2e-runs=N
// (rounds of attach_e2e_s, default 2), --out=PATH (default bench/results.json). `--only=e2e` gives attach_e2e_s alone in about two minutes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachFigure } from './attach.ts';
import { attachE2eFigure } from './attach-e2e.ts';
import { coldStartFigure } from './cold-start.ts';
import { ensureGnuTime, median, watchLoad } from './measure.ts';
import { secretLifetimeFigure } from './secret-lifetime.ts';
import { runHeaderUnlock } from './services.ts';
import { printTable } from './table.ts';
import { calibrateIterations, enginePhases, makeUnlockVolumes, multislotFigure, passphraseOf, unlockFigure } from './unlock.ts';
import { wipeFigures } from './wipe.ts';
import { wipeKernelFigure } from './wipe-kernel.ts';

const SECTIONS = ['unlock', 'multislot', 'rss', 'secrets', 'wipe', 'attach', 'e2e', 'cold', 'wipe-kernel'] as const;
/** Sections run only when named in --only: wipe-kernel boots a QEMU guest and takes minutes. */
const OPT_IN: readonly Section[] = ['wipe-kernel'];
type Section = (typeof SECTIONS)[number];

interface BenchOptions {
  readonly runs: number;
  readonly only: ReadonlySet<Section>;
  readonly wipeMiB: number;
  readonly startDelayMs: number;
  readonly iterMs: number;
  readonly e2eRuns: number;
  readonly out: string;
}

function normalizeOptions(rawArguments: readonly string[]): BenchOptions {
  const raw = new Map(rawArguments.map((arg) => /^--([a-z0-9-]+)=(.*)$/.exec(arg)).map((m, i) => {
    if (!m) throw new Error(`bench: unknown argument '${rawArguments[i]}' (see bench/main.ts)`);
    return [m[1]!, m[2]!] as const;
  }));
  const int = (name: string, fallback: number, min: number) => {
    const value = Number(raw.get(name) ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`bench: --${name} expects an integer >= ${min}, received '${raw.get(name)}'`);
    return value;
  };
  const only = (raw.get('only') ?? SECTIONS.filter((s) => !OPT_IN.includes(s)).join(',')).split(',');
  for (const name of only) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`bench: --only expects ${SECTIONS.join(',')}, received '${name}'`);
  return { runs: int('runs', 5, 1), only: new Set(only as Section[]), wipeMiB: int('wipe-mib', 1024, 16), startDelayMs: int('start-delay-ms', 2000, 0), iterMs: int('iter-ms', 1000, 10), e2eRuns: int('e2e-runs', 2, 1), out: raw.get('out') ?? 'bench/results.json' };
}

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unavailable';
  }
}

async function main(): Promise<void> {
  const options = normalizeOptions(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), 'split-dm-crypt-bench-'));
  const log = (text: string) => process.stderr.write(`bench: ${text}\n`);
  const figures: Record<string, unknown> = {};
  const machine = watchLoad();
  const hasTime = ensureGnuTime();
  try {
    const needVolumes = ['unlock', 'multislot', 'rss', 'secrets', 'attach', 'e2e'].some((s) => options.only.has(s as Section));
    const iterations = calibrateIterations(options.iterMs);
    const volumes = needVolumes ? (log(`making LUKS1 volumes with cryptsetup (${iterations} iterations per slot)`), await makeUnlockVolumes(work, iterations)) : undefined;
    if (volumes && options.only.has('unlock')) {
      log('unlock_vs_cryptsetup');
      figures.unlock_vs_cryptsetup = await unlockFigure(volumes, options.runs);
      figures.unlock_engine_phases = await enginePhases(volumes.single, 0);
    }
    if (volumes && options.only.has('multislot')) {
      log('multislot_unlock_vs_cryptsetup');
      figures.multislot_unlock_vs_cryptsetup = await multislotFigure(volumes, options.runs, Number(process.env.UV_THREADPOOL_SIZE ?? 4));
    }
    if (volumes && options.only.has('rss')) {
      log('peak RSS of splitdmcrypt.HeaderUnlock');
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push((await runHeaderUnlock(volumes.single, passphraseOf(0), hasTime)).maxRssKb ?? Number.NaN);
      const multi = (await runHeaderUnlock(volumes.multi, passphraseOf(7), hasTime)).maxRssKb ?? Number.NaN;
      figures.header_unlock_peak_rss_kb = { one_slot_median: median(runs), one_slot_runs: runs, eight_slots: multi, how: hasTime ? 'GNU time %M' : 'unavailable (no /usr/bin/time)' };
    }
    if (volumes && options.only.has('secrets')) {
      log('secret_lifetime_ms in splitdmcrypt.HeaderUnlock');
      figures.secret_lifetime_ms = await secretLifetimeFigure(volumes, Math.max(3, options.runs));
    }
    if (options.only.has('wipe')) {
      log(`wipe_vs_zero_write (${options.wipeMiB} MiB, ${options.runs} rounds of three)`);
      const wipe = await wipeFigures(work, options.wipeMiB, options.runs);
      figures.wipe_vs_zero_write = wipe.wipe_vs_zero_write;
      figures.wipe_vs_urandom_write = wipe.wipe_vs_urandom_write;
      figures.wipe_profile = wipe.profile;
      figures.device_wipe_peak_rss_kb = { median: median(wipe.device_wipe_peak_rss_kb), runs: wipe.device_wipe_peak_rss_kb, how: hasTime ? 'GNU time %M' : 'unavailable' };
    }
    if (volumes && options.only.has('attach')) {
      log(`attach_critical_path (VM starts ${options.startDelayMs} ms)`);
      figures.attach_critical_path = await attachFigure(work, volumes.single, options.runs, options.startDelayMs);
      log('attach_critical_path to a named, halted destination');
      figures.attach_critical_path_named_destination = await attachFigure(work, volumes.single, options.runs, options.startDelayMs, ['work']);
    }
    if (volumes && options.only.has('e2e')) {
      log(`attach_e2e_s (Qubes-like start times, ${options.e2eRuns} rounds of three attaches)`);
      const e2e = await attachE2eFigure(work, volumes.single, options.e2eRuns);
      figures.attach_e2e_s = e2e.attach_e2e_s;
      figures.attach_e2e = e2e;
    }
    if (options.only.has('wipe-kernel')) {
      log(`wipe_paths_kernel_tier (${Math.min(options.wipeMiB, 256)} MiB in a QEMU guest)`);
      figures.wipe_paths_kernel_tier = await wipeKernelFigure(Math.min(options.wipeMiB, 256), Math.max(3, options.runs));
    }
    if (options.only.has('cold')) {
      log('cold_start_ms');
      figures.cold_start_ms = await coldStartFigure(work, options.runs);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const results = {
    generated_at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version, cryptsetup: version('cryptsetup', ['--version']), load_whole_bench: machine.stop() },
    runs_per_figure: options.runs,
    figures,
  };
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  printTable(figures);
  log(`wrote ${options.out}`);
}

await main();
