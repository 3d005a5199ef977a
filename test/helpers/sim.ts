// Drives the Qubes simulator and qvm-block-split exactly as the acceptance interface says: through test/sim/qubes-sim and its `env`.
import { execa, type ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simulatedDom0Environment } from '../sim/inspect.ts';
import { cryptsetupFormat, cryptsetupFormatLuks2, cryptsetupVolumeKey } from './cryptsetup.ts';

export const SIM = resolve('test/sim/qubes-sim');

export interface SimRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a qubes-sim subcommand; throws on failure. Returns stdout as a Buffer. */
export function sim(...args: string[]): Buffer {
  return execFileSync(SIM, args, { maxBuffer: 256 * 1024 * 1024 });
}

/**
 * The delays every simulated Qubes of the tests has unless a test sets its own: a real Qubes exports a new mapping to dom0 and
 * shows a hot-plugged disk in its qube a moment after the call that made them has returned. Small (tens of ms), so that the
 * suite does not slow down, but never zero, so that no code path silently depends on them being instantaneous.
 */
export const DEFAULT_SIM_DELAYS = ['--export-delay-ms=40', '--disk-delay-ms=40'] as const;

/** The simulators this test file made: each holds disk images and qube trees (often 100 MiB or more). */
const madeSims: string[] = [];
// Removed when the file ends (hooks run last-registered first, so the file's own clean-up, powering guests off, runs before).
// A simulated qube's process still writing could make the removal fail; that must not fail the file, so it is best effort.
afterAll(() => {
  for (const dir of madeSims.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left in the system's temporary directory.
    }
  }
});

/** A fresh simulated Qubes in a temporary directory (with DEFAULT_SIM_DELAYS where `initOptions` set no delay of their own). */
export function newSim(...initOptions: string[]): string {
  const parent = mkdtempSync(join(tmpdir(), 'qubes-sim-'));
  madeSims.push(parent);
  const dir = join(parent, 'qubes');
  const delays = DEFAULT_SIM_DELAYS.filter((option) => !initOptions.some((given) => given.startsWith(option.split('=')[0]!)));
  sim('init', dir, ...delays, ...initOptions);
  return dir;
}

/** dom0's environment in the tests has a display, as a desktop user's has: qvm-run then waits for GUI sessions unless told not to. */
export const TEST_DISPLAY = ':0';

export interface SplitOptions {
  /** What stdin gets, then closes; `'pipe'` keeps it open for the test to write; `'ignore'` gives none. */
  readonly stdin?: { readonly input: string } | 'pipe' | 'ignore';
  readonly timeoutMs?: number;
}

/**
 * The one way tests start qvm-block-split: the simulator's dom0 environment (what `qubes-sim env` prints, from the same list),
 * a display as on a desktop, never a throw on a non-zero exit.
 */
export function splitProcess(dir: string, args: readonly string[], options: SplitOptions = {}): ResultPromise {
  const stdin = options.stdin ?? { input: '' };
  return execa(join(dir, 'bin', 'qvm-block-split'), args, {
    ...(typeof stdin === 'string' ? { stdin } : { input: stdin.input }),
    env: { ...simulatedDom0Environment(dir), PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, DISPLAY: TEST_DISPLAY },
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
  });
}

/** Starts qvm-block-split with the simulator's environment; stdin gets `input` (then closes). */
export function startSplit(dir: string, args: readonly string[], input = ''): ResultPromise {
  return splitProcess(dir, args, { stdin: { input } });
}

/** Runs qvm-block-split to completion. */
export async function runSplit(dir: string, args: readonly string[], input = ''): Promise<SimRun> {
  const result = await startSplit(dir, args, input);
  const stderr = String(result.stderr);
  // Whatever a test checks, Node's own warnings (a listener leak, a deprecation) must never reach the user's terminal.
  const nodeWarning = /^\(node:[0-9]+\) .*Warning.*$/m.exec(stderr);
  if (nodeWarning) throw new Error(`qvm-block-split ${args.join(' ')} printed a Node warning: ${nodeWarning[0]}`);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr };
}

export interface TestVolume {
  readonly path: string;
  readonly passphrase: string;
  readonly volumeKey: Buffer;
  readonly plaintext: Buffer;
  readonly payloadOffset: number;
}

/** A LUKS1 image made by cryptsetup whose first data sectors hold known plaintext, encrypted as dm-crypt would. */
export async function makeVolume(dir: string, name: string, passphrase = 'test passphrase', sizeBytes = 8 * 1024 * 1024): Promise<TestVolume> {
  const path = join(dir, name);
  await cryptsetupFormat(path, passphrase, { sizeBytes });
  const volumeKey = Buffer.from(await cryptsetupVolumeKey(path, passphrase), 'hex');
  const payloadOffset = readFileSync(path).readUInt32BE(104);
  const plaintext = Buffer.alloc(128 * 1024);
  for (let i = 0; i < plaintext.length; i += 16) plaintext.write(`sector ${String(i >> 9).padStart(6, '0')} `, i, 'latin1');
  const fd = openSync(path, 'r+');
  for (let sector = 0; sector < plaintext.length / 512; sector++) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt(sector));
    const cipher = createCipheriv('aes-256-xts', volumeKey, iv);
    writeSync(fd, cipher.update(plaintext.subarray(sector * 512, (sector + 1) * 512)), 0, 512, (payloadOffset + sector) * 512);
  }
  closeSync(fd);
  return { path, passphrase, volumeKey, plaintext, payloadOffset };
}

export interface Luks2VolumeOptions {
  readonly sectorSize: 512 | 4096;
  /** Data offset in 512-byte sectors (cryptsetup's default 32768). */
  readonly offsetSectors?: number;
  readonly sizeBytes?: number;
}

/**
 * A LUKS2 image made by cryptsetup with its defaults (aes-xts-plain64, 512-bit key, sha256, argon2id) at a small argon2 cost,
 * its first data bytes holding known plaintext encrypted as dm-crypt would (IVs count 512-byte sectors whatever the sector size).
 */
export async function makeLuks2Volume(dir: string, name: string, passphrase: string, options: Luks2VolumeOptions): Promise<TestVolume> {
  const path = join(dir, name);
  const { sectorSize, offsetSectors } = options;
  await cryptsetupFormatLuks2(path, passphrase, { kdf: 'argon2id', sectorSize, sizeBytes: options.sizeBytes ?? 24 * 1024 * 1024, ...(offsetSectors ? { offsetSectors } : {}) });
  const volumeKey = Buffer.from(await cryptsetupVolumeKey(path, passphrase), 'hex');
  const payloadOffset = offsetSectors ?? 32768;
  const plaintext = Buffer.alloc(64 * 1024);
  for (let i = 0; i < plaintext.length; i += 32) plaintext.write(`luks2 byte ${String(i).padStart(8, '0')} `, i, 'latin1');
  const fd = openSync(path, 'r+');
  for (let unit = 0; unit < plaintext.length / sectorSize; unit++) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt((unit * sectorSize) / 512));
    const block = plaintext.subarray(unit * sectorSize, (unit + 1) * sectorSize);
    writeSync(fd, createCipheriv('aes-256-xts', volumeKey, iv).update(block), 0, block.length, payloadOffset * 512 + unit * sectorSize);
  }
  closeSync(fd);
  return { path, passphrase, volumeKey, plaintext, payloadOffset };
}

/** Running VMs, sorted. */
export function runningVms(dir: string): string[] {
  return sim('ls', dir).toString().split('\n').filter(Boolean).sort();
}

/** Attachment lines. */
export function attachments(dir: string): string[] {
  return sim('attachments', dir).toString().split('\n').filter(Boolean);
}
