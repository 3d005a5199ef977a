// The events client (dom0/admin-events.ts) against a scripted qubesd on a unix socket: the request and half-close, events
// in order, a dropped event, a broken stream, qubesd going away and coming back, a silent qubesd, an error reply, the
// bounded backoff, and abort.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeAdminEvent, type RawAdminEvent } from '../../dom0/admin-event-frames.ts';
import { followAdminEvents, qubesdSocketPath, type AdminEventsOptions } from '../../dom0/admin-events.ts';

const HELLO = encodeAdminEvent(null, 'connection-established');

/** A scripted qubesd: `serve` runs for each connection once its request has ended (qubesd answers after EOF). */
class FakeQubesd {
  readonly requests: string[] = [];
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private serve: (socket: Socket, index: number) => void,
  ) {}

  openSockets(): Socket[] {
    return [...this.sockets];
  }

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      const index = this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        this.requests.push(Buffer.concat(chunks).toString('latin1'));
        this.serve(socket, index);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

let dir: string;
let abort: AbortController;
let logs: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'admin-events-'));
  abort = new AbortController();
  logs = [];
});
afterEach(() => {
  abort.abort();
  rmSync(dir, { recursive: true, force: true });
});

function follow(path: string, extra: Partial<AdminEventsOptions> = {}): AsyncGenerator<RawAdminEvent, void, undefined> {
  return followAdminEvents({ socketPath: path, signal: abort.signal, log: (m) => logs.push(m), firstRetryMs: 20, maxRetryMs: 80, handshakeMs: 500, ...extra });
}

/** The next `n` events as `subject event` strings. */
async function take(events: AsyncGenerator<RawAdminEvent, void, undefined>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const { value, done } = await events.next();
    if (done) break;
    out.push(`${value.subject ?? '-'} ${value.event}${Object.entries(value.kwargs).map(([k, v]) => ` ${k}=${v}`).join('')}`);
  }
  return out;
}

describe('followAdminEvents', () => {
  it('sends qubesadmin request, half-closes, and yields events in order', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket) => {
      socket.write(Buffer.concat([HELLO, encodeAdminEvent('sys-usb', 'device-list-change:block')]));
      socket.write(encodeAdminEvent('work', 'domain-start', { start_guid: 'True' }));
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 3)).toEqual(['- connection-established', 'sys-usb device-list-change:block', 'work domain-start start_guid=True']);
    expect(qubesd.requests).toEqual(['admin.Events+ dom0 name dom0\0']);
    await events.return();
    await qubesd.stop();
  });

  it('drops a malformed event with one log line and keeps the connection', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket) => {
      socket.write(Buffer.concat([HELLO, Buffer.from('1\0bad name!\0domain-start\0\0', 'latin1'), encodeAdminEvent('work', 'domain-shutdown')]));
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 2)).toEqual(['- connection-established', 'work domain-shutdown']);
    expect(qubesd.connections).toBe(1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toBe('qubesd event dropped: domain-start: subject bad name! is not a qube name');
    await events.return();
    await qubesd.stop();
  });

  it('restarts the connection when the framing breaks, and carries on', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket, index) => {
      if (index === 0) socket.write(Buffer.concat([HELLO, encodeAdminEvent('a', 'domain-start'), Buffer.from('\xff\xfegarbage\0', 'latin1'), encodeAdminEvent('never', 'domain-start')]));
      else socket.write(Buffer.concat([HELLO, encodeAdminEvent('b', 'domain-start')]));
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 4)).toEqual(['- connection-established', 'a domain-start', '- connection-established', 'b domain-start']);
    expect(qubesd.connections).toBe(2);
    expect(logs.filter((l) => l.includes('event stream lost: the event stream broke'))).toHaveLength(1);
    await events.return();
    await qubesd.stop();
  });

  it('reconnects when qubesd goes away and comes back, reporting the outage once', async () => {
    const path = join(dir, 'q.sock');
    const first = new FakeQubesd(path, (socket) => socket.write(Buffer.concat([HELLO, encodeAdminEvent('a', 'domain-start')])));
    await first.start();
    const events = follow(path);
    expect(await take(events, 2)).toEqual(['- connection-established', 'a domain-start']);
    await first.stop();
    // Several retries fail while it is away (refused or no socket file at all).
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = new FakeQubesd(path, (socket) => socket.write(Buffer.concat([HELLO, encodeAdminEvent('b', 'domain-shutdown')])));
    await second.start();
    expect(await take(events, 2)).toEqual(['- connection-established', 'b domain-shutdown']);
    expect(logs.filter((l) => l.includes('lost'))).toHaveLength(1);
    expect(logs.filter((l) => l.includes('back'))).toHaveLength(1);
    await events.return();
    await second.stop();
  });

  it('restarts a connection that qubesd never confirms', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket, index) => {
      if (index > 0) socket.write(HELLO);
    });
    await qubesd.start();
    const started = Date.now();
    const events = follow(qubesd.path, { handshakeMs: 150 });
    expect(await take(events, 1)).toEqual(['- connection-established']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(logs[0]).toMatch(/did not confirm the connection within 150 ms/);
    await events.return();
    await qubesd.stop();
  });

  it('refuses a stream that does not start with connection-established', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket, index) => {
      socket.write(index === 0 ? encodeAdminEvent('work', 'domain-start') : HELLO);
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 1)).toEqual(['- connection-established']);
    expect(logs[0]).toMatch(/did not start with connection-established \(got domain-start\)/);
    await events.return();
    await qubesd.stop();
  });

  it('logs an error reply and retries', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket, index) => {
      if (index === 0) socket.end(Buffer.from('2\0PermissionDenied\0\0denied\x1b[31m\0', 'latin1'));
      else socket.write(HELLO);
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 1)).toEqual(['- connection-established']);
    expect(logs[0]).toBe('qubesd event stream lost: qubesd refused the events call: PermissionDenied: denied\\x1b[31m; reconnecting');
    await events.return();
    await qubesd.stop();
  });

  it('waits longer between failed attempts, up to the bound', async () => {
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket) => socket.destroy());
    await qubesd.start();
    const events = follow(qubesd.path, { firstRetryMs: 20, maxRetryMs: 80 });
    const pending = events.next();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Waits 20, 40, 80, 80, ...: about 10 attempts in 700 ms; a fixed 20 ms would make about 35, no wait hundreds.
    expect(qubesd.connections).toBeGreaterThanOrEqual(5);
    expect(qubesd.connections).toBeLessThanOrEqual(12);
    abort.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
    await qubesd.stop();
  });

  it('ends when aborted while waiting for an event, and closes the connection', async () => {
    let closed = false;
    const qubesd = new FakeQubesd(join(dir, 'q.sock'), (socket) => {
      socket.on('close', () => (closed = true));
      socket.write(HELLO);
    });
    await qubesd.start();
    const events = follow(qubesd.path);
    expect(await take(events, 1)).toEqual(['- connection-established']);
    const pending = events.next();
    abort.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
    // The client's request already ended its side: the server learns of the close on its next write.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [server] = qubesd.openSockets();
    server?.write(HELLO);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(true);
    expect(qubesd.connections).toBe(1);
    await qubesd.stop();
  });
});

describe('qubesdSocketPath', () => {
  it('is qubesadmin socket unless the environment names another', () => {
    expect(qubesdSocketPath({})).toBe('/var/run/qubesd.sock');
    expect(qubesdSocketPath({ SPLIT_DM_CRYPT_QUBESD_SOCKET: '/tmp/x.sock' })).toBe('/tmp/x.sock');
  });
});
