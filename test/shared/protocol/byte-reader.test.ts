// ByteReader: exact reads across chunk boundaries, progressive fills, truncation said with the field's own offset, and the bytes
// handed out zeroed where they were held.
import { describe, expect, it } from 'vitest';
import { ByteReader, StreamTruncatedError } from '../../../shared/protocol/frame.ts';

async function* streamOf(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

/** `total` bytes 0, 1, 2, ... (mod 251) cut into chunks of `size`. */
function pattern(total: number, size: number): { bytes: Buffer; chunks: Buffer[] } {
  const bytes = Buffer.alloc(total);
  for (let i = 0; i < total; i++) bytes[i] = i % 251;
  const chunks: Buffer[] = [];
  for (let at = 0; at < total; at += size) chunks.push(Buffer.from(bytes.subarray(at, at + size)));
  return { bytes, chunks };
}

describe('ByteReader', () => {
  it('reads exact counts across chunk boundaries, in order, and keeps the offset', async () => {
    const { bytes, chunks } = pattern(10_000, 777);
    const reader = new ByteReader(streamOf(chunks));
    expect(await reader.readExact(3, 'a')).toEqual(bytes.subarray(0, 3));
    expect(await reader.readExact(0, 'none')).toEqual(Buffer.alloc(0));
    expect(await reader.readExact(5000, 'b')).toEqual(bytes.subarray(3, 5003));
    expect(reader.offset).toBe(5003);
    expect(await reader.readExact(4997, 'c')).toEqual(bytes.subarray(5003));
    expect(reader.offset).toBe(10_000);
  });

  it('a 16 MiB read in 64 KiB chunks comes whole, and the chunks it came in are zeroed', async () => {
    const { bytes, chunks } = pattern(16 << 20, 65_536);
    const read = await new ByteReader(streamOf(chunks)).readExact(16 << 20, 'prefix');
    expect(read.equals(bytes)).toBe(true);
    expect(chunks.every((chunk) => chunk.every((byte) => byte === 0))).toBe(true);
  });

  it('readInto reports each chunk as it comes, so the first bytes can be used before the last arrive', async () => {
    const { bytes, chunks } = pattern(1000, 300);
    const reader = new ByteReader(streamOf([Buffer.from('xy'), ...chunks]));
    await reader.readExact(2, 'first');
    const target = Buffer.alloc(1000);
    const seen: number[] = [];
    await reader.readInto(target, 'rest', (filled) => {
      seen.push(filled);
      expect(target.subarray(0, filled)).toEqual(bytes.subarray(0, filled));
    });
    expect(seen).toEqual([300, 600, 900, 1000]);
    expect(target).toEqual(bytes);
  });

  it('a stream that ends early is a truncation at the field start, with what did come', async () => {
    const reader = new ByteReader(streamOf([Buffer.alloc(10, 1), Buffer.alloc(5, 2)]));
    await reader.readExact(4, 'head');
    const error = await reader.readExact(20, 'body').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StreamTruncatedError);
    expect(error).toMatchObject({ offset: 4, received: 11, expected: 20 });
    expect((error as Error).message).toMatch(/body at byte 4: truncated: received 11 of 20 bytes/);
  });

  it('takes text chunks as their bytes', async () => {
    async function* text(): AsyncGenerator<string | Buffer> {
      yield 'ab';
      yield Buffer.from('cd');
    }
    expect((await new ByteReader(text()).readExact(4, 'x')).toString()).toBe('abcd');
  });
});
