// qubesd's event framing (dom0/admin-event-frames.ts): byte literals written from qubes-core-admin's send_event, chunking
// anywhere, the caps, garbage that drops one event and garbage that breaks the stream, and a property: any bytes give
// events, drops, exceptions, and at most a final `broken`, nothing else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdminEventDecoder,
  encodeAdminEvent,
  EVENTS_REQUEST,
  MAX_EVENT_BYTES,
  MAX_EVENT_KWARGS,
  MAX_EVENT_NAME_CHARS,
  MAX_KWARG_VALUE_CHARS,
  type DecodedMessage,
} from '../../dom0/admin-event-frames.ts';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Feeds `input` in pieces of `size` bytes and collects every message. */
function decodeInPieces(input: Buffer, size: number): DecodedMessage[] {
  const decoder = new AdminEventDecoder();
  const out: DecodedMessage[] = [];
  for (let i = 0; i < input.length; i += size) out.push(...decoder.push(input.subarray(i, i + size)));
  expect(decoder.atBoundary()).toBe(true);
  return out;
}

describe('the request', () => {
  it('is what qubesadmin writes: method+arg, source, destination type and name, NUL, no payload', () => {
    expect(EVENTS_REQUEST.toString('latin1')).toBe('admin.Events+ dom0 name dom0\0');
  });
});

describe('events as qubesd frames them', () => {
  // Written by hand from QubesDaemonProtocol.send_event: header 0x31 0x00, subject, event, key/value pairs, an empty key.
  const stream = bytes('1\0\0connection-established\0\0' + '1\0sys-usb\0device-added:block\0device\0sys-usb:sda:0951:1666:AA01:m080650:None\0\0' + '1\0work\0domain-start\0start_guid\0True\0\0');
  const expected = [
    { subject: null, event: 'connection-established', kwargs: {} },
    { subject: 'sys-usb', event: 'device-added:block', kwargs: { device: 'sys-usb:sda:0951:1666:AA01:m080650:None' } },
    { subject: 'work', event: 'domain-start', kwargs: { start_guid: 'True' } },
  ];

  it.each([1, 2, 3, 7, 64, stream.length])('decodes in order when cut every %i bytes', (size) => {
    const messages = decodeInPieces(stream, size);
    expect(messages.map((m) => (m.kind === 'event' ? { ...m.event, kwargs: { ...m.event.kwargs } } : m))).toEqual(expected);
  });

  it('round-trips: encode(decode(x)) is x, event by event', () => {
    const decoded = decodeInPieces(stream, 5).map((m) => (m.kind === 'event' ? encodeAdminEvent(m.event.subject, m.event.event, m.event.kwargs) : Buffer.alloc(0)));
    expect(Buffer.concat(decoded).equals(stream)).toBe(true);
  });

  it('keeps keys like __proto__ as plain data', () => {
    const [message] = decodeInPieces(bytes('1\0work\0x\0__proto__\0a\0constructor\0b\0\0'), 4);
    expect(message?.kind).toBe('event');
    if (message?.kind !== 'event') return;
    expect(Object.getPrototypeOf(message.event.kwargs)).toBeNull();
    expect(message.event.kwargs.__proto__).toBe('a');
    expect(Object.isFrozen(message.event.kwargs)).toBe(true);
  });

  it('is incomplete until the empty key arrives', () => {
    const decoder = new AdminEventDecoder();
    expect(decoder.push(bytes('1\0work\0domain-shutdown\0'))).toEqual([]);
    expect(decoder.atBoundary()).toBe(false);
    expect(decoder.push(bytes('\0'))).toHaveLength(1);
    expect(decoder.atBoundary()).toBe(true);
  });

  it('reads an error reply as an exception', () => {
    const [message] = decodeInPieces(bytes("2\0QubesVMNotFoundError\0\0No such domain: 'x'\0"), 3);
    expect(message).toEqual({ kind: 'exception', type: 'QubesVMNotFoundError', message: "No such domain: 'x'" });
  });
});

describe('a malformed event is dropped and the next one still arrives', () => {
  const tooMany = Array.from({ length: MAX_EVENT_KWARGS + 1 }, (_, i) => `k${i}\0v\0`).join('');
  it.each([
    ['1\0bad name\0domain-start\0\0', 'a subject that is not a qube name'],
    ['1\0Domain-0\0domain-start\0\0', "Xen's name, not a qube"],
    ['1\0w\xf6rk\0domain-start\0\0', 'a non-ASCII subject (qubesd encodes ASCII)'],
    ['1\0work\0\0\0', 'an empty event name'],
    ['1\0work\0domain start\0\0', 'a space in the event name'],
    [`1\0work\0${'e'.repeat(MAX_EVENT_NAME_CHARS + 1)}\0\0`, 'an event name over the cap'],
    ['1\0work\0x\0\x31key\0v\0\0', 'an argument name that is not an identifier'],
    ['1\0work\0x\0k\0v\0k\0w\0\0', 'an argument given twice'],
    ['1\0work\0x\0k\0\xff\0\0', 'a non-ASCII value'],
    [`1\0work\0x\0k\0${'v'.repeat(MAX_KWARG_VALUE_CHARS + 1)}\0\0`, 'a value over the cap'],
    [`1\0work\0x\0${tooMany}\0`, 'more arguments than the cap'],
  ])('%j (%s)', (garbage) => {
    const messages = decodeInPieces(bytes(`${garbage}1\0work\0domain-shutdown\0\0`), 3);
    expect(messages.map((m) => m.kind)).toEqual(['dropped', 'event']);
    expect(messages[1]).toMatchObject({ kind: 'event', event: { subject: 'work', event: 'domain-shutdown' } });
  });
});

describe('a broken stream ends with `broken`, keeps what came before, and stays broken', () => {
  it.each([
    ['0\0', 'a plain reply header'],
    ['x\0', 'an unknown header'],
    ['11\0', 'a header longer than the struct'],
    ['\0', 'an empty header'],
  ])('%j (%s)', (garbage) => {
    const decoder = new AdminEventDecoder();
    const messages = decoder.push(bytes(`1\0work\0domain-start\0\0${garbage}1\0work\0domain-shutdown\0\0`));
    expect(messages.map((m) => m.kind)).toEqual(['event', 'broken']);
    expect(decoder.push(bytes('1\0work\0domain-start\0\0')).map((m) => m.kind)).toEqual(['broken']);
    expect(decoder.atBoundary()).toBe(false);
  });

  it('refuses a message longer than the cap before holding it whole', () => {
    const decoder = new AdminEventDecoder();
    decoder.push(bytes('1\0work\0x\0k\0'));
    const chunk = Buffer.alloc(1024, 0x61);
    let pushed = 0;
    while (decoder.push(chunk).length === 0) pushed += chunk.length;
    expect(pushed).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(decoder.push(chunk)).toEqual([{ kind: 'broken', reason: `a message longer than ${MAX_EVENT_BYTES} bytes` }]);
  });

  it('accepts a message of exactly the cap', () => {
    const head = '1\0work\0x\0k\0';
    const tail = '\0\0';
    const value = 'v'.repeat(MAX_EVENT_BYTES - head.length - tail.length);
    // Values are capped lower than messages: this event is dropped for its value, but the framing holds.
    expect(decodeInPieces(bytes(head + value + tail), 4096).map((m) => m.kind)).toEqual(['dropped']);
  });
});

describe('any bytes', () => {
  it('give events, drops, exceptions and at most a final broken, nothing else', () => {
    const piece = fc.oneof(
      fc.constantFrom('1\0', '2\0', '\0', 'work\0', 'sys-usb\0', 'device-added:block\0', 'device\0', 'sys-usb:sda:x\0', 'k\0', '\xff', '__proto__\0'),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 16 }), (pieces, size) => {
        const input = bytes(pieces.join(''));
        const decoder = new AdminEventDecoder();
        let broken = false;
        for (let i = 0; i < input.length; i += size) {
          for (const message of decoder.push(input.subarray(i, i + size))) {
            expect(broken).toBe(false);
            if (message.kind === 'broken') broken = true;
            if (message.kind === 'event') expect(message.event.subject === null || /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/.test(message.event.subject)).toBe(true);
          }
          if (broken) break;
        }
      }),
      { numRuns: 500, seed: 20_261_130 },
    );
  });

  it('round-trip any well-formed event, cut anywhere', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/);
    fc.assert(
      fc.property(
        fc.option(name, { nil: null }),
        fc.stringMatching(/^[a-z:-]{1,30}$/),
        fc.dictionary(key, fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x01-\x7f]/g, 'x')), { maxKeys: 6 }),
        fc.integer({ min: 1, max: 9 }),
        (subject, event, kwargs, size) => {
          const encoded = encodeAdminEvent(subject, event, kwargs);
          const messages = decodeInPieces(encoded, size);
          expect(messages).toHaveLength(1);
          const [message] = messages;
          if (message?.kind !== 'event') throw new Error(`expected an event, got ${JSON.stringify(message)}`);
          expect(encodeAdminEvent(message.event.subject, message.event.event, message.event.kwargs).equals(encoded)).toBe(true);
        },
      ),
      { numRuns: 300, seed: 20_261_130 },
    );
  });
});
