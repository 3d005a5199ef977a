// Runs the bundled split-dm-crypt-luks CLI as a user would.
import { execa } from 'execa';
import { resolve } from 'node:path';

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
