// Lines of a non-terminal stdin, one at a time, as Buffers: a pipe may carry several passphrases (new one, then its
// confirmation), so what follows a line is kept for the next call. Buffers that held secret bytes are zeroed once copied.
import type { Readable } from 'node:stream';

type MaybeRefable = Readable & { ref?: () => unknown; unref?: () => unknown };

/** Lets an idle stdin stop keeping the process alive (a paused pipe still does), and takes it back for the next read. */
export function holdInput(input: Readable, hold: boolean): void {
  const refable = input as MaybeRefable;
  if (hold) refable.ref?.();
  else refable.unref?.();
}

export type LineResult = { readonly kind: 'line'; readonly bytes: Buffer } | { readonly kind: 'eof' } | { readonly kind: 'too-long' };

export class LineReader {
  private pending = Buffer.alloc(0);
  private ended = false;

  constructor(private readonly input: Readable) {}

  /** The next line without its `\n` (or `\r\n`); the last line may lack the newline. `too-long` past `maxBytes`. */
  async readLine(maxBytes: number): Promise<LineResult> {
    let tooLong = false;
    for (;;) {
      const newline = this.pending.indexOf(0x0a);
      if (newline >= 0 || this.ended) {
        if (!tooLong && newline < 0 && this.pending.length === 0) return { kind: 'eof' };
        const end = newline >= 0 ? newline : this.pending.length;
        const line = this.take(end, newline >= 0 ? end + 1 : end);
        if (!tooLong && line.length <= maxBytes) return { kind: 'line', bytes: line };
        line.fill(0);
        return { kind: 'too-long' };
      }
      // An overlong line is dropped as it arrives (it is a secret we refuse), up to its newline.
      if (this.pending.length > maxBytes + 1) {
        tooLong = true;
        this.replacePending(Buffer.alloc(0));
      }
      const chunk = await this.next();
      if (chunk === null) this.ended = true;
      else this.append(chunk);
    }
  }

  private take(end: number, consumed: number): Buffer {
    const lineEnd = end > 0 && this.pending[end - 1] === 0x0d && consumed > end ? end - 1 : end;
    const bytes = Buffer.alloc(lineEnd);
    this.pending.copy(bytes, 0, 0, lineEnd);
    this.replacePending(this.pending.subarray(consumed));
    return bytes;
  }

  private append(chunk: Buffer): void {
    const joined = Buffer.alloc(this.pending.length + chunk.length);
    this.pending.copy(joined, 0);
    chunk.copy(joined, this.pending.length);
    chunk.fill(0);
    this.replacePending(joined);
  }

  private replacePending(rest: Buffer): void {
    const copy = Buffer.from(rest);
    this.pending.fill(0);
    this.pending = copy;
  }

  /** One chunk from the stream, or null at its end; the stream is paused and unreferenced again afterwards. */
  private next(): Promise<Buffer | null> {
    const input = this.input;
    if (input.readableEnded) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const done = () => {
        input.off('data', onData).off('end', onEnd).off('error', onError);
        input.pause();
        holdInput(input, false);
      };
      const onData = (chunk: Buffer | string) => {
        done();
        resolve(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      };
      const onEnd = () => {
        done();
        resolve(null);
      };
      const onError = (error: Error) => {
        done();
        reject(error);
      };
      input.on('data', onData).on('end', onEnd).on('error', onError);
      holdInput(input, true);
      input.resume();
    });
  }
}
