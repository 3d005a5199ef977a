// One line typed on a terminal in raw mode, as a Buffer we can zero (never a JS string): editing keys handled, escape sequences
// (arrow keys) ignored, Ctrl-C interrupts, Ctrl-D on an empty line is end of input. Used by dom0's prompts and by the VM's
// split-dm-crypt-luks, so a passphrase is read the same careful way on both sides. Streams only: the caller passes the terminal.
import type { Readable, Writable } from 'node:stream';
import { InterruptedError, OperationError } from './errors.ts';
import { holdInput } from './line-reader.ts';

export interface TerminalIo {
  readonly input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: Writable;
}

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = [0x08, 0x7f];
const CTRL_U = 0x15;
const ESC = 0x1b;

export interface RawLineOptions {
  readonly maxBytes: number;
  /** Show what is typed (answers to questions); never for secrets. */
  readonly echo: boolean;
  /** Written once the terminal no longer echoes, so nothing typed ahead of the prompt is shown either. */
  readonly prompt: string;
  /** Aborting it (dom0's Ctrl-C handling) ends the read as interrupted. */
  readonly signal?: AbortSignal;
}

/** Reads one line of at most `maxBytes` bytes. The terminal is back in cooked mode and the input paused whatever happens. */
export function readRawLine(io: TerminalIo, options: RawLineOptions): Promise<Buffer> {
  const { input, output } = io;
  const { maxBytes, echo, signal } = options;
  const line = Buffer.alloc(maxBytes);
  let length = 0;
  let overflow = false;
  let inEscape = false;
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
    output.write(options.prompt);
    holdInput(input, true);
    input.on('data', onData);
    input.resume();
  });
}

