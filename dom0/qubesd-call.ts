// One Admin API call over qubesd's socket, as qubesadmin makes it in dom0 (QubesOS/qubes-core-admin-client qubesadmin/app.py,
// QubesLocal.qubesd_call; release4.2 and main): connect to /var/run/qubesd.sock, write `METHOD+ARG dom0 name DEST\0`, half-close,
// read the reply until qubesd closes. Why not the qvm-* tool: each tool is a Python process whose start (a fraction of a second
// on a real dom0) is most of what a property read costs, and an attach asks a dozen of them, several one after the other.
// The reply is parsed here, once (qubes-core-admin qubes/api/__init__.py, QubesDaemonProtocol.send_response / send_exception):
// `0\0` and the value, or `2\0` TYPE `\0` TRACEBACK `\0` MESSAGE `\0`. Anything else, or no reply at all (qubesd drops a call it
// cannot frame, and one that raised an unexpected exception), fails the call.
import { connect } from 'node:net';
import { InterruptedError, ToolError } from '../shared/errors.ts';
import { interruptionSignal, throwIfInterrupted } from './interruption.ts';
import { outputCapError, sanitizeStderr, ToolTimeoutError } from './run-tool.ts';

/** The `tool` of every error a call raises: what the user reads in messages and what `toolFailureOf` reports. */
export const QUBESD = 'qubesd';

/** Listings of a few hundred qubes are tens of KiB; a reply past this is not one qubesd sends. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** What qubesd accepts as a call's method, argument and destination: ASCII words without the framing's space and NUL. */
const METHOD = /^admin(\.[A-Za-z]+)+$/;
const ARGUMENT = /^[A-Za-z0-9_.:-]{0,255}$/;
const DESTINATION = /^[A-Za-z0-9_.-]{1,64}$/;
/** A Python exception class name, as send_exception writes it. */
const EXCEPTION_TYPE = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

export interface QubesdRequest {
  readonly method: string;
  /** A qube's name, or `dom0` for calls on the whole system (admin.property.Get, admin.vm.List of every qube). */
  readonly dest: string;
  readonly arg?: string;
  /** Sent after the header, as qubesd-query sends its stdin (admin.vm.CreateDisposable's `uuid`). */
  readonly payload?: string;
}

export interface QubesdCallOptions {
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly maxReplyBytes?: number;
}

/**
 * qubesd answered with an exception (QubesVMNotFoundError, QubesFeatureNotFoundError, QubesNoSuchPropertyError...): `qubesType`
 * is its class name, `stderr` its message, sanitized. A ToolError of tool `qubesd`, so callers that report tool failures report it.
 */
export class QubesdException extends ToolError {
  constructor(
    readonly qubesType: string,
    qubesMessage: string,
    what: string,
  ) {
    const message = sanitizeStderr(qubesMessage);
    super(QUBESD, undefined, message, `${what} failed: ${qubesType}${message ? `: ${message}` : ''}`, { failure: { kind: 'exit-status', exitCode: 2 } });
  }
}

/**
 * qubesd closed the connection without a reply: what it does with a call it drops (a framing error, an unexpected exception,
 * and on R4.2 a payload to a method that takes none, such as CreateDisposable's `uuid`).
 */
export class QubesdNoReplyError extends ToolError {}

/** How a call names itself in messages: `admin.vm.property.Get+netvm on sys-usb`. */
export function describeRequest(request: QubesdRequest): string {
  return `${request.method}${request.arg ? `+${request.arg}` : ''} on ${request.dest}`;
}

/** The bytes qubesadmin writes for the call: the header, then the payload if there is one. */
export function encodeRequest(request: QubesdRequest): Buffer {
  const arg = request.arg ?? '';
  // A space or NUL in any part would shift qubesd's split of the header onto another call; refuse before anything is sent.
  if (!METHOD.test(request.method) || !ARGUMENT.test(arg) || !DESTINATION.test(request.dest) || !/^[\x20-\x7e]{0,64}$/.test(request.payload ?? '')) {
    throw new ToolError(QUBESD, undefined, '', `refusing to send qubesd a malformed call (${JSON.stringify(describeRequest(request)).slice(0, 120)})`, { failure: { kind: 'not-started', code: undefined } });
  }
  return Buffer.from(`${request.method}+${arg} dom0 name ${request.dest}\0${request.payload ?? ''}`, 'latin1');
}

/** The value of qubesd's reply, or QubesdException for its exception reply; anything else is a ToolError naming the call. */
export function parseQubesdReply(reply: Buffer, what: string): string {
  const malformed = (why: string) => new ToolError(QUBESD, undefined, '', `${what}: qubesd's reply ${why}`, { failure: { kind: 'exit-status', exitCode: 1 } });
  if (reply.length === 0) return failNoReply(what);
  if (reply.length < 2 || reply[1] !== 0) throw malformed('has no header');
  if (reply[0] === 0x30) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(reply.subarray(2));
    } catch {
      throw malformed('is not UTF-8');
    }
  }
  if (reply[0] !== 0x32) throw malformed(`starts with an unknown header (0x${reply[0]!.toString(16)})`);
  // TYPE \0 TRACEBACK \0 MESSAGE \0: exactly three fields, each ended by its NUL.
  const fields = reply.subarray(2).toString('utf8').split('\0');
  if (fields.length !== 4 || fields[3] !== '' || !EXCEPTION_TYPE.test(fields[0]!)) throw malformed('is a malformed exception');
  throw new QubesdException(fields[0]!, fields[2]!, what);
}

function failNoReply(what: string): never {
  throw new QubesdNoReplyError(QUBESD, undefined, '', `${what}: qubesd closed the connection without a reply`, { failure: { kind: 'exit-status', exitCode: 1 } });
}

/**
 * Makes the call and returns the reply's value. Bounded by `timeoutMs`, by the reply cap, and by the current interruption scope
 * (a Ctrl-C closes the connection: these calls are reads and tags, nothing qubesd needs to finish for us).
 */
export async function callQubesd(request: QubesdRequest, options: QubesdCallOptions): Promise<string> {
  throwIfInterrupted();
  const what = describeRequest(request);
  const header = encodeRequest(request);
  const cap = options.maxReplyBytes ?? MAX_REPLY_BYTES;
  const signal = interruptionSignal();
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const socket = connect({ path: options.socketPath, allowHalfOpen: true });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      outcome();
    };
    const timer = setTimeout(() => finish(() => reject(new ToolTimeoutError(QUBESD, { kind: 'time-limit', limitMs: options.timeoutMs }, `${what}: qubesd did not answer within ${Math.ceil(options.timeoutMs / 1000)} s`))), options.timeoutMs);
    const onAbort = () => finish(() => reject(new InterruptedError(`interrupted while asking qubesd ${what}`)));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.end(header));
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > cap) return finish(() => reject(outputCapError(QUBESD, 'stdout', cap, `${what}: qubesd's reply is larger than ${cap} bytes`)));
      chunks.push(chunk);
    });
    socket.on('end', () => finish(() => resolve(Buffer.concat(chunks))));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code;
      // Before a byte of the reply, the socket is missing or refused: qubesd is not running (or this is not dom0).
      const reason = code === 'ENOENT' || code === 'ECONNREFUSED' ? `qubesd is not reachable at ${options.socketPath} (this must run in dom0)` : `the connection to qubesd failed`;
      finish(() => reject(new ToolError(QUBESD, undefined, '', `${what}: ${reason}${code ? ` (${code})` : ''}`, { cause: error, failure: { kind: 'not-started', code } })));
    });
  });
  return parseQubesdReply(reply, what);
}
