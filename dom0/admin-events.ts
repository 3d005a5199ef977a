// Following qubesd's event stream as qubesadmin's EventsDispatcher does (QubesOS/qubes-core-admin-client
// qubesadmin/events/__init__.py, release4.2 and main): connect to the qubesd socket, write the admin.Events request,
// half-close, read events until the connection ends, reconnect. Differences, each on purpose: the wait before a reconnect
// grows from 1 s (qubesadmin's fixed QUBESD_RECONNECT_DELAY) to a bound, so a dead qubesd is not polled every second
// forever; a connection whose first message is not `connection-established` within a time limit is restarted; a
// malformed event is dropped and logged, and a stream whose framing breaks is restarted, never a crash.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminEventDecoder, EVENTS_REQUEST, type RawAdminEvent } from './admin-event-frames.ts';

/** qubesadmin's QUBESD_SOCKET (qubesadmin/config.py, release4.2 and main). */
export const DEFAULT_QUBESD_SOCKET = '/var/run/qubesd.sock';
/** A different socket for tests and the simulator (`qubes-sim env` sets it). */
export const QUBESD_SOCKET_ENV = 'SPLIT_DM_CRYPT_QUBESD_SOCKET';

export interface AdminEventsOptions {
  readonly socketPath?: string;
  /** Ends the stream (the iterator returns) and closes the connection. */
  readonly signal?: AbortSignal;
  /** One line per dropped event and per lost connection (a qubesd that stays away is reported once). */
  readonly log?: (message: string) => void;
  /** First wait before a reconnect (qubesadmin's 1 s), doubled per failed attempt up to `maxRetryMs`. */
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
  /** How long qubesd may take to confirm the connection (its first event). */
  readonly handshakeMs?: number;
  /** Events buffered for a slow reader before the socket is paused. */
  readonly highWater?: number;
}

/** The socket to use: $SPLIT_DM_CRYPT_QUBESD_SOCKET when set, else qubesadmin's. */
export function qubesdSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env[QUBESD_SOCKET_ENV] || DEFAULT_QUBESD_SOCKET;
}

type Pull = { readonly kind: 'event'; readonly event: RawAdminEvent } | { readonly kind: 'end'; readonly reason: string };

/** One connection: its events in order, then one `end` with the reason. */
class Connection {
  private readonly queue: Pull[] = [];
  private waiter: ((pull: Pull) => void) | undefined;
  private readonly decoder = new AdminEventDecoder();
  private readonly socket: Socket;
  private ended = false;
  private confirmed = false;
  private readonly handshake: NodeJS.Timeout;

  constructor(
    path: string,
    private readonly log: (message: string) => void,
    handshakeMs: number,
    private readonly highWater: number,
  ) {
    this.socket = connect({ path, allowHalfOpen: true });
    // qubesd reads the request until EOF before it answers (QubesDaemonProtocol.eof_received).
    this.socket.on('connect', () => this.socket.end(EVENTS_REQUEST));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('end', () => this.finish(this.decoder.atBoundary() ? 'qubesd closed the connection' : 'qubesd closed the connection inside an event'));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.finish(`${error.code ?? 'error'}: ${error.message}`));
    this.socket.on('close', () => this.finish('the connection closed'));
    this.handshake = setTimeout(() => this.finish(`qubesd did not confirm the connection within ${handshakeMs} ms`), handshakeMs);
  }

  next(): Promise<Pull> {
    const pull = this.queue.shift();
    if (this.queue.length < this.highWater / 2 && !this.ended) this.socket.resume();
    if (pull) return Promise.resolve(pull);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.finish('closed');
  }

  private deliver(pull: Pull): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(pull);
    else this.queue.push(pull);
    if (this.queue.length >= this.highWater) this.socket.pause();
  }

  private receive(chunk: Buffer): void {
    if (this.ended) return;
    for (const message of this.decoder.push(chunk)) {
      if (this.ended) return;
      if (message.kind === 'broken') return this.finish(`the event stream broke (${message.reason})`);
      if (message.kind === 'exception') return this.finish(`qubesd refused the events call: ${message.type}: ${message.message}`);
      if (message.kind === 'dropped') {
        this.log(`qubesd event dropped: ${message.reason}`);
        continue;
      }
      if (!this.confirmed) {
        // Why: anything else first is not qubesd's events stream; following it would act on a peer we do not know.
        if (message.event.event !== 'connection-established' || message.event.subject !== null) {
          return this.finish(`the stream did not start with connection-established (got ${message.event.event})`);
        }
        this.confirmed = true;
        clearTimeout(this.handshake);
      }
      this.deliver({ kind: 'event', event: message.event });
    }
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.handshake);
    this.socket.destroy();
    this.deliver({ kind: 'end', reason });
  }
}

/**
 * qubesd's events for every qube, in the order qubesd sent them, across reconnects, until `signal` aborts. After each
 * (re)connection the first event is `connection-established` (subject null): what happened while disconnected is lost.
 */
export async function* followAdminEvents(options: AdminEventsOptions = {}): AsyncGenerator<RawAdminEvent, void, undefined> {
  const { signal, log = () => {}, firstRetryMs = 1000, maxRetryMs = 30_000, handshakeMs = 10_000, highWater = 1024 } = options;
  const path = options.socketPath ?? qubesdSocketPath();
  let retryMs = firstRetryMs;
  let outage = false;
  while (!signal?.aborted) {
    const connection = new Connection(path, log, handshakeMs, highWater);
    const abort = () => connection.close();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      for (;;) {
        const pull = await connection.next();
        if (pull.kind === 'end') {
          if (signal?.aborted) return;
          // "Logged once": one line when the stream goes, none for each failed retry while qubesd stays away.
          if (!outage) log(`qubesd event stream lost: ${pull.reason}; reconnecting`);
          outage = true;
          break;
        }
        if (outage) log('qubesd event stream back');
        outage = false;
        retryMs = firstRetryMs;
        yield pull.event;
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      connection.close();
    }
    try {
      await sleep(retryMs, undefined, signal ? { signal } : {});
    } catch {
      return;
    }
    retryMs = Math.min(retryMs * 2, maxRetryMs);
  }
}
