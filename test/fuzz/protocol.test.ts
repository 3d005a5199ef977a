// Property tests of every message decoder: random, structured and mutated byte streams read through Channel.receive with each
// schema of shared/protocol/messages.ts. The outcome is a message the schema accepts or a typed error; a frame longer than
// the cap is refused before its body is awaited; nothing a peer sends can reach Object.prototype.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ParseError } from '../../shared/errors.ts';
import { Channel } from '../../shared/protocol/channel.ts';
import { decodeFrameBody, encodeFrame } from '../../shared/protocol/frame.ts';
import * as messages from '../../shared/protocol/messages.ts';
import { count, FUZZ_TIMEOUT_MS, fuzzRuns, SEED, summary, typedOrValue, typedOrValueAsync } from './runs.ts';

afterAll(() => console.log(`fuzz executions: ${summary()}`));
// Weights (see runs.ts): a receive costs about a millisecond, a structured frame several; `npm run fuzz` stays within minutes.

/** Runs `work`; its value, or undefined for a ParseError (the only failure a decoder may have: not even another typed error). */
function plainOrParseError<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return undefined;
  }
}

/** Only null, booleans, numbers, strings, byte arrays, arrays and ordinary objects without prototype keys: nothing a peer built. */
function expectPlain(value: unknown): void {
  if (value === null || ['boolean', 'number', 'string'].includes(typeof value)) return;
  if (value instanceof Uint8Array) return void expect(Object.getPrototypeOf(value)).toBe(Buffer.prototype);
  if (Array.isArray(value)) return value.forEach(expectPlain);
  expect(typeof value).toBe('object');
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  for (const key of ['__proto__', 'constructor', 'prototype']) expect(Object.hasOwn(value as object, key)).toBe(false);
  Object.values(value as object).forEach(expectPlain);
}

const SCHEMAS: [string, z.ZodTypeAny][] = Object.entries(messages).flatMap(([name, value]): [string, z.ZodTypeAny][] => (value instanceof z.ZodType ? [[name, value]] : []));
const sink = { write: () => true };

/** A stream of the given chunks, then its end. */
async function* chunks(parts: readonly Uint8Array[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

/** Splits `bytes` at the given cut points (as a pipe may deliver them). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.subarray(last, p));
    last = p;
  }
  parts.push(bytes.subarray(last));
  return parts;
}

/** Receives with one schema (chosen by the case), then as counted bytes; a value must really satisfy its schema. */
async function receiveAll(parts: readonly Uint8Array[], which: number): Promise<void> {
  const [name, schema] = SCHEMAS[which % SCHEMAS.length]!;
  const value = await typedOrValueAsync(() => new Channel(chunks(parts), sink, 'fuzz peer').receive(schema, messages.MAX_CONTROL_FRAME_BYTES));
  count('protocol-receive');
  if (value !== undefined) expect(schema.safeParse(value).success, name).toBe(true);
  await typedOrValueAsync(() => new Channel(chunks(parts), sink, 'fuzz peer').receiveBytes('fuzz bytes', undefined, 4096));
  count('protocol-receive-bytes');
}
const schemaIndex = fc.nat();

// Frames close to real ones: a known type, the fields messages have, values of every msgpack kind.
const FIELD_NAMES = ['v', 'type', 'kind', 'message', 'publicKey', 'partitionScan', 'luksType', 'scannedPartitions', 'length', 'name', 'sealedKey', 'key', 'cipher', 'keyBytes', 'payloadOffset', 'sectorSize', 'readOnly', 'device', 'sizeSectors', 'attempts', 'done', 'total', 'bytes', 'source', 'secretKind', 'attempt', 'sealed', 'keyslot', 'hash', 'iterTimeMs', 'forcedIterations', 'start', 'uuid', 'activeKeyslots', 'senderPublicKey', 'nonce', 'box', 'devicePublicKey', '__proto__', 'constructor'];
const TYPES = ['error', 'device-prepared', 'source-checked', 'bytes', 'device-opened', 'device-closed', 'progress', 'device-wiped', 'header-written', 'secret-request', 'secret', 'unlocked', 'shell-ready', 'header-summary', 'unlock-request', 'format-request', 'device-open'];
const leaf = fc.oneof(
  fc.constantFrom(1, 0, -1, 32, 48, 64, 80, 512, 4096, 2 ** 48, 2 ** 53, Number.NaN, Infinity, 1.5, true, false, null),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...TYPES),
  fc.uint8Array({ maxLength: 100 }),
  fc.constantFrom(new Uint8Array(32), new Uint8Array(24), new Uint8Array(48), new Uint8Array(80)),
);
const { value: structured } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.constantFrom(...FIELD_NAMES), tie('value'), { maxKeys: 8 })),
}));
const message = fc.record({ type: fc.constantFrom(...TYPES), fields: fc.dictionary(fc.constantFrom(...FIELD_NAMES), structured, { maxKeys: 8 }) });

describe('message decoders', () => {
  it('random bytes in random chunks: a valid message or a typed error, for every schema', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 4 }), schemaIndex, async (bytes, cuts, which) => receiveAll(split(bytes, cuts), which)),
      { seed: SEED, numRuns: fuzzRuns(0.25) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('random bytes behind a plausible length prefix', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -4, max: 4 }), schemaIndex, async (body, skew, which) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(Math.max(0, body.length + skew));
        await receiveAll([prefix, body], which);
      }),
      { seed: SEED, numRuns: fuzzRuns(0.25) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('structured frames of known types with random fields', async () => {
    await fc.assert(
      fc.asyncProperty(message, fc.boolean(), schemaIndex, async ({ type, fields }, withVersion, which) => {
        const frame = typedOrValue(() => encodeFrame({ ...fields, type, ...(withVersion ? { v: 1 } : {}) }));
        if (frame) await receiveAll([frame], which);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: SEED, numRuns: fuzzRuns(0.05) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('mutated valid frames', async () => {
    const valid = [
      encodeFrame({ type: 'device-opened', name: 'split-dm-crypt-abc', device: 'dm-3', sizeSectors: 100, readOnly: false, pin: 'ab'.repeat(32) }),
      encodeFrame({ type: 'secret-request', publicKey: new Uint8Array(32), kind: 'passphrase', attempt: 1 }),
      encodeFrame({ type: 'unlocked', cipher: 'aes-xts-plain64', keyBytes: 64, payloadOffset: 4096, sectorSize: 512, keyslot: 0, sealedKey: { senderPublicKey: new Uint8Array(32), nonce: new Uint8Array(24), box: new Uint8Array(80) } }),
      encodeFrame({ type: 'device-open', name: 'split-dm-crypt-abc', key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, payloadOffset: 32768, sectorSize: 4096, readOnly: false, sealedKey: { senderPublicKey: new Uint8Array(32), nonce: new Uint8Array(24), box: new Uint8Array(48) } }),
      encodeFrame({ type: 'error', kind: 'parse', message: 'bad header' }),
      encodeFrame({ type: 'bytes', length: 2068480 }),
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat(valid.length - 1), fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { minLength: 1, maxLength: 4 }), fc.nat(), schemaIndex, async (base, edits, cut, which) => {
        const frame = Buffer.from(valid[base]!);
        for (const { at, value } of edits) frame[at % frame.length] = value;
        await receiveAll([frame.subarray(0, frame.length - (cut % 3 === 0 ? cut % frame.length : 0))], which);
      }),
      { seed: SEED, numRuns: fuzzRuns(0.2) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('decodeFrameBody: plain data or ParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (body) => {
        const value = plainOrParseError(() => decodeFrameBody(body));
        if (value !== undefined) expectPlain(value);
        count('protocol-decode-body');
      }),
      { seed: SEED, numRuns: fuzzRuns(0.25) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('decodeFrameBody on mutated bodies of real messages: plain data or ParseError', () => {
    const bodies = [
      encodeFrame({ type: 'unlocked', keyslot: 0, sealedKey: { senderPublicKey: new Uint8Array(32), nonce: new Uint8Array(24), box: new Uint8Array(80) } }),
      encodeFrame({ type: 'error', kind: 'parse', message: 'bad header' }),
      encodeFrame({ type: 'source-described', diskBytes: 2 ** 53 - 1, readOnly: true, scannedPartitions: ['sda1', 'sda2'] }),
    ].map((frame) => frame.subarray(4));
    fc.assert(
      // Overwrite bytes with any value, favouring the type bytes of extensions, records, 64-bit integers and containers.
      fc.property(fc.nat(bodies.length - 1), fc.array(fc.record({ at: fc.nat(), value: fc.oneof(fc.nat(255), fc.constantFrom(0xc1, 0xc7, 0xd4, 0xd6, 0xcf, 0xd3, 0xdd, 0xdf, 0x72, 0xff)) }), { minLength: 1, maxLength: 4 }), (base, edits) => {
        const body = Buffer.from(bodies[base]!);
        for (const { at, value } of edits) body[at % body.length] = value;
        const value = plainOrParseError(() => decodeFrameBody(body));
        if (value !== undefined) expectPlain(value);
        count('protocol-decode-mutated');
      }),
      { seed: SEED, numRuns: fuzzRuns(0.25) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('a length over the cap is refused before any byte of the body is awaited', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: messages.MAX_CONTROL_FRAME_BYTES + 1, max: 0xffffffff }), async (length) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(length);
        // The stream never ends after the prefix: a reader that waited for the body would hang here.
        async function* stalled(): AsyncGenerator<Buffer> {
          yield prefix;
          await new Promise(() => undefined);
        }
        await expect(new Channel(stalled(), sink, 'fuzz peer').receive(messages.DeviceOpened)).rejects.toBeInstanceOf(ParseError);
        count('protocol-cap');
      }),
      { seed: SEED, numRuns: fuzzRuns(0.1) },
    );
  }, FUZZ_TIMEOUT_MS);
});
