// Length-prefixed frames: 4-byte big-endian length, then a msgpack map with a protocol version; and counted raw byte runs.
// The reader checks each length against the cap the caller expects before reading a single byte of the body.
import { Packr } from 'msgpackr';
import { InternalError, ParseError } from '../errors.ts';
import { decodePlainMsgpack } from './plain-msgpack.ts';

export const PROTOCOL_VERSION = 1;
const LENGTH_BYTES = 4;

// msgpackr only encodes: plain maps, no records or extension types. Decoding is plain-msgpack.ts alone (see there why).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Encodes one message as a frame. */
export function encodeFrame(message: Readonly<Record<string, unknown>>): Buffer {
  const body = packr.pack({ v: PROTOCOL_VERSION, ...message });
  // What we send must be what a peer accepts: msgpackr would quietly write `undefined`, a Date or a bigint as an extension or a
  // 64-bit integer, which the peer refuses. Checking here turns that bug into an error at the sender, naming the field.
  try {
    decodePlainMsgpack(body);
  } catch (error) {
    if (error instanceof ParseError) throw new InternalError(`a message of type '${typeof message.type === 'string' ? message.type : '?'}' is not plain data: ${error.message}`);
    throw error;
  }
  const frame = Buffer.alloc(LENGTH_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, LENGTH_BYTES);
  return frame;
}

/**
 * Decodes a frame body (without its length prefix) into an untrusted value (a map of plain data); only schemas turn it into a message.
 * `bodyOffset` is where the body starts in the stream, for error offsets (by default: right after the first length prefix).
 */
export function decodeFrameBody(body: Uint8Array, bodyOffset = LENGTH_BYTES): unknown {
  return decodePlainMsgpack(body, bodyOffset);
}

/**
 * Reads exact byte counts from a stream of chunks. Chunks are kept as they came and copied once, into what a read returns: a
 * large read (a 16 MiB header prefix in 64 KiB pipe chunks) costs one copy, not one growing concatenation per chunk. Bytes
 * handed out are zeroed where they were held.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Buffer | string>;
  /** Chunks received and not yet read, in order; `head` bytes of the first are read already. */
  private readonly chunks: Buffer[] = [];
  private head = 0;
  private ended = false;
  /** Total bytes consumed, for error offsets. */
  offset = 0;

  constructor(stream: AsyncIterable<Buffer | string>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** Waits for the stream's next chunk; false once it has ended. */
  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    if (chunk.length > 0) this.chunks.push(chunk);
    return true;
  }

  /** Moves buffered bytes into `target` from `filled` on, as many as it still lacks; returns how far it is filled now. */
  private take(target: Buffer, filled: number): number {
    let at = filled;
    while (at < target.length && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.head, target.length - at);
      chunk.copy(target, at, this.head, this.head + count);
      chunk.fill(0, this.head, this.head + count);
      this.head += count;
      at += count;
      this.offset += count;
      if (this.head === chunk.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return at;
  }

  /** Exactly `count` bytes, or a ParseError naming what was truncated. */
  async readExact(count: number, what: string): Promise<Buffer> {
    const out = Buffer.alloc(count);
    try {
      await this.readInto(out, what);
    } catch (error) {
      out.fill(0);
      throw error;
    }
    return out;
  }

  /**
   * Fills `target` with the stream's next `target.length` bytes, telling `onProgress` how many are in after each chunk (so a
   * consumer can use the first bytes while the rest still come), or a ParseError naming what was truncated.
   */
  async readInto(target: Buffer, what: string, onProgress?: (filled: number) => void): Promise<void> {
    const start = this.offset;
    let filled = this.take(target, 0);
    if (filled > 0) onProgress?.(filled);
    while (filled < target.length) {
      if (!(await this.pull())) throw new StreamTruncatedError(what, start, filled, target.length);
      const before = filled;
      filled = this.take(target, filled);
      if (filled > before) onProgress?.(filled);
    }
  }
}

/** The stream ended before `expected` bytes of `field` came: `received` is how many did (0 at offset 0: the peer sent nothing). */
export class StreamTruncatedError extends ParseError {
  constructor(
    field: string,
    offset: number,
    readonly received: number,
    readonly expected: number,
    reason = `truncated: received ${received} of ${expected} bytes`,
  ) {
    super('protocol stream', field, offset, reason);
  }

  override attributedTo(peer: string): StreamTruncatedError {
    return new StreamTruncatedError(this.field, this.offset, this.received, this.expected, `${this.reason} (from ${peer})`);
  }
}

/** Reads one frame whose body may be at most `maxBodyBytes`; the cap is checked before the body is read. */
export async function readFrame(reader: ByteReader, maxBodyBytes: number): Promise<unknown> {
  const prefix = await reader.readExact(LENGTH_BYTES, 'frame length');
  const length = prefix.readUInt32BE(0);
  if (length > maxBodyBytes) {
    throw new ParseError('protocol frame', 'length', reader.offset - LENGTH_BYTES, `${length} bytes exceed the cap of ${maxBodyBytes} for this message`);
  }
  // Not zeroed after decoding: frames carry only sealed or public data (binary fields are decoded as copies anyway).
  const body = await reader.readExact(length, 'frame body');
  return decodeFrameBody(body, reader.offset - length);
}
