import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OperationError, ParseError, ProtocolError, SplitError, WrongPassphraseError } from '../../../shared/errors.ts';
import { Channel, sanitizePeerText } from '../../../shared/protocol/channel.ts';
import { encodeFrame, StreamTruncatedError } from '../../../shared/protocol/frame.ts';
import { DeviceOpened, SecretReply, SealedVolumeKey, Unlocked } from '../../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed, sealTo } from '../../../shared/seal.ts';

/** A channel reading the given bytes. */
function channelOver(...chunks: Uint8Array[]): Channel {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return new Channel(stream, new PassThrough(), 'test peer');
}

const lengthPrefix = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('frames', () => {
  it('round-trips a message through encode and a schema', async () => {
    const message = { type: 'device-opened', name: 'split-dm-crypt-abc', device: 'dm-3', sizeSectors: 100, readOnly: false, pin: 'ab'.repeat(32) };
    expect(await channelOver(encodeFrame(message)).receive(DeviceOpened)).toEqual({ v: 1, ...message });
  });

  it('refuses a length over the cap before reading the body', async () => {
    // Only the 4-byte prefix exists: if the reader tried to read the body, it would report truncation instead.
    await expect(channelOver(lengthPrefix(5000)).receive(DeviceOpened)).rejects.toThrow(/exceed the cap/);
  });

  it('refuses a truncated body, a wrong version, unknown fields and a wrong type', async () => {
    const good = { type: 'device-opened', name: 'split-dm-crypt-abc', device: 'dm-3', sizeSectors: 100, readOnly: false, pin: 'ab'.repeat(32) };
    const frame = encodeFrame(good);
    await expect(channelOver(frame.subarray(0, frame.length - 1)).receive(DeviceOpened)).rejects.toThrow(ParseError);
    await expect(channelOver(encodeFrame({ ...good, v: 2 })).receive(DeviceOpened)).rejects.toThrow(ParseError);
    await expect(channelOver(encodeFrame({ ...good, extra: 1 })).receive(DeviceOpened)).rejects.toThrow(ParseError);
    await expect(channelOver(encodeFrame({ ...good, device: 'sda' })).receive(DeviceOpened)).rejects.toThrow(ParseError);
    await expect(channelOver(encodeFrame({ ...good, name: '../../etc' })).receive(DeviceOpened)).rejects.toThrow(ParseError);
    await expect(channelOver(encodeFrame({ ...good, pin: 'AB'.repeat(32) })).receive(DeviceOpened)).rejects.toThrow(ParseError);
  });

  it('says how much of a truncated stream came, as fields, and from whom', async () => {
    const silent = await channelOver().receive(DeviceOpened).catch((e: unknown) => e);
    expect(silent).toBeInstanceOf(StreamTruncatedError);
    expect(silent).toMatchObject({ offset: 0, received: 0, expected: 4, field: 'frame length' });
    expect((silent as Error).message).toMatch(/\(from test peer\)$/);
    const frame = encodeFrame({ type: 'bytes', length: 10 });
    const cut = await channelOver(frame.subarray(0, 6)).receive(DeviceOpened).catch((e: unknown) => e);
    expect(cut).toMatchObject({ offset: 4, received: 2, expected: frame.length - 4 });
  });

  it('turns a peer error frame into a typed error with sanitized text', async () => {
    const wrong = channelOver(encodeFrame({ type: 'error', kind: 'wrong-passphrase', message: 'no key slot matches' }));
    await expect(wrong.receive(DeviceOpened)).rejects.toThrow(WrongPassphraseError);
    const hostile = channelOver(encodeFrame({ type: 'error', kind: 'refused', message: 'evil \x1b[2J\x07 text' }));
    await expect(hostile.receive(DeviceOpened)).rejects.toThrow(new OperationError('test peer: evil ?[2J? text'));
  });

  it('reads counted bytes of exactly the announced and expected length', async () => {
    const payload = Buffer.from('0123456789');
    expect(await channelOver(encodeFrame({ type: 'bytes', length: 10 }), payload).receiveBytes('area', 10)).toEqual(payload);
    await expect(channelOver(encodeFrame({ type: 'bytes', length: 9 }), payload).receiveBytes('area', 10)).rejects.toThrow(new ProtocolError('area', 'announced 9 bytes, expected exactly 10'));
    await expect(channelOver(encodeFrame({ type: 'bytes', length: 10 }), payload).receiveBytes('area', undefined, 9)).rejects.toThrow(new ProtocolError('area', 'announced 10 bytes, more than the cap of 9'));
    await expect(channelOver(encodeFrame({ type: 'bytes', length: 10 }), payload.subarray(0, 5)).receiveBytes('area', 10)).rejects.toThrow(/truncated/);
  });

  it('receives counted bytes into a buffer only when the announced length is the buffer\'s, reporting each piece', async () => {
    const payload = Buffer.from('0123456789');
    const target = Buffer.alloc(10);
    const seen: number[] = [];
    await channelOver(encodeFrame({ type: 'bytes', length: 10 }), payload).receiveBytesInto('prefix', target, (filled) => seen.push(filled));
    expect(target).toEqual(payload);
    expect(seen.at(-1)).toBe(10);
    // A peer that announces more or less than dom0 asked for is refused before a byte is read into the buffer; a 4 GiB run
    // already by the frame's schema.
    for (const [length, refusal] of [[11, new ProtocolError('prefix', 'announced 11 bytes, expected exactly 10')], [9, new ProtocolError('prefix', 'announced 9 bytes, expected exactly 10')], [0xffff_ffff, ParseError]] as const) {
      const untouched = Buffer.alloc(10);
      await expect(channelOver(encodeFrame({ type: 'bytes', length }), payload).receiveBytesInto('prefix', untouched)).rejects.toThrow(refusal);
      expect(untouched.equals(Buffer.alloc(10))).toBe(true);
    }
    await expect(channelOver(encodeFrame({ type: 'bytes', length: 10 }), payload.subarray(0, 5)).receiveBytesInto('prefix', Buffer.alloc(10))).rejects.toThrow(/prefix at byte \d+: truncated: received 5 of 10 bytes/);
  });

  it('sanitizes peer text to printable ASCII with a length cap', () => {
    expect(sanitizePeerText('a\nb\u00e9c')).toBe('a?b?c');
    expect(sanitizePeerText('x'.repeat(1000))).toHaveLength(303);
  });
});

describe('sealed volume keys', () => {
  it('only the recipient opens a box, and dom0 can check its length without opening it', () => {
    const device = newBoxKeyPair();
    const key = Buffer.alloc(64, 7);
    const sealed = sealTo(device.publicKey, key);
    expect(SealedVolumeKey.safeParse(sealed).success).toBe(true);
    expect(Buffer.from(openSealed(sealed, device.secretKey))).toEqual(key);
    expect(() => openSealed(sealed, newBoxKeyPair().secretKey)).toThrow(OperationError);
    const forged = { ...sealed, box: Uint8Array.from(sealed.box, (b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(() => openSealed(forged, device.secretKey)).toThrow(OperationError);
  });

  it('a box whose length does not fit a 32- or 64-byte key is refused by the schema', () => {
    const device = newBoxKeyPair();
    for (const bytes of [0, 16, 31, 33, 48, 63, 65, 128]) {
      expect(SealedVolumeKey.safeParse(sealTo(device.publicKey, Buffer.alloc(bytes, 1))).success).toBe(false);
    }
  });
});

describe('decoders under random input', () => {
  it('every decoder gives a value or a typed error for arbitrary bytes', async () => {
    const schemas = [DeviceOpened, Unlocked, SecretReply];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(2), async (bytes, which) => {
        try {
          await channelOver(lengthPrefix(bytes.length), bytes).receive(schemas[which]!);
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000), seed: 42 },
    );
  });

  it('well-formed frames with random fields give a value or a typed error', async () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.uint8Array({ maxLength: 100 }), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('type', 'name', 'device', 'sizeSectors', 'sealedKey', 'v', 'readOnly', 'x'), value), async (message) => {
        try {
          await channelOver(encodeFrame(message)).receive(DeviceOpened);
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000), seed: 43 },
    );
  });
});
