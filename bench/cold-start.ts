// cold_start_ms: each bundle in dist/ from spawn to its first useful action, as a process.
// CLIs: `--help` printed and exited. Services: started with stdin closed (an empty request, as when dom0 hangs up at once), so each
// loads its whole bundle, reads its request, finds it missing and replies with an error frame before exiting: the same start-up
// work a real call does before its first byte of real work. `node -e 0` is measured alongside as the floor set by Node itself.
// bench/service-floor.cjs is measured alongside too: what Node charges a service that does nothing but load child_process and read
// its stdin as a stream, the lower bound under every service bundle.
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { median, round, timed, watchLoad, type LoadReport } from './measure.ts';

export interface ColdStartFigure {
  readonly goal: string;
  readonly met: boolean;
  readonly how: string;
  readonly entries: Record<string, { readonly median_ms: number; readonly runs_ms: readonly number[]; readonly met: boolean }>;
  readonly node_floor_ms: number;
  /** Each bundle's median start-up over `node -e 0`'s in the same run (issue 19's goal: <= 1.15 each). */
  readonly cold_start_ratio: Record<string, number>;
  readonly ratio_goal: string;
  readonly ratio_met: boolean;
  /**
   * On Node >= 22.1 only (else absent): each bundle started as the installed wrapper starts it there, with NODE_COMPILE_CACHE
   * already filled (packaging/wrapper.sh; the install fills it), over the same run's `node -e 0`.
   */
  readonly cold_start_ratio_compile_cache?: Record<string, number>;
  readonly ratio_met_with_compile_cache?: boolean;
  /**
   * bench/service-floor.cjs over the same run's `node -e 0`: a service with nothing of ours and no dependency that only loads
   * child_process and reads its stdin as a stream. What Node itself charges for that, before any bundle does anything.
   */
  readonly service_floor_ratio: number;
  readonly load: LoadReport;
}

const RATIO_GOAL = 1.15;

const GOAL_MS = 150;

interface Entry {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** A service's error reply to the empty request ends in exit code 1; a CLI's help in 0. */
  readonly exitCode: number;
}

function entries(work: string): Entry[] {
  const sysroot = mkdtempSync(join(work, 'cold-sysroot-'));
  // Each service gets an argument it accepts (the device services and HeaderInspect take none, HeaderKeyslots an operation), so
  // it reaches its first read.
  const argumentOf = (file: string) => (/^splitdmcrypt\.(Device|HeaderInspect)/.test(file) ? '' : /^splitdmcrypt\.HeaderKeyslots/.test(file) ? 'add' : 'luks1');
  const services = readdirSync('dist/vm')
    .filter((file) => file.endsWith('.mjs'))
    .sort()
    .map((file) => ({
      name: `dist/vm/${file}`,
      args: [`dist/vm/${file}`],
      env: { ...process.env, QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_SERVICE_ARGUMENT: argumentOf(file), SPLIT_DM_CRYPT_SYSROOT: sysroot },
      exitCode: 1,
    }));
  return [
    { name: SERVICE_FLOOR, args: ['bench/service-floor.cjs'], env: process.env, exitCode: 1 },
    { name: 'dist/qvm-block-split.mjs --help', args: ['dist/qvm-block-split.mjs', '--help'], env: process.env, exitCode: 0 },
    { name: 'dist/split-dm-crypt-luks.mjs --help', args: ['dist/split-dm-crypt-luks.mjs', '--help'], env: process.env, exitCode: 0 },
    ...services,
  ];
}

/** Whether this Node keeps compiled code in NODE_COMPILE_CACHE (module.enableCompileCache: Node >= 22.1). */
function hasCompileCache(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 1);
}

const CACHED = ' (compile cache)';

const SERVICE_FLOOR = 'bench/service-floor.cjs (no dependency)';

export async function coldStartFigure(work: string, rounds: number): Promise<ColdStartFigure> {
  const all = entries(work);
  const plain = all.filter((entry) => entry.name !== SERVICE_FLOOR);
  // Where Node allows it, each bundle also as the wrapper runs it there: with a compile cache one start has filled.
  const cacheDir = mkdtempSync(join(work, 'compile-cache-'));
  const cached = hasCompileCache() ? plain.map((entry) => ({ ...entry, name: `${entry.name}${CACHED}`, env: { ...entry.env, NODE_COMPILE_CACHE: cacheDir } })) : [];
  for (const entry of cached) await timed(process.execPath, entry.args, { env: entry.env });
  const list = [...all, ...cached];
  const times: Record<string, number[]> = Object.fromEntries([...list.map((e) => [e.name, []]), ['node -e 0', []]]);
  const load = watchLoad();
  for (let round = 0; round < rounds; round++) {
    times['node -e 0']!.push((await timed(process.execPath, ['-e', '0'])).ms);
    for (const entry of list) {
      const run = await timed(process.execPath, entry.args, { env: entry.env });
      if (run.exitCode !== entry.exitCode) throw new Error(`${entry.name} exited with ${run.exitCode}, expected ${entry.exitCode}: ${run.stderr.slice(0, 300)}`);
      times[entry.name]!.push(run.ms);
    }
  }
  const results = Object.fromEntries(
    list.map((entry) => {
      const ms = round(median(times[entry.name]!), 1);
      return [entry.name, { median_ms: ms, runs_ms: times[entry.name]!.map((t) => round(t, 1)), met: ms < GOAL_MS }];
    }),
  );
  const floor = median(times['node -e 0']!);
  const ratioOf = (name: string) => round(median(times[name]!) / floor);
  const ratios = Object.fromEntries(plain.map((entry) => [entry.name, ratioOf(entry.name)]));
  const cachedRatios = cached.length > 0 ? Object.fromEntries(plain.map((entry) => [entry.name, ratioOf(`${entry.name}${CACHED}`)])) : undefined;
  return {
    goal: `< ${GOAL_MS} ms each`,
    cold_start_ratio: ratios,
    ratio_goal: `<= ${RATIO_GOAL} each`,
    ratio_met: Object.values(ratios).every((ratio) => ratio <= RATIO_GOAL),
    ...(cachedRatios ? { cold_start_ratio_compile_cache: cachedRatios, ratio_met_with_compile_cache: Object.values(cachedRatios).every((ratio) => ratio <= RATIO_GOAL) } : {}),
    service_floor_ratio: ratioOf(SERVICE_FLOOR),
    met: plain.every((entry) => results[entry.name]!.met),
    how: 'spawn to exit: CLIs print --help; services get an empty stdin and reply with an error frame (their first read)',
    entries: results,
    node_floor_ms: round(median(times['node -e 0']!), 1),
    load: load.stop(),
  };
}
