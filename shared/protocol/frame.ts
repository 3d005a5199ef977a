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

/** Reads exact byte counts from a stream of chunks. */
export class ByteReader {
  private readonly iterator: AsyncIterator<Buffer | string>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Total bytes consumed, for error offsets. */
  offset = 0;

  constructor(stream: AsyncIterable<Buffer | string>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  private async fill(wanted: number): Promise<void> {
    while (this.pending.length < wanted && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    }
  }

  /** Exactly `count` bytes, or a ParseError naming what was truncated. */
  async readExact(count: number, what: string): Promise<Buffer> {
    await this.fill(count);
    if (this.pending.length < count) {
      throw new StreamTruncatedError(what, this.offset, this.pending.length, count);
    }
    const out = Buffer.from(this.pending.subarray(0, count));
    this.pending.fill(0, 0, count);
    this.pending = this.pending.subarray(count);
    this.offset += count;
    return out;
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
