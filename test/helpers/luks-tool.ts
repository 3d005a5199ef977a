// Runs the bundled split-dm-crypt-luks CLI as a user would.
import { spawn } from 'node:child_process';
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

/**
 * Runs the tool on a pseudo-terminal (util-linux `script`) and types each answer when its prompt shows, as a person would,
 * one at a time. Returns everything the terminal showed.
 */
export function runLuksToolOnTerminal(args: readonly string[], answers: readonly (readonly [RegExp, string])[]): Promise<{ exitCode: number; screen: string }> {
  const quoted = ['node', LUKS_TOOL, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let next = 0;
  let seenUpTo = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('latin1');
    const answer = answers[next];
    if (answer === undefined) return;
    const match = answer[0].exec(screen.slice(seenUpTo));
    if (match === null) return;
    seenUpTo += match.index + match[0].length;
    next += 1;
    child.stdin.write(`${answer[1]}\r`);
  });
  return new Promise((resolvePromise) => child.on('close', (code) => resolvePromise({ exitCode: code ?? -1, screen })));
}
