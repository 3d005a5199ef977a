// Frame bodies decode to plain data only (shared/protocol/plain-msgpack.ts): hostile bodies as commented rows, each a ParseError at
// its byte from decodeFrameBody and from Channel.receive, and msgpackr's decoder never runs; every message of messages.ts
// round-trips; a peer's error frame never sets an exit code of dom0's own.
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { exitCodeOf, ParseError, UsageError } from '../../../shared/errors.ts';
import { Channel, errorFromReply } from '../../../shared/protocol/channel.ts';
import { decodeFrameBody, encodeFrame } from '../../../shared/protocol/frame.ts';
import * as messages from '../../../shared/protocol/messages.ts';
import { MAX_NESTING_DEPTH } from '../../../shared/protocol/plain-msgpack.ts';

/** Bytes from hex pieces (spaces allowed). */
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
/** A fixstr. */
const str = (text: string): string => (0xa0 + Buffer.byteLength(text)).toString(16) + Buffer.from(text).toString('hex');
/** A one-entry map `{ key: <value> }`; the value starts at byte 1 + the key's length. */
const entry = (key: string, value: string): string => `81${str(key)}${value}`;
const lengthPrefix = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const channelOver = (...chunks: Uint8Array[]): Channel => {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return new Channel(stream, new PassThrough(), 'test peer');
};
const nestedMaps = (levels: number): string => `${entry('a', '').repeat(levels)}c0`;
const nestedArrays = (levels: number): string => `${entry('a', '')}${'91'.repeat(levels)}c0`;
const deepField = (levels: number, step: string): string => `body${step.repeat(levels)}`;

interface Hostile {
  why: string;
  body: Buffer;
  /** The offending byte, counted from the start of the body. */
  at: number;
  field: string;
}

const HOSTILE: Hostile[] = [
  // msgpackr's timestamp extension (type -1, fixext 4): unpack would build a Date.
  { why: 'Date ext -1', body: hex(entry('t', 'd6ff 00000000')), at: 3, field: 'body.t' },
  // The same as a timestamp 64 (fixext 8) and 96 (ext 8 of 12 bytes).
  { why: 'Date ext -1 as fixext 8', body: hex(entry('t', 'd7ff 0000000000000000')), at: 3, field: 'body.t' },
  { why: 'Date ext -1 as ext 8', body: hex(entry('t', 'c70cff 000000000000000000000000')), at: 3, field: 'body.t' },
  // A msgpackr record definition ('r'): it would redefine what the bytes 0x40-0x7f after it mean.
  { why: 'msgpackr record 0xd4 0x72', body: hex(entry('r', 'd472 00')), at: 3, field: 'body.r' },
  { why: 'msgpackr record definition as the whole body', body: hex('d472 40'), at: 0, field: 'body' },
  // msgpackr's typed-array extension ('t', then the array type): unpack would build a Float64Array over the bytes.
  { why: 'typed-array ext', body: hex(entry('a', 'c709 74 0a 0000000000000000')), at: 3, field: 'body.a' },
  // msgpackr's Error ('e'), RegExp ('x') and Set ('s') extensions, each followed by its array.
  { why: 'Error ext', body: hex(entry('e', `d46500 92${str('Error')}${str('x')}`)), at: 3, field: 'body.e' },
  { why: 'RegExp ext', body: hex(entry('x', `d47800 92${str('.*')}${str('')}`)), at: 3, field: 'body.x' },
  { why: 'Set ext', body: hex(entry('s', 'd47300 9101')), at: 3, field: 'body.s' },
  // msgpackr's BigInt extension (0x42) and the plain fixext 2 / fixext 16 / ext 16 / ext 32 forms.
  { why: 'BigInt ext', body: hex(entry('n', 'd542 0001')), at: 3, field: 'body.n' },
  { why: 'fixext 16', body: hex(entry('n', `d801 ${'00'.repeat(16)}`)), at: 3, field: 'body.n' },
  { why: 'ext 16', body: hex(entry('n', 'c80001 01 00')), at: 3, field: 'body.n' },
  { why: 'ext 32', body: hex(entry('n', 'c900000001 01 00')), at: 3, field: 'body.n' },
  // uint64 2^53: as a number it would equal 2^53 + 1, so two readers could disagree.
  { why: 'uint64 of 2^53', body: hex(entry('n', 'cf 0020000000000000')), at: 3, field: 'body.n' },
  { why: 'uint64 of 2^64 - 1', body: hex(entry('n', 'cf ffffffffffffffff')), at: 3, field: 'body.n' },
  { why: 'int64 of -(2^53)', body: hex(entry('n', 'd3 ffe0000000000000')), at: 3, field: 'body.n' },
  // Map keys are strings: an integer, a nil, a binary key.
  { why: 'map with an integer key', body: hex('81 01 01'), at: 1, field: 'body' },
  { why: 'map with a nil key', body: hex('81 c0 01'), at: 1, field: 'body' },
  { why: 'map with a binary key', body: hex('81 c40161 01'), at: 1, field: 'body' },
  { why: 'nested map with an array key', body: hex(entry('a', '81 90 01')), at: 4, field: 'body.a' },
  // Keys that reach a prototype once the map is an object, at the top and nested.
  { why: '__proto__ key', body: hex(`81${str('__proto__')}81${str('polluted')}c3`), at: 1, field: 'body' },
  { why: 'nested __proto__ key', body: hex(entry('a', `81${str('__proto__')}80`)), at: 4, field: 'body.a' },
  { why: 'constructor key', body: hex(`81${str('constructor')}80`), at: 1, field: 'body' },
  { why: 'prototype key as str 8', body: hex(`81 d909${Buffer.from('prototype').toString('hex')} 80`), at: 1, field: 'body' },
  // The same key twice: msgpackr keeps the last, another decoder the first.
  { why: 'duplicate key', body: hex(`82${str('a')}01${str('a')}02`), at: 4, field: 'body' },
  // Depth: 100 nested maps (or arrays) are refused at the first level past the cap.
  { why: 'depth 100 maps', body: hex(nestedMaps(100)), at: 3 * MAX_NESTING_DEPTH, field: deepField(MAX_NESTING_DEPTH, '.a') },
  { why: 'depth 100 arrays', body: hex(nestedArrays(100)), at: 3 + MAX_NESTING_DEPTH - 1, field: `body.a${'[0]'.repeat(MAX_NESTING_DEPTH - 1)}` },
  // Truncated: a str 8 of 10 bytes with 3, a map announcing 2 entries with 1, a float 64 cut short, a missing value.
  { why: 'truncated string', body: hex(entry('a', 'd90a 616263')), at: 3, field: 'body.a' },
  { why: 'truncated map', body: hex(`82${str('a')}01`), at: 0, field: 'body' },
  { why: 'truncated float 64', body: hex(entry('a', 'cb 3ff0')), at: 3, field: 'body.a' },
  { why: 'key without a value', body: hex(`82${str('a')}01${str('b')}`), at: 6, field: 'body.b' },
  // Counts the remaining bytes cannot hold are refused before any allocation.
  { why: 'array 32 of 2^32 - 1 elements', body: hex(entry('a', 'dd ffffffff')), at: 3, field: 'body.a' },
  { why: 'map 32 of 2^32 - 1 entries', body: hex('df ffffffff'), at: 0, field: 'body' },
  { why: 'bin 32 of 4 GiB', body: hex(entry('a', 'c6 ffffffff 00')), at: 3, field: 'body.a' },
  // Exactly one value fills the body: trailing bytes, two messages in one frame.
  { why: 'trailing byte', body: hex('80 00'), at: 1, field: 'body' },
  { why: 'two maps in one body', body: hex(`80 ${entry('a', '01')}`), at: 1, field: 'body' },
  // The top-level value is a map: not an array, string, number, nil or binary; not nothing.
  { why: 'top-level array', body: hex('91 01'), at: 0, field: 'body' },
  { why: 'top-level string', body: hex(str('error')), at: 0, field: 'body' },
  { why: 'top-level integer', body: hex('01'), at: 0, field: 'body' },
  { why: 'top-level nil', body: hex('c0'), at: 0, field: 'body' },
  { why: 'top-level binary', body: hex('c401 00'), at: 0, field: 'body' },
  { why: 'empty body', body: hex(''), at: 0, field: 'body' },
  // 0xc1 is reserved: never valid msgpack, at the top or as a value.
  { why: 'reserved 0xc1 as a value', body: hex(entry('a', 'c1')), at: 3, field: 'body.a' },
  { why: 'reserved 0xc1 as the body', body: hex('c1'), at: 0, field: 'body' },
  // A key that is not one of ours is not echoed in the field.
  { why: 'ext under a non-ASCII key', body: hex(`81${str('k\u00e9y')}d4 00 00`), at: 6, field: 'body.?' },
];

describe('decodeFrameBody refuses what is not plain data', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(HOSTILE)('$why: a ParseError at its byte, msgpackr never decodes', ({ body, at, field }) => {
    const unpack = vi.spyOn(Packr.prototype, 'unpack');
    let thrown: unknown;
    try {
      decodeFrameBody(body);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ParseError);
    const error = thrown as ParseError;
    // Offsets count from the frame's first byte: the body follows the 4-byte length.
    expect({ format: error.format, field: error.field, offset: error.offset }).toEqual({ format: 'protocol frame', field, offset: 4 + at });
    expect(unpack).not.toHaveBeenCalled();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(HOSTILE)('$why: Channel.receive gives the same ParseError, attributed to the peer', async ({ body, at, field }) => {
    const received = channelOver(lengthPrefix(body.length), body).receive(messages.DevicePrepared);
    await expect(received).rejects.toBeInstanceOf(ParseError);
    await expect(received).rejects.toMatchObject({ format: 'protocol frame', field, offset: 4 + at, reason: expect.stringMatching(/\(from test peer\)$/) });
  });

  it('offsets count from the start of the stream: a bad second frame names its own bytes', async () => {
    const first = encodeFrame({ type: 'device-prepare' });
    const bad = hex(entry('t', 'd6ff 00000000'));
    const channel = channelOver(first, lengthPrefix(bad.length), bad);
    await channel.receive(messages.DevicePrepareRequest);
    await expect(channel.receive(messages.DevicePrepareRequest)).rejects.toMatchObject({ offset: first.length + 4 + 3 });
  });
});

const ACCEPTED: { why: string; body: Buffer; value: unknown }[] = [
  // Every plain kind at its size limits, each once.
  { why: 'the largest safe uint64 and the smallest safe int64', body: hex(`82${str('a')}cf 001fffffffffffff${str('b')}d3 ffe0000000000001`), value: { a: 2 ** 53 - 1, b: -(2 ** 53 - 1) } },
  { why: 'fixints, uint 8/16/32, int 8/16/32', body: hex(`87${str('a')}7f${str('b')}e0${str('c')}ccff${str('d')}cdffff${str('e')}ceffffffff${str('f')}d080${str('g')}d280000000`), value: { a: 127, b: -32, c: 255, d: 65535, e: 2 ** 32 - 1, f: -128, g: -(2 ** 31) } },
  { why: 'float 32 and float 64', body: hex(`82${str('a')}ca 3fc00000${str('b')}cb 3ff8000000000000`), value: { a: 1.5, b: 1.5 } },
  { why: 'nil, booleans, str 16/32, bin 16/32', body: hex(`86${str('n')}c0${str('t')}c3${str('f')}c2${str('s')}da0001 61${str('S')}db00000001 62${str('b')}c50001 07`), value: { n: null, t: true, f: false, s: 'a', S: 'b', b: Buffer.from([7]) } },
  { why: 'array 16/32, map 16/32', body: hex(`82${str('a')}dc0001 dd00000001 01${str('m')}de0001${str('k')}df00000000`), value: { a: [[1]], m: { k: {} } } },
  { why: 'a leading BOM stays in the string', body: hex(entry('a', 'a3efbbbf')), value: { a: '\ufeff' } },
  // Ill-formed UTF-8 (msgpackr writes a lone surrogate so) becomes U+FFFD: strings only meet schemas and sanitized display.
  { why: 'ill-formed UTF-8 is replaced', body: hex(`82${str('a')}a2c328${str('b')}a4 78eda080`), value: { a: '\ufffd(', b: 'x\ufffd\ufffd\ufffd' } },
  { why: 'keys named like Object.prototype members become own data', body: hex(`82${str('toString')}01${str('hasOwnProperty')}02`), value: { toString: 1, hasOwnProperty: 2 } },
  { why: `nesting of exactly ${MAX_NESTING_DEPTH}`, body: hex(nestedMaps(MAX_NESTING_DEPTH)), value: Array.from({ length: MAX_NESTING_DEPTH }).reduce<unknown>((inner) => ({ a: inner }), null) },
];

describe('decodeFrameBody accepts plain msgpack', () => {
  it.each(ACCEPTED)('$why', ({ body, value }) => {
    const decoded = decodeFrameBody(body);
    expect(decoded).toEqual(value);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('binary fields are Uint8Array copies that z.instanceof(Uint8Array) accepts', () => {
    const body = hex(entry('k', `c420 ${'07'.repeat(32)}`));
    const decoded = decodeFrameBody(body) as { k: Uint8Array };
    expect(decoded.k).toBeInstanceOf(Uint8Array);
    expect(z.instanceof(Uint8Array).safeParse(decoded.k).success).toBe(true);
    body.fill(0);
    expect(decoded.k.every((b) => b === 7)).toBe(true);
  });

  it('any plain value msgpackr encodes decodes to itself', () => {
    const key = fc.string({ maxLength: 12 }).filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k));
    const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.double().filter((x) => !Object.is(x, -0)), fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)));
    const { value } = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof({ depthSize: 'small', maxDepth: MAX_NESTING_DEPTH - 2 }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
    }));
    fc.assert(
      fc.property(fc.dictionary(key.filter((k) => k !== 'v'), value, { maxKeys: 6 }), (message) => {
        expect(decodeFrameBody(encodeFrame(message).subarray(4))).toEqual({ v: 1, ...message });
      }),
      { seed: 44, numRuns: 300 },
    );
  });

  it('encodeFrame refuses to send what a peer would refuse', () => {
    expect(() => encodeFrame({ type: 'x', when: new Date(0) })).toThrow(/not plain data/);
    expect(() => encodeFrame({ type: 'x', missing: undefined })).toThrow(/not plain data/);
    expect(() => encodeFrame({ type: 'x', big: 2n ** 60n })).toThrow(/not plain data/);
  });
});

// A sample of every message, made from its schema, so a message added to messages.ts is covered without editing this file.
const SAMPLE_STRINGS = ['split-dm-crypt-abc', 'dm-3', 'sda1', '01234567-89ab-cdef-0123-456789abcdef', 'aes-xts-plain64', 'sha256', 'a message', 'ab'.repeat(32)];
const SAMPLE_BYTES = [32, 24, 80, 48, 16, 1, 0].map((n) => Buffer.alloc(n, n));

function sampleOf(schema: z.ZodTypeAny): unknown {
  if (schema instanceof z.ZodObject) return Object.fromEntries(Object.entries(schema.shape as Record<string, z.ZodTypeAny>).map(([k, v]) => [k, sampleOf(v)]));
  if (schema instanceof z.ZodOptional) return sampleOf(schema.unwrap() as z.ZodTypeAny);
  if (schema instanceof z.ZodLiteral) return schema.value;
  if (schema instanceof z.ZodEnum) return (schema.options as unknown[]).at(-1);
  if (schema instanceof z.ZodBoolean) return true;
  if (schema instanceof z.ZodArray) return [sampleOf(schema.element as z.ZodTypeAny)];
  if (schema instanceof z.ZodUnion) return sampleOf((schema.options as z.ZodTypeAny[]).at(-1)!);
  // The largest allowed number exercises the float 64 path (2^48 sectors, 2^53 - 1 bytes).
  if (schema instanceof z.ZodNumber) return schema.maxValue ?? Math.max(schema.minValue ?? 0, 2 ** 40);
  const fit = [...SAMPLE_STRINGS, ...SAMPLE_BYTES].find((candidate) => schema.safeParse(candidate).success);
  if (fit === undefined) throw new Error(`no sample fits a ${String(schema._def.typeName)}: add one to SAMPLE_STRINGS or SAMPLE_BYTES`);
  return fit;
}

/** Every exported frame schema (an object with a literal `type`, or a union of them), with a sample per variant. */
const FRAMES: [string, z.ZodTypeAny, unknown][] = Object.entries(messages).flatMap(([name, value]): [string, z.ZodTypeAny, unknown][] => {
  if (value instanceof z.ZodDiscriminatedUnion) return (value.options as z.ZodTypeAny[]).map((option, i) => [`${name}[${i}]`, value as z.ZodTypeAny, sampleOf(option)]);
  if (value instanceof z.ZodObject && (value.shape as Record<string, unknown>).type instanceof z.ZodLiteral) return [[name, value, sampleOf(value)]];
  return [];
});

describe('every message round-trips', () => {
  it('finds the messages', () => {
    expect(FRAMES.map(([name]) => name)).toEqual(expect.arrayContaining(['ErrorReply', 'DevicePrepared', 'DeviceOpenRequest', 'SecretReply', 'Unlocked', 'FormatRequest']));
  });

  it.each(FRAMES)('%s', async (_name, schema, sample) => {
    expect(schema.safeParse(sample).success).toBe(true);
    const frame = encodeFrame(sample as Record<string, unknown>);
    expect(schema.parse(decodeFrameBody(frame.subarray(4)))).toEqual(sample);
    if ((sample as { type: string }).type !== 'error') expect(await channelOver(frame).receive(schema)).toEqual(sample);
  });
});

describe('Channel.receive gives a ParseError for any malformed frame', () => {
  it.each([
    // String() of this map would throw "Cannot convert object to primitive value".
    ['a type whose toString and valueOf are numbers', { type: { toString: 1, valueOf: 2 } }],
    ['the same with a version', { v: 1, type: { toString: 1, valueOf: 2 } }],
    ['an error frame whose kind is such a map', { type: 'error', kind: { toString: 1 }, message: 'x' }],
    ['a type that is an array', { type: [1, 2] }],
    ['a type that is bytes', { type: new Uint8Array(3) }],
    ['no type at all', { name: 'x' }],
  ])('%s', async (_why, message) => {
    const channel = channelOver(encodeFrame(message));
    await expect(channel.receive(messages.DeviceOpened)).rejects.toBeInstanceOf(ParseError);
  });

  it('a schema mismatch names the reader offset (the end of the frame)', async () => {
    const frame = encodeFrame({ type: { toString: 1, valueOf: 2 } });
    await expect(channelOver(frame).receive(messages.DeviceOpened)).rejects.toMatchObject({ format: 'protocol message', field: '?.type', offset: frame.length });
  });
});

describe("a peer's error frame sets no exit code of dom0's own", () => {
  it.each(messages.ErrorKind.options)('kind %s', async (kind) => {
    const expected = kind === 'wrong-passphrase' ? 2 : 1;
    const received = channelOver(encodeFrame({ type: 'error', kind, message: 'from the peer' })).receive(messages.DeviceOpened);
    const error: unknown = await received.then(() => undefined, (e: unknown) => e);
    expect(exitCodeOf(error)).toBe(expected);
    // A UsageError would make dom0 print "run 'qvm-block-split --help'" for a VM's complaint.
    expect(error).not.toBeInstanceOf(UsageError);
    expect(exitCodeOf(errorFromReply({ v: 1, type: 'error', kind, message: 'x' }, 'peer'))).toBe(expected);
  });
});
