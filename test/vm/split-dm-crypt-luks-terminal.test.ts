// split-dm-crypt-luks on a terminal asks like cryptsetup: one prompt per passphrase on the terminal, nothing echoed, a new
// passphrase typed twice. Standard input from a pipe keeps working for scripts (the other CLI tests).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupFormat, cryptsetupTestPassphrase } from '../helpers/cryptsetup.ts';
import { runLuksToolOnTerminal } from '../helpers/luks-tool.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { writeFileSync } from 'node:fs';

const dir = useTmpDir();
const FAST = ['--type', 'luks1', '--pbkdf-force-iterations', '1000'];

function blankImage(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(4 * 1024 * 1024));
  return path;
}

describe('split-dm-crypt-luks on a terminal', { timeout: 60_000 }, () => {
  it('format asks for the passphrase and its verification without echo; cryptsetup opens the result with it', async () => {
    const path = blankImage('format.img');
    const run = await runLuksToolOnTerminal(['format', path, ...FAST], [
      [/Enter passphrase for [^\n]*format\.img: /, 'typed secret'],
      [/Verify passphrase: /, 'typed secret'],
    ]);
    expect(run.exitCode, run.screen).toBe(0);
    expect(run.screen).not.toContain('typed secret');
    expect(await cryptsetupTestPassphrase(path, 'typed secret')).toBe(0);
  });

  it('a verification that differs changes nothing and says so', async () => {
    const path = blankImage('mismatch.img');
    const run = await runLuksToolOnTerminal(['format', path, ...FAST], [
      [/Enter passphrase for [^\n]*: /, 'first try'],
      [/Verify passphrase: /, 'first tyr'],
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.screen).toMatch(/error: passphrases do not match: nothing was changed/);
    expect(run.screen).not.toMatch(/first t/);
    expect(readFileSync(path).subarray(0, 4096).every((byte) => byte === 0)).toBe(true);
  });

  it('unlock and change-key ask with cryptsetup\'s prompts, in order', async () => {
    const path = join(dir, 'change.img');
    await cryptsetupFormat(path, 'old words');
    const unlock = await runLuksToolOnTerminal(['unlock', path], [[/Enter passphrase for [^\n]*change\.img: /, 'old words']]);
    expect(unlock.exitCode, unlock.screen).toBe(0);
    expect(unlock.screen).toMatch(/"keyslot":0/);
    const change = await runLuksToolOnTerminal(['change-key', path, '--pbkdf-force-iterations', '1000'], [
      [/Enter passphrase to be changed: /, 'old words'],
      [/Enter new passphrase: /, 'new words'],
      [/Verify passphrase: /, 'new words'],
    ]);
    expect(change.exitCode, change.screen).toBe(0);
    expect(change.screen).not.toMatch(/old words|new words/);
    expect(await cryptsetupTestPassphrase(path, 'new words')).toBeDefined();
    expect(await cryptsetupTestPassphrase(path, 'old words')).toBeUndefined();
  });

  it('Ctrl-C at the prompt stops with nothing written', async () => {
    const path = blankImage('interrupted.img');
    const run = await runLuksToolOnTerminal(['format', path, ...FAST], [[/Enter passphrase for [^\n]*: /, 'half\u0003']]);
    expect(run.exitCode).not.toBe(0);
    expect(run.screen).toMatch(/interrupted/);
    expect(readFileSync(path).subarray(0, 4096).every((byte) => byte === 0)).toBe(true);
  });
});
