// Reading a passphrase or a confirmation from the user. Prompts go to the terminal (stderr), never stdout; a passphrase lives
// only in Buffers we zero, never in a JS string. On a terminal input is read in raw mode without echo; from a pipe, one line.
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, OperationError, UsageError } from '../shared/errors.ts';
import { MAX_PASSPHRASE_BYTES } from '../shared/protocol/contract.ts';
import { interruptionSignal } from './interruption.ts';
import { holdInput, LineReader } from './line-reader.ts';

/** A yes/no answer is a word. */
const MAX_ANSWER_BYTES = 64;

export interface PromptIo {
  readonly input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: Writable;
}

const defaultIo = (): PromptIo => ({ input: process.stdin, output: process.stderr });

// One reader per input stream: lines after the first stay buffered for the next prompt.
const readers = new WeakMap<Readable, LineReader>();
function lineReader(input: Readable): LineReader {
  let reader = readers.get(input);
  if (!reader) readers.set(input, (reader = new LineReader(input)));
  return reader;
}

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = [0x08, 0x7f];
const CTRL_U = 0x15;
const ESC = 0x1b;

/** A line typed on a terminal in raw mode: editing keys handled, escape sequences (arrows) ignored, Ctrl-C interrupts. */
function readRaw(io: PromptIo, maxBytes: number, echo: boolean): Promise<Buffer> {
  const { input, output } = io;
  const line = Buffer.alloc(maxBytes);
  let length = 0;
  let overflow = false;
  let inEscape = false;
  const signal = interruptionSignal();
  return new Promise<Buffer>((resolve, reject) => {
    const finish = (error: Error | undefined) => {
      input.off('data', onData);
      signal?.removeEventListener('abort', onAbort);
      input.setRawMode?.(false);
      input.pause();
      holdInput(input, false);
      output.write('\n');
      if (error) {
        line.fill(0);
        reject(error);
        return;
      }
      const result = Buffer.alloc(length);
      line.copy(result, 0, 0, length);
      line.fill(0);
      resolve(result);
    };
    const onAbort = () => finish(new InterruptedError('interrupted at the prompt'));
    const onKey = (byte: number): boolean => {
      if (inEscape) {
        // CSI sequences end with a byte in 0x40-0x7e; "ESC [" itself continues.
        if (byte !== 0x5b && byte >= 0x40 && byte <= 0x7e) inEscape = false;
        return false;
      }
      if (byte === CTRL_C) {
        finish(new InterruptedError('interrupted at the prompt'));
        return true;
      }
      if (byte === 0x0d || byte === 0x0a || byte === CTRL_D) {
        const empty = byte === CTRL_D && length === 0 && !overflow;
        finish(empty ? new OperationError('no input given (end of input)') : overflow ? new OperationError(`input longer than ${maxBytes} bytes refused`) : undefined);
        return true;
      }
      if (byte === ESC) inEscape = true;
      else if (BACKSPACE.includes(byte)) {
        // Remove one whole UTF-8 character: continuation bytes are 10xxxxxx.
        while (length > 0 && (line[--length]! & 0xc0) === 0x80);
        if (echo) output.write('\b \b');
      } else if (byte === CTRL_U) {
        line.fill(0, 0, length);
        length = 0;
      } else if (byte >= 0x20) {
        if (length === maxBytes) overflow = true;
        else line[length++] = byte;
        if (echo && byte < 0x7f) output.write(String.fromCharCode(byte));
      }
      return false;
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      for (const byte of bytes) if (onKey(byte)) break;
      bytes.fill(0);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    input.setRawMode?.(true);
    holdInput(input, true);
    input.on('data', onData);
    input.resume();
  });
}

/** Reads a passphrase: hidden on a terminal, else the next line of stdin. The caller zeroes the Buffer after use. */
export async function readPassphrase(prompt: string, io: PromptIo = defaultIo()): Promise<Buffer> {
  if (io.input.isTTY) {
    io.output.write(prompt);
    try {
      return await readRaw(io, MAX_PASSPHRASE_BYTES, false);
    } catch (error) {
      if (error instanceof OperationError) throw new OperationError(`passphrase: ${error.message}`);
      throw error;
    }
  }
  const result = await lineReader(io.input).readLine(MAX_PASSPHRASE_BYTES);
  if (result.kind === 'eof') throw new UsageError('no passphrase on stdin: it is empty or has no more lines (type it on a terminal, or pipe one line per prompt)');
  if (result.kind === 'too-long') throw new UsageError(`the passphrase line on stdin is longer than ${MAX_PASSPHRASE_BYTES} bytes`);
  return result.bytes;
}

/** Asks `question` on the terminal and returns if the answer is yes; anything else is a refusal (OperationError). */
export async function confirm(question: string, io: PromptIo = defaultIo()): Promise<void> {
  // Why: a destructive command must not be confirmed by whatever happens to be piped in.
  if (!io.input.isTTY) throw new UsageError('this command destroys data and needs confirmation: use --yes to confirm without a terminal');
  io.output.write(`${question} [y/N] `);
  const answer = (await readRaw(io, MAX_ANSWER_BYTES, true)).toString('utf8').trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new OperationError('not confirmed: nothing was changed');
}
