import { build } from 'esbuild';
import { execa } from 'execa';
import { resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { InterruptedError, OperationError, UsageError } from '../../shared/errors.ts';
import { confirm, readPassphrase, type PromptIo } from '../../dom0/prompt.ts';
import { MAX_PASSPHRASE_BYTES } from '../../shared/protocol/contract.ts';

function pipeIo(text: string | Buffer, end = true): PromptIo & { input: PassThrough; written: () => string } {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString()));
  input.write(text);
  if (end) input.end();
  return { input, output, written: () => written };
}

/** A terminal stand-in: isTTY and setRawMode, keys written after the prompt is shown. */
function ttyIo(keys: string | Buffer) {
  const io = pipeIo('', false);
  const modes: boolean[] = [];
  Object.assign(io.input, { isTTY: true, setRawMode: (raw: boolean) => modes.push(raw) });
  setImmediate(() => io.input.write(keys));
  return { ...io, modes };
}

describe('readPassphrase from a pipe', () => {
  it('reads one line per call, dropping one newline or CRLF', async () => {
    const io = pipeIo('first secret\r\nsecond\n\nlast');
    expect((await readPassphrase('p: ', io)).toString()).toBe('first secret');
    expect((await readPassphrase('p: ', io)).toString()).toBe('second');
    expect((await readPassphrase('p: ', io)).toString()).toBe('');
    expect((await readPassphrase('p: ', io)).toString()).toBe('last');
    await expect(readPassphrase('p: ', io)).rejects.toThrow(UsageError);
    expect(io.written()).toBe('');
  });

  it('keeps inner whitespace and all but one trailing newline', async () => {
    expect((await readPassphrase('p: ', pipeIo(' a b \n\n'))).toString()).toBe(' a b ');
  });

  it('fails clearly on an empty stdin', async () => {
    await expect(readPassphrase('p: ', pipeIo(''))).rejects.toThrow(/no passphrase on stdin/);
  });

  it(`refuses a line longer than ${MAX_PASSPHRASE_BYTES} bytes and goes on after it`, async () => {
    const io = pipeIo(`${'x'.repeat(MAX_PASSPHRASE_BYTES + 1)}\nnext\n`);
    await expect(readPassphrase('p: ', io)).rejects.toThrow(/longer than 512 bytes/);
    expect((await readPassphrase('p: ', io)).toString()).toBe('next');
    expect((await readPassphrase('p: ', pipeIo(`${'y'.repeat(MAX_PASSPHRASE_BYTES)}\r\n`))).length).toBe(MAX_PASSPHRASE_BYTES);
  });

  it('returns bytes as given, not re-encoded', async () => {
    expect(await readPassphrase('p: ', pipeIo(Buffer.from([0xff, 0x00, 0xc3, 0xa9, 0x0a])))).toEqual(Buffer.from([0xff, 0x00, 0xc3, 0xa9]));
  });
});

describe('readPassphrase on a terminal', () => {
  it('reads without echo in raw mode, with backspace (whole UTF-8 characters) and Ctrl-U', async () => {
    const io = ttyIo('garbage\x15pass\x7fsé\x7f\x7fs w\x1b[Dord\r');
    expect((await readPassphrase('Enter passphrase: ', io)).toString()).toBe('pass word');
    expect(io.written()).toBe('Enter passphrase: \n');
    expect(io.modes).toEqual([true, false]);
  });

  it('Ctrl-C interrupts', async () => {
    const io = ttyIo('abc\x03');
    await expect(readPassphrase('p: ', io)).rejects.toThrow(InterruptedError);
    expect(io.modes).toEqual([true, false]);
  });

  it('Ctrl-D ends the input, or fails on an empty line', async () => {
    expect((await readPassphrase('p: ', ttyIo('abc\x04'))).toString()).toBe('abc');
    await expect(readPassphrase('p: ', ttyIo('\x04'))).rejects.toThrow(OperationError);
  });

  it('refuses more than the cap', async () => {
    await expect(readPassphrase('p: ', ttyIo(`${'z'.repeat(MAX_PASSPHRASE_BYTES + 5)}\r`))).rejects.toThrow(/longer than 512 bytes/);
  });
});

describe('confirm', () => {
  it('refuses without a terminal and says how to confirm', async () => {
    await expect(confirm('Destroy?', pipeIo('y\n'))).rejects.toThrow(UsageError);
    await expect(confirm('Destroy?', pipeIo('y\n'))).rejects.toThrow(/use --yes to confirm without a terminal/);
  });

  it.each([['y\r'], ['YES\r'], [' yes \r']])('accepts %j', async (keys) => {
    const io = ttyIo(keys);
    await confirm('Destroy?', io);
    expect(io.written()).toMatch(/^Destroy\? \[y\/N\] /);
  });

  it.each([['\r'], ['n\r'], ['yep\r']])('refuses %j', async (keys) => {
    await expect(confirm('Destroy?', ttyIo(keys))).rejects.toThrow(/not confirmed/);
  });
});

describe('stdin of the real process', () => {
  const script = resolve('.cache/test/prompt-stdin.mjs');
  beforeAll(async () => {
    await build({ entryPoints: ['test/dom0/fixtures/prompt-stdin.ts'], outfile: script, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning' });
  });

  it('reads the first line and exits although the pipe stays open', async () => {
    const child = execa('node', [script], { timeout: 10_000 });
    child.stdin!.write('secret\nmore');
    const { stdout } = await child;
    child.stdin!.destroy();
    expect(stdout).toBe(Buffer.from('secret').toString('hex'));
  });
});
