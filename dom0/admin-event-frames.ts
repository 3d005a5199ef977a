// The byte format of qubesd's event stream (admin.Events), parsed once here into plain typed values. Facts, read from
// QubesOS/qubes-core-admin qubes/api/__init__.py (QubesDaemonProtocol: eof_received, send_header/write, send_event,
// send_exception; release4.2 and main) and QubesOS/qubes-core-admin-client qubesadmin/events/__init__.py
// (EventsDispatcher._get_events_reader, _listen_for_events; release4.2 and main):
//   request  (client -> qubesd, then the client half-closes): `admin.Events+ dom0 name dom0\0` (method+arg, source,
//            destination type, destination, NUL, empty payload); qubesd answers only after EOF.
//   event    (qubesd -> client, repeated): `1\0` SUBJECT `\0` EVENT `\0` (KEY `\0` VALUE `\0`)* `\0`
//            (header struct "Bx": 0x31 and one pad byte; SUBJECT empty for the Qubes app itself, else the qube's name;
//            everything encoded as ASCII by qubesd, so any other byte cannot come from it).
//   error    `2\0` TYPE `\0` TRACEBACK `\0` MESSAGE `\0`, then qubesd closes; `0\0` is a plain reply, never on this stream.
// The first event of every connection is `connection-established` with the empty subject.
import { isVmName, type VmName } from './names.ts';

/** The request qubesadmin writes for all events of all qubes (dest `dom0`), before half-closing the socket. */
export const EVENTS_REQUEST: Buffer = Buffer.from('admin.Events+ dom0 name dom0\0', 'ascii');

/** One message may not exceed qubesd's own limit for a request (QubesDaemonProtocol.buffer_size, 65536 bytes). */
export const MAX_EVENT_BYTES = 64 * 1024;
/** Python keyword arguments: the events we know carry at most a handful (`device-attach` has two). */
export const MAX_EVENT_KWARGS = 32;
/** Event names such as `property-pre-set:default_dispvm` or `device-list-change:block`. */
export const MAX_EVENT_NAME_CHARS = 128;
/** A keyword is a Python identifier. */
export const MAX_KWARG_KEY_CHARS = 64;
/** Values are str() of Python objects: names, ports, device identities, reasons; longer ones are not for us. */
export const MAX_KWARG_VALUE_CHARS = 4096;
/** An exception's type, traceback and message: shown in a warning only, cut to this. */
const MAX_SHOWN_CHARS = 200;

/** An event as qubesd sent it. `subject` null: the Qubes app itself (qubesd's empty subject), not a qube. */
export interface RawAdminEvent {
  readonly subject: VmName | null;
  readonly event: string;
  /** A null-prototype record: a key named `__proto__` or `constructor` is plain data. */
  readonly kwargs: Readonly<Record<string, string>>;
}

/** What the decoder hands on for each complete message. */
export type DecodedMessage =
  | { readonly kind: 'event'; readonly event: RawAdminEvent }
  /** Well framed, bad content: this event is skipped, the stream goes on. */
  | { readonly kind: 'dropped'; readonly reason: string }
  /** qubesd refused or failed the call (it closes the connection after this). */
  | { readonly kind: 'exception'; readonly type: string; readonly message: string }
  /** The framing is lost: nothing after this can be trusted, the connection must be restarted. Always the last message. */
  | { readonly kind: 'broken'; readonly reason: string };

/** Thrown inside the decoder only, turned into its final `broken` message. */
class Broken extends Error {}

const EVENT_NAME = /^[\x21-\x7e]+$/;
const KWARG_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Bytes as text when every byte is ASCII; undefined otherwise (qubesd encodes events as ASCII). */
function ascii(bytes: Buffer): string | undefined {
  for (const byte of bytes) if (byte > 0x7f) return undefined;
  return bytes.toString('latin1');
}

/** Text safe for a log line: control characters escaped, cut short. */
export function shown(text: string): string {
  const cut = text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}...` : text;
  return cut.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The fields of one complete event (header excluded) into a typed event, or the reason it is dropped. */
function parseEventFields(fields: readonly Buffer[]): DecodedMessage {
  const [rawSubject, rawEvent, ...pairs] = fields as [Buffer, Buffer, ...Buffer[]];
  const drop = (reason: string): DecodedMessage => ({ kind: 'dropped', reason });
  const subjectText = ascii(rawSubject);
  const event = ascii(rawEvent);
  if (event === undefined || !EVENT_NAME.test(event) || event.length > MAX_EVENT_NAME_CHARS) {
    return drop(`event name ${shown(rawEvent.toString('latin1'))} is not 1 to ${MAX_EVENT_NAME_CHARS} printable ASCII characters`);
  }
  // Why: subjects are names of qubes, which qubes choose for each other; parse them as any qube name dom0 reads.
  if (subjectText === undefined || (subjectText !== '' && !isVmName(subjectText))) {
    return drop(`${event}: subject ${shown(rawSubject.toString('latin1'))} is not a qube name`);
  }
  const count = pairs.length / 2;
  if (count > MAX_EVENT_KWARGS) return drop(`${event}: ${count} arguments, more than ${MAX_EVENT_KWARGS}`);
  const kwargs: Record<string, string> = Object.create(null);
  for (let i = 0; i < pairs.length; i += 2) {
    const key = ascii(pairs[i]!);
    const value = ascii(pairs[i + 1]!);
    if (key === undefined || !KWARG_KEY.test(key) || key.length > MAX_KWARG_KEY_CHARS) {
      return drop(`${event}: argument name ${shown(pairs[i]!.toString('latin1'))} is not an identifier of at most ${MAX_KWARG_KEY_CHARS} characters`);
    }
    if (Object.hasOwn(kwargs, key)) return drop(`${event}: argument ${key} given twice`);
    if (value === undefined || value.length > MAX_KWARG_VALUE_CHARS) {
      return drop(`${event}: argument ${key} is not ASCII of at most ${MAX_KWARG_VALUE_CHARS} characters`);
    }
    kwargs[key] = value;
  }
  return { kind: 'event', event: { subject: subjectText === '' ? null : (subjectText as VmName), event, kwargs: Object.freeze(kwargs) } };
}

/**
 * Splits qubesd's byte stream into messages, one push at a time (chunks may cut anywhere). The stream is NUL-separated
 * fields without lengths, so a framing error (an unknown header, a message over MAX_EVENT_BYTES) cannot be skipped
 * reliably: `push` then ends its messages with one `broken`, and every later push returns `broken` again: the decoder
 * must be thrown away with its connection. The messages completed before the break are still returned.
 */
export class AdminEventDecoder {
  private fields: Buffer[] = [];
  private partial: Buffer[] = [];
  private messageBytes = 0;
  private broken: string | undefined;

  /** The messages completed by `chunk`, in stream order. */
  push(chunk: Buffer): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    if (this.broken === undefined) {
      try {
        this.split(chunk, out);
      } catch (error) {
        if (!(error instanceof Broken)) throw error;
        this.broken = error.message;
      }
    }
    if (this.broken !== undefined) out.push({ kind: 'broken', reason: this.broken });
    return out;
  }

  private split(chunk: Buffer, out: DecodedMessage[]): void {
    let start = 0;
    while (start < chunk.length) {
      const nul = chunk.indexOf(0, start);
      const end = nul < 0 ? chunk.length : nul;
      this.count(end - start + (nul < 0 ? 0 : 1));
      this.partial.push(chunk.subarray(start, end));
      if (nul < 0) break;
      this.fields.push(Buffer.concat(this.partial));
      this.partial = [];
      start = nul + 1;
      const message = this.complete();
      if (message) out.push(message);
    }
  }

  /** Whether the stream ended between messages (an EOF anywhere else cut a message). */
  atBoundary(): boolean {
    return this.broken === undefined && this.fields.length === 0 && this.partial.every((part) => part.length === 0);
  }

  private count(bytes: number): void {
    this.messageBytes += bytes;
    if (this.messageBytes > MAX_EVENT_BYTES) this.fail(`a message longer than ${MAX_EVENT_BYTES} bytes`);
  }

  private fail(reason: string): never {
    throw new Broken(reason);
  }

  /** The message the fields so far complete, if they do; resets for the next one. */
  private complete(): DecodedMessage | undefined {
    const [header, ...rest] = this.fields as [Buffer, ...Buffer[]];
    let message: DecodedMessage | undefined;
    if (header.length !== 1) this.fail(`a message header of ${header.length} bytes before its NUL`);
    else if (header[0] === 0x31) {
      // SUBJECT, EVENT, then KEY VALUE pairs until an empty KEY: complete on an empty field in a key position.
      const last = rest.length - 1;
      if (rest.length >= 3 && (rest.length - 2) % 2 === 1 && rest[last]!.length === 0) message = parseEventFields(rest.slice(0, last));
    } else if (header[0] === 0x32) {
      if (rest.length === 3) {
        message = { kind: 'exception', type: shown(rest[0]!.toString('latin1')), message: shown(rest[2]!.toString('utf8')) };
      }
    } else this.fail(`a message header 0x${header[0]!.toString(16).padStart(2, '0')} that is not an event (0x31)`);
    if (message) {
      this.fields = [];
      this.messageBytes = 0;
    }
    return message;
  }
}

/** The bytes qubesd writes for one event (QubesDaemonProtocol.send_event); for tests and the simulator's checks. */
export function encodeAdminEvent(subject: string | null, event: string, kwargs: Readonly<Record<string, string>> = {}): Buffer {
  const fields = [subject ?? '', event, ...Object.entries(kwargs).flat(), ''];
  return Buffer.concat([Buffer.from([0x31, 0x00]), ...fields.map((field) => Buffer.from(`${field}\0`, 'ascii'))]);
}
