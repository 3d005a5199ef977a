// The hostile-VM test kit, test side. A test plays a compromised VM by installing a scripted service in place of one of ours:
//
//   const scripts = useHostileScripts();            // bundles test/hostile/services/*.ts once per test file (beforeAll)
//   installHostile(dir, { service: 'splitdmcrypt.HeaderUnlock', script: scripts.path('header-unlock'), vmPrefix: 'dm-header-', args });
//   ... runSplit(...) ...
//   observations(dir, 'secret')                     // what the hostile scripts saw (DIR/hostile/observed.jsonl)
//
// The simulator side (`qubes-sim hostile`, the wrapper in the DVM template, the per-VM and Nth-call choice) is test/sim/hostile.ts;
// what the scripts share (args, observation log, hand-made frames, the frame scanner) is service-kit.ts. The scripts are bundled
// like our services (scripts/build.mjs): self-contained .mjs files, msgpackr's native decoder left out.
import { build, type Plugin } from 'esbuild';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { readCalls } from '../sim/faults.ts';
import { attachments, makeVolume, newSim, runningVms, sim, type SimRun, type TestVolume } from '../helpers/sim.ts';

const SERVICES = 'test/hostile/services';

/** As scripts/build.mjs: msgpackr's optional native decoder stays out of the bundle. */
const noNativeMsgpack: Plugin = {
  name: 'no-native-msgpack',
  setup(b) {
    b.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'no-native-msgpack' }));
    b.onLoad({ filter: /.*/, namespace: 'no-native-msgpack' }, () => ({ contents: "throw new Error('no native msgpackr');", loader: 'js' }));
  },
};

const banner = "#!/usr/bin/env node\nimport { createRequire as __hostileRequire } from 'node:module'; const require = __hostileRequire(import.meta.url);";

/** Bundles every hostile script before the file's tests; `path(name)` is the .mjs of test/hostile/services/<name>.ts. */
export function useHostileScripts(): { path(name: string): string } {
  const outdir = useTmpDir('hostile-scripts-');
  beforeAll(async () => {
    const names = readdirSync(SERVICES).filter((file) => file.endsWith('.ts'));
    await build({
      entryPoints: names.map((file) => join(SERVICES, file)),
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node18.19',
      banner: { js: banner },
      logLevel: 'warning',
      plugins: [noNativeMsgpack],
    });
  });
  return {
    path(name) {
      const path = join(outdir, `${name}.mjs`);
      if (!existsSync(path)) throw new Error(`no hostile script ${name} (test/hostile/services/${name}.ts)`);
      return path;
    },
  };
}

export interface HostileRuleOptions {
  readonly service: string;
  readonly script: string;
  /** Only in VMs whose name starts with this (dm-header-, dm-device-, dm-verify-). */
  readonly vmPrefix?: string;
  /** Only the Nth matching call. */
  readonly nth?: number;
  readonly args?: unknown;
}

/** `qubes-sim hostile DIR ...`: installs a hostile service for the calls the rule matches. */
export function installHostile(dir: string, rule: HostileRuleOptions): void {
  sim(
    'hostile', dir, '--service', rule.service, '--script', rule.script,
    ...(rule.vmPrefix ? ['--vm-prefix', rule.vmPrefix] : []),
    ...(rule.nth ? ['--nth', String(rule.nth)] : []),
    ...(rule.args === undefined ? [] : ['--args', JSON.stringify(rule.args)]),
  );
}

export interface Observation {
  readonly event: string;
  readonly vm: string;
  readonly service?: string;
  readonly rule?: number | 'real';
  readonly [field: string]: unknown;
}

/** What hostile scripts (and the wrapper's picks) observed, in order; only `event` when given. */
export function observations(dir: string, event?: string): Observation[] {
  const path = join(dir, 'hostile', 'observed.jsonl');
  if (!existsSync(path)) return [];
  const all = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Observation);
  return event === undefined ? all : all.filter((o) => o.event === event);
}

/** For assertion messages: dom0's stderr and the events the hostile scripts observed. */
export const trace = (dir: string, run: SimRun): string =>
  `exit ${run.exitCode}\n${run.stderr}\nobserved: ${observations(dir).filter((o) => o.event !== 'in-bytes').map((o) => o.event).join(' ')}`;

/** A simulated Qubes's state before a command, to compare with after. */
export interface Baseline {
  readonly dir: string;
  readonly diskPath: string;
  readonly before: readonly string[];
  readonly original: Buffer;
}

export const baseline = (dir: string, diskPath: string): Baseline => ({ dir, diskPath, before: runningVms(dir), original: readFileSync(diskPath) });

/** The error lines of a run. */
export const errorLines = (run: SimRun): string[] => run.stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));

/** Nothing left: the VMs of the baseline, no attachment, and (unless the command was meant to write) the disk as it was. */
export function expectNothingLeft(context: Baseline, { diskUnchanged = true } = {}): void {
  expect(runningVms(context.dir)).toEqual(context.before);
  expect(attachments(context.dir)).toEqual([]);
  if (diskUnchanged) expect(readFileSync(context.diskPath).equals(context.original)).toBe(true);
}

/** A refusal: exit 1, one error line naming `role` (e.g. /header VM/), nothing left. */
export function expectRefused(run: SimRun, context: Baseline, role: RegExp): void {
  const lines = errorLines(run);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(role);
  expect(run.exitCode, run.stderr).toBe(1);
  expectNothingLeft(context);
}

/** A simulated Qubes with `volume` at sys-usb:sda, and its baseline. */
export function withDisk(volume: Pick<TestVolume, 'path'>): Baseline {
  const dir = newSim();
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return baseline(dir, volume.path);
}

/** A LUKS1 volume made by cryptsetup (payload at 4096 sectors) at sys-usb:sda of a fresh simulated Qubes. */
export async function luks1Disk(tmp: string, name: string, sizeBytes = 8 * 1024 * 1024): Promise<Baseline & { readonly volume: TestVolume }> {
  const volume = await makeVolume(tmp, `${name}.img`, undefined, sizeBytes);
  return { ...withDisk(volume), volume };
}

/** The VMs a service ran in (from the simulator's call records). */
export const serviceVms = (dir: string, service: string): string[] => readCalls(dir).filter((c) => c.key === `service:${service}`).map((c) => c.vm ?? '?');

/** The volume key as hex, for a hostile header VM that seals the real key. */
export const keyHex = (volume: TestVolume): string => volume.volumeKey.toString('hex');
