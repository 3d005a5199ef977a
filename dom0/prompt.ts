// Reading a passphrase or a confirmation from the user. Prompts go to the terminal (stderr), never stdout; a passphrase lives
// only in Buffers we zero, never in a JS string. On a terminal input is read in raw mode without echo; from a pipe, one line.
import type { Readable } from 'node:stream';
import { OperationError, UsageError } from '../shared/errors.ts';
import { MAX_PASSPHRASE_BYTES } from '../shared/protocol/contract.ts';
import { interruptionSignal } from './interruption.ts';
import { withStatusLineHidden } from './status-line.ts';
import { LineReader } from '../shared/line-reader.ts';
import { readRawLine, type TerminalIo } from '../shared/raw-line.ts';

/** A yes/no answer is a word. */
const MAX_ANSWER_BYTES = 64;

export type PromptIo = TerminalIo;

const defaultIo = (): PromptIo => ({ input: process.stdin, output: process.stderr });

// One reader per input stream: lines after the first stay buffered for the next prompt.
const readers = new WeakMap<Readable, LineReader>();
function lineReader(input: Readable): LineReader {
  let reader = readers.get(input);
  if (!reader) readers.set(input, (reader = new LineReader(input)));
  return reader;
}

/** Reads a passphrase: hidden on a terminal, else the next line of stdin. The caller zeroes the Buffer after use. */
export function readPassphrase(prompt: string, io: PromptIo = defaultIo()): Promise<Buffer> {
  return withStatusLineHidden(() => readPassphraseNow(prompt, io));
}

async function readPassphraseNow(prompt: string, io: PromptIo): Promise<Buffer> {
  if (io.input.isTTY) {
    try {
      return await readRawLine(io, { maxBytes: MAX_PASSPHRASE_BYTES, echo: false, prompt, signal: interruptionSignal() });
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
export function confirm(question: string, io: PromptIo = defaultIo()): Promise<void> {
  return withStatusLineHidden(() => confirmNow(question, io));
}

async function confirmNow(question: string, io: PromptIo): Promise<void> {
  // Why: a destructive command must not be confirmed by whatever happens to be piped in.
  if (!io.input.isTTY) throw new UsageError('this command destroys data and needs confirmation: use --yes to confirm without a terminal');
  const answer = (await readRawLine(io, { maxBytes: MAX_ANSWER_BYTES, echo: true, prompt: `${question} [y/N] `, signal: interruptionSignal() })).toString('utf8').trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new OperationError('not confirmed: nothing was changed');
}
