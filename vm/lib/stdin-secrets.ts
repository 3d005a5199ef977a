// Secrets from standard input: passphrases as lines (cryptsetup drops the newline), read with a hard cap, returned as Buffers to zero.
import { UsageError } from '../../shared/errors.ts';
import { MAX_PASSPHRASE_BYTES } from '../../shared/protocol/contract.ts';

/** Reads all of a stream, refusing more than `maxBytes`. */
export async function readAllCapped(stream: NodeJS.ReadableStream, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    chunks.push(bytes);
    if (total > maxBytes) {
      for (const c of chunks) c.fill(0);
      throw new UsageError(`standard input is larger than ${maxBytes} bytes`);
    }
  }
  const all = Buffer.concat(chunks, total);
  for (const c of chunks) c.fill(0);
  return all;
}

/** Splits input into `count` passphrase lines (one trailing newline each dropped), refusing missing or oversized lines. */
export function passphraseLines(input: Buffer, count: number): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    if (start >= input.length) throw new UsageError(`expected ${count} passphrase line(s) on standard input, received ${i}`);
    const newline = input.indexOf(0x0a, start);
    const end = newline < 0 ? input.length : newline;
    if (end - start > MAX_PASSPHRASE_BYTES) throw new UsageError(`passphrase line ${i + 1} is longer than ${MAX_PASSPHRASE_BYTES} bytes`);
    lines.push(Buffer.from(input.subarray(start, end)));
    start = end + 1;
  }
  return lines;
}
