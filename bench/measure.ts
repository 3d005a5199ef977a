// Measuring tools for the bench: timed child processes (wall clock, optional peak RSS through GNU time), medians, and the
// machine's load while a figure is taken (the bench shares its cores with whatever else runs).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

export const GNU_TIME = '/usr/bin/time';

export interface TimedRun {
  readonly ms: number;
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** Peak resident set size in KiB, when the run went through GNU time. */
  readonly maxRssKb: number | undefined;
  /** User + system CPU seconds, when the run went through GNU time. */
  readonly cpuSeconds: number | undefined;
}

export interface RunOptions {
  readonly input?: string | Buffer;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run under GNU time to get the peak RSS. */
  readonly rss?: boolean;
  /** Talks to the child while it runs (stdin/stdout); the run ends when the child exits. */
  readonly converse?: (stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream) => Promise<void>;
}

const RSS_MARK = 'bench-maxrss-kb=';

/** Runs a command to its end; the wall clock runs from just before spawn to the child's exit. */
export function timed(command: string, args: readonly string[], options: RunOptions = {}): Promise<TimedRun> {
  const [file, argv] = options.rss ? [GNU_TIME, ['-f', `${RSS_MARK}%M %U %S`, command, ...args]] : [command, [...args]];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (options.converse) options.converse(child.stdin, child.stdout).catch((error: unknown) => child.emit('error', error));
    else {
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stdin.end(options.input ?? '');
    }
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - started;
      let stderr = Buffer.concat(err).toString('utf8');
      let maxRssKb: number | undefined;
      let cpuSeconds: number | undefined;
      const mark = stderr.lastIndexOf(RSS_MARK);
      if (options.rss && mark >= 0) {
        const [rss = '', user = '', system = ''] = stderr.slice(mark + RSS_MARK.length).trim().split(/\s+/);
        maxRssKb = Number.parseInt(rss, 10);
        cpuSeconds = Number(user) + Number(system);
        stderr = stderr.slice(0, mark);
      }
      resolve({ ms, exitCode: code ?? 128 + (signal ? 1 : 0), stdout: Buffer.concat(out), stderr, maxRssKb, cpuSeconds });
    });
  });
}

/** Fails loudly when a run did not do what was measured. */
export function expectSuccess(what: string, run: TimedRun): TimedRun {
  if (run.exitCode !== 0) throw new Error(`${what} exited with ${run.exitCode}: ${run.stderr.trim().slice(0, 500)}`);
  return run;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function cpuTimes(): CpuTimes | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface LoadReport {
  readonly loadavg_1min_start: number;
  readonly loadavg_1min_end: number;
  /** Share of all cores busy over the section (the bench's own work included). */
  readonly cpu_busy_percent: number | null;
}

/** Starts watching the machine's load; `stop()` reports it for the section. */
export function watchLoad(): { stop(): LoadReport } {
  const start = loadavg()[0]!;
  const before = cpuTimes();
  return {
    stop() {
      const after = cpuTimes();
      const busy = before && after && after.total > before.total ? (100 * (after.busy - before.busy)) / (after.total - before.total) : null;
      return { loadavg_1min_start: round(start, 2), loadavg_1min_end: round(loadavg()[0]!, 2), cpu_busy_percent: busy === null ? null : round(busy, 1) };
    },
  };
}

/** Makes sure GNU time is there (Debian package `time`), installing it when we may; false when it cannot be had. */
export function ensureGnuTime(): boolean {
  if (existsSync(GNU_TIME)) return true;
  if (process.getuid?.() !== 0) return false;
  try {
    process.stderr.write('bench: installing the Debian package time (for peak RSS)\n');
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'time'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    return false;
  }
  return existsSync(GNU_TIME);
}

/** Runs `steps` in turn, rotating the order each round so no side always goes first (caches, turbo, neighbours' load). */
export async function alternate<K extends string>(rounds: number, steps: Readonly<Record<K, () => Promise<number>>>): Promise<Record<K, number[]>> {
  const keys = Object.keys(steps) as K[];
  const results = Object.fromEntries(keys.map((key) => [key, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(i + round) % keys.length]!;
      results[key].push(await steps[key]());
    }
  }
  return results;
}
