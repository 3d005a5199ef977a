// The only reader of frame bodies: a strict decoder for the plain subset of msgpack (nil, booleans, safe integers, floats,
// UTF-8 strings, binary, arrays and string-keyed maps), written out by hand.
// Why not msgpackr's unpack: it builds whatever the bytes name — Date, RegExp, Error, Set, typed arrays, BigInt, and record
// definitions that reinterpret the bytes after them — before any schema looks at the value, and a compromised DisposableVM writes
// these bytes. Here an extension type, a record or anything outside the subset is a ParseError naming the byte, and what comes
// out is only data: strings, numbers, booleans, null, Buffers, arrays and objects with none of the keys that reach a prototype.
import { InternalError, ParseError } from '../errors.ts';

/** Nesting a message needs: the frame map, a sealed box inside it. Deeper input is refused before it costs stack. */
export const MAX_NESTING_DEPTH = 16;
/** Keys that would reach or shadow a prototype once a map becomes an object; no message has them. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** A key shown in error fields only when it looks like one of ours; the rest are the peer's text. */
const SHOWABLE_KEY = /^[A-Za-z][A-Za-z0-9]{0,31}$/;

export type PlainValue = null | boolean | number | string | Buffer | PlainValue[] | PlainMap;
export interface PlainMap {
  [key: string]: PlainValue;
}

// Not fatal: ill-formed UTF-8 becomes U+FFFD, as a JavaScript string with a lone surrogate (an error text cut at 600 code units)
// is encoded by msgpackr as such bytes; strings only reach schemas (regexes, enums) and sanitized display, so nothing depends on
// them being well formed. ignoreBOM: a leading U+FEFF stays in the string instead of vanishing silently.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The decoding state: the bytes, where we are, and the path to the value being read, for error fields. */
class Reader {
  position = 0;
  readonly path: (string | number)[] = ['body'];
  private readonly view: DataView;

  constructor(
    readonly bytes: Buffer,
    /** Where `bytes` starts in the stream, so offsets name the byte the peer sent. */
    private readonly baseOffset: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(at: number, reason: string, field = this.field()): never {
    throw new ParseError('protocol frame', field, this.baseOffset + at, reason);
  }

  field(): string {
    return this.path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  /** Checks that `count` bytes remain for what started at `at`, before anything is read or allocated for them. */
  need(count: number, at: number, what: string): void {
    if (count > this.remaining) this.fail(at, `truncated: ${what} needs ${count} more bytes, ${this.remaining} remain`);
  }

  /** An unsigned big-endian length or value of 1, 2 or 4 bytes. */
  uint(size: 1 | 2 | 4, at: number, what: string): number {
    this.need(size, at, what);
    const offset = this.position;
    this.position += size;
    return size === 1 ? this.view.getUint8(offset) : size === 2 ? this.view.getUint16(offset) : this.view.getUint32(offset);
  }

  take(count: number, at: number, what: string): Buffer {
    this.need(count, at, what);
    const slice = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return slice;
  }

  dataView(size: number, at: number, what: string): DataView {
    this.need(size, at, what);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.position, size);
    this.position += size;
    return view;
  }
}

function isMapTag(tag: number): boolean {
  return (tag >= 0x80 && tag <= 0x8f) || tag === 0xde || tag === 0xdf;
}

/** Decodes a frame body that must hold exactly one msgpack map of plain data; anything else is a ParseError at its byte. */
export function decodePlainMsgpack(body: Uint8Array, baseOffset = 0): PlainMap {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const reader = new Reader(bytes, baseOffset);
  if (bytes.length === 0) reader.fail(0, 'empty: a message map was expected');
  // The frame is a message: a map at the top, so the schemas always see an object and never a bare string or array.
  if (!isMapTag(bytes[0]!)) reader.fail(0, `the top-level value must be a map, found type byte 0x${hex(bytes[0]!)}`);
  const value = readValue(reader, 0) as PlainMap;
  if (reader.remaining !== 0) reader.fail(reader.position, `${reader.remaining} trailing bytes after the message`, 'body');
  return value;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

function readValue(reader: Reader, depth: number): PlainValue {
  const at = reader.position;
  const tag = reader.uint(1, at, 'a value');
  if (tag <= 0x7f) return tag;
  if (tag >= 0xe0) return tag - 0x100;
  if (tag <= 0x8f) return readMap(reader, tag & 0x0f, at, depth);
  if (tag <= 0x9f) return readArray(reader, tag & 0x0f, at, depth);
  if (tag <= 0xbf) return readString(reader, tag & 0x1f, at);
  switch (tag) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return readBinary(reader, reader.uint(1, at, 'bin 8 length'), at);
    case 0xc5: return readBinary(reader, reader.uint(2, at, 'bin 16 length'), at);
    case 0xc6: return readBinary(reader, reader.uint(4, at, 'bin 32 length'), at);
    case 0xca: return reader.dataView(4, at, 'float 32').getFloat32(0);
    case 0xcb: return reader.dataView(8, at, 'float 64').getFloat64(0);
    case 0xcc: return reader.uint(1, at, 'uint 8');
    case 0xcd: return reader.uint(2, at, 'uint 16');
    case 0xce: return reader.uint(4, at, 'uint 32');
    case 0xcf: return safeInteger(reader, reader.dataView(8, at, 'uint 64').getBigUint64(0), at);
    case 0xd0: return reader.dataView(1, at, 'int 8').getInt8(0);
    case 0xd1: return reader.dataView(2, at, 'int 16').getInt16(0);
    case 0xd2: return reader.dataView(4, at, 'int 32').getInt32(0);
    case 0xd3: return safeInteger(reader, reader.dataView(8, at, 'int 64').getBigInt64(0), at);
    case 0xd9: return readString(reader, reader.uint(1, at, 'str 8 length'), at);
    case 0xda: return readString(reader, reader.uint(2, at, 'str 16 length'), at);
    case 0xdb: return readString(reader, reader.uint(4, at, 'str 32 length'), at);
    case 0xdc: return readArray(reader, reader.uint(2, at, 'array 16 length'), at, depth);
    case 0xdd: return readArray(reader, reader.uint(4, at, 'array 32 length'), at, depth);
    case 0xde: return readMap(reader, reader.uint(2, at, 'map 16 length'), at, depth);
    case 0xdf: return readMap(reader, reader.uint(4, at, 'map 32 length'), at, depth);
    case 0xc1: return reader.fail(at, 'the reserved type byte 0xc1 is never valid msgpack');
    // ext 8/16/32 and fixext 1/2/4/8/16: in msgpackr a Date, a record definition, a typed array, an Error, a BigInt...
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
      return reader.fail(at, `extension type byte 0x${hex(tag)} refused: frames carry plain data only`);
    default: throw new InternalError(`msgpack type byte 0x${hex(tag)} fell through the decoder`);
  }
}

/** A 64-bit integer only when a JavaScript number holds it exactly: past 2^53 two peers could read two different values. */
function safeInteger(reader: Reader, value: bigint, at: number): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) reader.fail(at, 'a 64-bit integer beyond 2^53 - 1');
  return Number(value);
}

function readString(reader: Reader, length: number, at: number): string {
  return utf8.decode(reader.take(length, at, 'a string'));
}

/** A copy, so the message owns its bytes and keeps no view of the whole frame. */
function readBinary(reader: Reader, length: number, at: number): Buffer {
  return Buffer.from(reader.take(length, at, 'binary data'));
}

function enter(reader: Reader, depth: number, at: number): number {
  if (depth + 1 > MAX_NESTING_DEPTH) reader.fail(at, `nested deeper than ${MAX_NESTING_DEPTH} levels`);
  return depth + 1;
}

function readArray(reader: Reader, count: number, at: number, depth: number): PlainValue[] {
  const inner = enter(reader, depth, at);
  // Every element takes at least one byte: a count the rest of the body cannot hold is refused before any work.
  reader.need(count, at, `an array of ${count} elements`);
  const items: PlainValue[] = [];
  for (let i = 0; i < count; i++) {
    reader.path.push(i);
    items.push(readValue(reader, inner));
    reader.path.pop();
  }
  return items;
}

function readMap(reader: Reader, count: number, at: number, depth: number): PlainMap {
  const inner = enter(reader, depth, at);
  reader.need(count * 2, at, `a map of ${count} entries`);
  const map: PlainMap = {};
  for (let i = 0; i < count; i++) {
    const keyAt = reader.position;
    const key = readKey(reader);
    const shown = SHOWABLE_KEY.test(key) ? key : '?';
    // A key seen twice: which value counts would depend on the decoder, so neither does.
    if (Object.hasOwn(map, key)) reader.fail(keyAt, `the map key '${shown}' appears twice`);
    reader.path.push(shown);
    const value = readValue(reader, inner);
    reader.path.pop();
    // defineProperty, not assignment: nothing on Object.prototype (a setter) can intercept the write.
    Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return map;
}

/** A map key: a string, and not one that reaches a prototype. */
function readKey(reader: Reader): string {
  const at = reader.position;
  const tag = reader.uint(1, at, 'a map key');
  let key: string;
  if (tag >= 0xa0 && tag <= 0xbf) key = readString(reader, tag & 0x1f, at);
  else if (tag === 0xd9) key = readString(reader, reader.uint(1, at, 'str 8 length'), at);
  else if (tag === 0xda) key = readString(reader, reader.uint(2, at, 'str 16 length'), at);
  else if (tag === 0xdb) key = readString(reader, reader.uint(4, at, 'str 32 length'), at);
  else return reader.fail(at, `map keys must be strings, found type byte 0x${hex(tag)}`);
  if (FORBIDDEN_KEYS.has(key)) reader.fail(at, `the map key '${key}' is refused`);
  return key;
}
