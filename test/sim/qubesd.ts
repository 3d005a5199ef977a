// `qubesd DIR [--socket PATH]`: the simulated qubesd's Admin API socket, serving admin.Events and the reads and tagging dom0
// asks on the socket (qubesd-methods.ts; the other calls go through the fake tools). It behaves as QubesOS/qubes-core-admin qubes/api/__init__.py QubesDaemonProtocol does
// (release4.2 and main): reads the request until the client's EOF, at most 65536 bytes, else aborts; `METHOD+ARG SRC
// name DEST\0PAYLOAD` (`keyword adminvm` means dom0), anything else aborts ("framing error"); an unknown source or
// destination qube is answered with a QubesVMNotFoundError reply and a close; an argument, a payload or another method is
// refused by aborting (PermissionDenied / ProtocolError are not sent to the client). Every call but admin.Events is recorded
// as `qubesd:METHOD` and may carry a planned fault (faults.ts): an exception reply, no reply ever, or random bytes.
// admin.Events: `connection-established` on the
// app, and every event logged after that moment (qubesd-events.ts), framed as send_event does; a destination other than
// dom0 gets only that qube's events (qubes/api/admin.py QubesAdminAPI.events). SIGTERM closes every connection, as
// qubesd does at exit, and removes the socket; a stale socket from a killed server is removed at start (cleanup_socket).
// `qubes-sim init` starts one per simulated Qubes (DIR/qubesd.pid), as a real dom0 always runs qubesd; it ends by itself once
// DIR's state is gone, so a test that removes its directory leaves no server behind.
import { randomBytes, randomInt } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { eventsLogPath, openEventsLog, type LoggedEvent } from './qubesd-events.ts';
import { takeOverSignals } from './signals.ts';
import { beforeQubesdCall } from './faults.ts';
import { createDisposableReply } from './preload.ts';
import { answerAdminCall, answersMethod, exception, type AdminCall } from './qubesd-methods.ts';
import { readState, SimToolError, statePath } from './state.ts';

/** qubesd's QubesDaemonProtocol.buffer_size. */
const MAX_REQUEST_BYTES = 65536;
/** How often the log is read for new events (the fake tools are other processes). */
const POLL_MS = 10;

interface Client {
  readonly socket: Socket;
  /** `dom0`: every event; another qube: its own events only. */
  readonly dest: string;
}

/** send_event's bytes: header 0x31 0x00, subject (empty for the app), event, KEY\0VALUE\0 pairs, a final NUL. */
function frame(entry: LoggedEvent): Buffer | undefined {
  if ('raw' in entry) return Buffer.from(entry.raw, 'hex');
  const text = `${entry.s ?? ''}\0${entry.e}\0${Object.entries(entry.k).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`;
  // qubesd encodes with 'ascii' and the handler fails on anything else: such an event never reaches a client.
  if (/[^\x00-\x7f]/.test(text)) return undefined;
  return Buffer.concat([Buffer.from([0x31, 0x00]), Buffer.from(text, 'latin1')]);
}

/** Reads the log's new complete lines since `position`. */
class LogTail {
  private position: number;
  private partial = '';

  constructor(private readonly path: string) {
    this.position = statSync(path).size;
  }

  read(): LoggedEvent[] {
    const size = statSync(this.path).size;
    // A log emptied under us (a test starting its own record of events) is read again from its start.
    if (size < this.position) {
      this.position = 0;
      this.partial = '';
    }
    if (size <= this.position) return [];
    const buffer = Buffer.alloc(size - this.position);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.position);
    } finally {
      closeSync(fd);
    }
    this.position = size;
    const lines = (this.partial + buffer.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    return lines.filter((line) => line.length > 0).map((line) => JSON.parse(line) as LoggedEvent);
  }
}

/** The request as qubesd's eof_received splits it, or undefined for a framing error. */
function parseRequest(request: Buffer): { method: string; arg: string; src: string; dest: string; payload: Buffer } | undefined {
  const nul = request.indexOf(0);
  if (nul < 0) return undefined;
  const params = request.subarray(0, nul).toString('latin1').split(' ');
  if (params.length < 4) return undefined;
  const [methArg, src, destType, ...destParts] = params as [string, string, string, ...string[]];
  let dest = destParts.join(' ');
  if (destType === 'keyword' && dest === 'adminvm') dest = 'dom0';
  else if (destType !== 'name') return undefined;
  const plus = methArg.indexOf('+');
  return { method: plus < 0 ? methArg : methArg.slice(0, plus), arg: plus < 0 ? '' : methArg.slice(plus + 1), src, dest, payload: request.subarray(nul + 1) };
}

/** Wall-clock nanoseconds, as `date +%s%N` prints them. */
const nowNs = (): string => String(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n);

/** One line per answered call: `qubesd START-NS END-NS METHOD DEST ARG`. */
export const qubesdTimesPath = (dir: string): string => join(dir, 'qubesd', 'calls-timed.log');

/**
 * The time a call takes by default: an assumption, not a measurement (no published figure for qubesd's per-call time was found):
 * a few milliseconds of Python per call, so that the simulator is not faster than a real dom0. `qubes-sim set DIR qubesd-call-ms`.
 */
export const QUBESD_CALL_MS = 5;

/** Where `qubes-sim init` finds the server it started. */
export const qubesdPidPath = (dir: string): string => join(dir, 'qubesd.pid');

const notFound = (name: string): Buffer => exception('QubesVMNotFoundError', `No such domain: '${name}'`).reply;

/** Serves until SIGTERM, SIGINT or SIGHUP; resolves 0 once the socket is gone. */
export async function serveQubesd(dir: string, args: readonly string[]): Promise<number> {
  readState(dir);
  const socketOption = args.findIndex((a) => a === '--socket');
  if ((args.length !== 0 && args.length !== 2) || (args.length === 2 && socketOption !== 0)) throw new SimToolError('usage: qubes-sim qubesd DIR [--socket PATH]', 64);
  const path = socketOption === 0 ? args[1]! : join(dir, 'qubesd.sock');
  openEventsLog(dir);
  mkdirSync(join(dir, 'qubesd'), { recursive: true });
  await removeStaleSocket(path);
  const tail = new LogTail(eventsLogPath(dir));
  const clients = new Set<Client>();
  const dispatch = () => {
    for (const entry of tail.read()) {
      const bytes = frame(entry);
      if (!bytes) continue;
      for (const client of clients) if (client.dest === 'dom0' || ('s' in entry && entry.s === client.dest) || 'raw' in entry) client.socket.write(bytes);
    }
  };
  /** Calls a fault keeps unanswered, closed at shutdown. */
  const hanging = new Set<Socket>();
  // qubesd runs its handlers on one asyncio loop: each call's own work comes after the one before it. A hand-out's waiting (for a
  // preload to complete, the unpause) does not hold the loop, so only its first step takes a turn here.
  let turns: Promise<void> = Promise.resolve();
  const takeTurn = (): Promise<void> => (turns = turns.catch(() => undefined).then(() => sleep(readState(dir).settings.qubesdCallMs ?? QUBESD_CALL_MS)));
  const answerCall = (call: AdminCall & { readonly src: string }, socket: Socket): void => {
    const started = nowNs();
    void takeTurn().then(
      () => answerInTurn(call, socket, started),
      () => socket.destroy(),
    );
  };
  const answerInTurn = (call: AdminCall & { readonly src: string }, socket: Socket, started: string): void => {
    // Each answered call leaves a line with its times (the benchmark's step table reads them beside the tools' own).
    const answered = (bytes: Buffer | undefined) => {
      if (bytes) socket.end(bytes);
      else socket.destroy();
      appendFileSync(qubesdTimesPath(dir), `qubesd ${started} ${nowNs()} ${call.method} ${call.dest} ${call.arg}\n`);
    };
    const fault = beforeQubesdCall(dir, call.method, call.dest, call.arg, call.payload.toString('latin1').slice(0, 64));
    if (fault === 'hang') return void hanging.add(socket);
    if (fault === 'garbage') return answered(randomBytes(1 + randomInt(256)));
    if (fault === 'fail') return answered(exception('QubesException', 'injected failure (qubes-sim fault)').reply);
    try {
      const vms = readState(dir).vms;
      for (const name of [call.src, call.dest]) if (!vms[name]) return answered(notFound(name));
      if (call.method === 'admin.vm.CreateDisposable') {
        // qubesd does the hand-out whatever the client does meanwhile; the reply goes to it if it is still there.
        if (call.arg !== '') return answered(undefined);
        return void createDisposableReply(dir, call.dest, call.payload.toString('latin1')).then(answered, () => answered(undefined));
      }
      const answer = answerAdminCall(dir, call);
      answered('drop' in answer ? undefined : answer.reply);
    } catch {
      // qubesd's handler for an unexpected exception: logged there, no reply here.
      socket.destroy();
    }
  };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    let length = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_REQUEST_BYTES) return void socket.destroy();
      chunks.push(chunk);
    });
    socket.on('end', () => {
      const request = parseRequest(Buffer.concat(chunks));
      if (!request) return void socket.destroy();
      if (answersMethod(request.method)) return answerCall(request, socket);
      const vms = readState(dir).vms;
      for (const name of [request.src, request.dest]) if (!vms[name]) return void socket.end(notFound(name));
      if (request.method !== 'admin.Events' || request.arg !== '' || request.payload.length > 0) return void socket.destroy();
      // Events logged before this moment are not this client's: bring everyone else up to date first.
      dispatch();
      const client = { socket, dest: request.dest };
      clients.add(client);
      socket.on('close', () => clients.delete(client));
      socket.write(frame({ s: null, e: 'connection-established', k: {} })!);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  writeFileSync(qubesdPidPath(dir), `${process.pid}\n`);
  process.stdout.write(`qubesd listening on ${path}\n`);
  return new Promise((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      clearInterval(poll);
      for (const client of clients) client.socket.destroy();
      for (const socket of hanging) socket.destroy();
      server.close(() => {
        rmSync(qubesdPidPath(dir), { force: true });
        resolve(0);
      });
    };
    // The simulated Qubes removed, or its owner gone (its test is over): nothing is left to serve.
    const owner = Number(process.env.QUBES_SIM_QUBESD_OWNER ?? 0);
    let polls = 0;
    const ownerGone = () => {
      if (owner <= 0 || ++polls % 50 !== 0) return false;
      try {
        process.kill(owner, 0);
        return false;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ESRCH';
      }
    };
    const poll = setInterval(() => (existsSync(statePath(dir)) && !ownerGone() ? dispatch() : stop()), POLL_MS);
    takeOverSignals(stop);
  });
}

/** qubesd's cleanup_socket: a socket nobody answers on is removed; one that answers belongs to a running server. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.on('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (alive) throw new SimToolError(`qubes-sim: a qubesd already listens on ${path}`);
  unlinkSync(path);
}

