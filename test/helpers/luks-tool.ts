// Runs the bundled split-dm-crypt-luks CLI as a user would.
import { execa } from 'execa';
import { resolve } from 'node:path';
import { expect } from 'vitest';

export const LUKS_TOOL = resolve('dist/split-dm-crypt-luks.mjs');

export interface ToolRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the tool with `input` on stdin; never throws on a non-zero exit. */
export async function runLuksTool(args: readonly string[], input = ''): Promise<ToolRun> {
  const result = await execa('node', [LUKS_TOOL, ...args], { input, reject: false });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** What `unlock --dump-volume-key` prints (JSON). */
export interface ToolUnlocked {
  volumeKey: string;
  keyslot: number;
  type: string;
  cipher: string;
  offsetBytes: number;
  offsetSectors: number;
  sectorSize: number;
  mappable: boolean;
}

/** Unlocks `path` with the tool, which must succeed silently; `extra` adds options (a key slot, a key file). */
export async function unlockWithTool(path: string, passphrase: string, extra: readonly string[] = []): Promise<ToolUnlocked> {
  const run = await runLuksTool(['unlock', path, '--dump-volume-key', ...extra], `${passphrase}\n`);
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  return JSON.parse(run.stdout) as ToolUnlocked;
}
