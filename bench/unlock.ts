// Unlock figures: our split-dm-crypt-luks CLI against `cryptsetup open --test-passphrase` on the same LUKS1 file, one active slot,
// then eight active slots with the right passphrase in the last one. Both are whole processes (start-up, header read, PBKDF2,
// AF merge, digest check): that is what a user waits for, and it is the only fair comparison with a tool that is a process.
import { pbkdf2Sync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afMerge } from '../shared/luks-common/af.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../shared/luks1/constants.ts';
import { parseLuks1Header } from '../shared/luks1/header.ts';
import { keyMaterialRange, verifyVolumeKey } from '../shared/luks1/keyslot.ts';
import { pbkdf2 } from '../shared/luks-common/pbkdf2.ts';
import { cryptSectors } from '../shared/luks-common/sector-cipher.ts';
import { ratioFigure, type RatioFigure } from './figures.ts';
import { alternate, expectSuccess, round, timed, watchLoad } from './measure.ts';

export const LUKS_CLI = 'dist/split-dm-crypt-luks.mjs';
const KEY_BYTES = 64;
const HASH = 'sha256';

export interface UnlockVolumes {
  readonly single: string;
  readonly multi: string;
  readonly iterations: number;
}

export const passphraseOf = (slot: number): string => `bench passphrase ${slot}`;

/**
 * Iterations that make one slot take about `targetMs` of CPU here: a slot derives KEY_BYTES of PBKDF2-HMAC-SHA256 (two blocks), so the
 * probe times exactly that. The same count goes into every slot, for us and for cryptsetup alike.
 */
export function calibrateIterations(targetMs: number): number {
  const probe = 50_000;
  let best = Number.POSITIVE_INFINITY;
  // CPU time, not wall time: on a busy machine the wall clock would count other processes' turns and pick too few iterations.
  for (let i = 0; i < 3; i++) {
    const before = process.cpuUsage();
    pbkdf2Sync('calibration', Buffer.alloc(32, 1), probe, KEY_BYTES, HASH);
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return Math.max(1000, Math.round((probe * targetMs) / best / 1000) * 1000);
}

async function cryptsetup(args: readonly string[]): Promise<void> {
  expectSuccess(`cryptsetup ${args[0]}`, await timed('cryptsetup', ['--batch-mode', ...args]));
}

/** The two volumes, made by the real cryptsetup: keyfiles hold the passphrases byte for byte (no newline). */
export async function makeUnlockVolumes(dir: string, iterations: number): Promise<UnlockVolumes> {
  const keyFile = (slot: number) => join(dir, `pass${slot}.key`);
  for (let slot = 0; slot < 8; slot++) writeFileSync(keyFile(slot), passphraseOf(slot));
  const format = ['--type', 'luks1', '--cipher', 'aes-xts-plain64', '--key-size', String(KEY_BYTES * 8), '--hash', HASH, '--pbkdf-force-iterations', String(iterations)];
  const single = join(dir, 'single.img');
  const multi = join(dir, 'multi.img');
  for (const file of [single, multi]) {
    writeFileSync(file, Buffer.alloc(0));
    expectSuccess('truncate', await timed('truncate', ['-s', '4M', file]));
    await cryptsetup(['luksFormat', ...format, '--key-slot', '0', file, keyFile(0)]);
  }
  for (let slot = 1; slot < 8; slot++) {
    await cryptsetup(['luksAddKey', '--pbkdf-force-iterations', String(iterations), '--key-slot', String(slot), '--key-file', keyFile(0), multi, keyFile(slot)]);
  }
  return { single, multi, iterations };
}

type Cpu = { ours: number[]; reference: number[] };

async function ours(file: string, slot: number, cpu: Cpu): Promise<number> {
  const run = expectSuccess('split-dm-crypt-luks unlock', await timed(process.execPath, [LUKS_CLI, 'unlock', file], { input: `${passphraseOf(slot)}\n`, rss: true }));
  if (run.cpuSeconds !== undefined) cpu.ours.push(run.cpuSeconds);
  const reported = (JSON.parse(run.stdout.toString('utf8')) as { keyslot?: unknown }).keyslot;
  if (reported !== slot) throw new Error(`split-dm-crypt-luks opened key slot ${String(reported)}, expected ${slot}`);
  return run.ms;
}

async function reference(file: string, slot: number, cpu: Cpu): Promise<number> {
  const run = await timed('cryptsetup', ['open', '--test-passphrase', '--type', 'luks1', file], { input: `${passphraseOf(slot)}\n`, rss: true });
  if (expectSuccess('cryptsetup open --test-passphrase', run).cpuSeconds !== undefined) cpu.reference.push(run.cpuSeconds!);
  return run.ms;
}

async function compare(file: string, slot: number, rounds: number) {
  const load = watchLoad();
  const cpu: Cpu = { ours: [], reference: [] };
  const times = await alternate(rounds, { ours: () => ours(file, slot, cpu), reference: () => reference(file, slot, cpu) });
  return { times, load: load.stop(), cpu };
}

/** unlock_vs_cryptsetup: one active slot. */
export async function unlockFigure(volumes: UnlockVolumes, rounds: number): Promise<RatioFigure> {
  const { times, load, cpu } = await compare(volumes.single, 0, rounds);
  return ratioFigure({
    goal: 1.05,
    ours: `node ${LUKS_CLI} unlock FILE (the process, passphrase on stdin)`,
    reference: 'cryptsetup open --test-passphrase --type luks1 FILE',
    oursMs: times.ours,
    referenceMs: times.reference,
    oursCpuS: cpu.ours,
    referenceCpuS: cpu.reference,
    load,
    notes: [`one active slot, ${volumes.iterations} PBKDF2-HMAC-SHA256 iterations, 512-bit aes-xts-plain64 key`],
  });
}

/** multislot_unlock_vs_cryptsetup: eight active slots, the right passphrase in slot 7. */
export async function multislotFigure(volumes: UnlockVolumes, rounds: number, threadPool: number): Promise<RatioFigure> {
  const { times, load, cpu } = await compare(volumes.multi, 7, rounds);
  return ratioFigure({
    goal: 0.6,
    ours: `node ${LUKS_CLI} unlock FILE: the eight slots tried at once on libuv's thread pool (${threadPool} threads)`,
    reference: 'cryptsetup open --test-passphrase --type luks1 FILE: slots tried one after the other',
    oursMs: times.ours,
    referenceMs: times.reference,
    oursCpuS: cpu.ours,
    referenceCpuS: cpu.reference,
    load,
    notes: [`eight active slots of ${volumes.iterations} iterations each, different passphrases, the right one in slot 7`],
  });
}

/**
 * Where an unlock's time goes inside our engine, phase by phase for slot 0, in this process (the first call, as in a fresh CLI
 * process, then again warm): PBKDF2 runs on the thread pool, the rest on the main thread, one slot after the other.
 */
export async function enginePhases(volume: string, slot: number): Promise<Record<string, number>> {
  const area = readFileSync(volume).subarray(0, LUKS1_HEADER_AREA_BYTES);
  const header = parseLuks1Header(area);
  const keyslot = header.keyslots[slot]!;
  const { start, end } = keyMaterialRange(header, keyslot);
  const phases: Record<string, number> = {};
  for (const pass of ['cold', 'warm']) {
    let mark = performance.now();
    const lap = (name: string) => {
      phases[`${pass}_${name}_ms`] = round(performance.now() - mark, 1);
      mark = performance.now();
    };
    const slotKey = await pbkdf2(Buffer.from(passphraseOf(slot)), keyslot.salt, keyslot.iterations, header.keyBytes, header.hashSpec);
    lap('pbkdf2');
    const split = cryptSectors('decrypt', header.cipherMode, slotKey, area.subarray(start, end));
    lap('sector_decrypt');
    const candidate = afMerge(split, header.keyBytes, keyslot.stripes, header.hashSpec);
    lap('af_merge');
    if (!(await verifyVolumeKey(header, candidate))) throw new Error('bench: the engine did not open the bench volume');
    lap('digest');
  }
  return phases;
}
