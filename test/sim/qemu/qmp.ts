// A minimal QMP client (QEMU's JSON machine protocol over a unix socket): capabilities negotiation, commands in order, and
// waiting for an event, which is how hot-unplug completes (DEVICE_DELETED arrives once the guest has released the device).
import { connect, type Socket } from 'node:net';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface QmpMessage {
  readonly return?: Json;
  readonly error?: { readonly class: string; readonly desc: string };
  readonly event?: string;
  readonly data?: { readonly [key: string]: Json };
  readonly QMP?: Json;
}

/** One QMP session; `close` when done. */
export class QmpSession {
  private buffered = '';
  private readonly messages: QmpMessage[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffered += text;
      let newline;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, newline).trim();
        this.buffered = this.buffered.slice(newline + 1);
        if (line) this.messages.push(JSON.parse(line) as QmpMessage);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async open(path: string): Promise<QmpSession> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const session = new QmpSession(socket);
    await session.next((m) => m.QMP !== undefined, 10_000);
    await session.execute('qmp_capabilities');
    return session;
  }

  private async next(match: (m: QmpMessage) => boolean, timeoutMs: number): Promise<QmpMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      if (this.closed) throw new Error('QMP connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('QMP: timed out');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Runs one command; throws QEMU's error description. */
  async execute(command: string, args?: { [key: string]: Json }): Promise<Json | undefined> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    const reply = await this.next((m) => m.return !== undefined || m.error !== undefined, 30_000);
    if (reply.error) throw new Error(`QMP ${command}: ${reply.error.desc}`);
    return reply.return;
  }

  /** Waits for `event` whose data matches `fields`. */
  async waitEvent(event: string, fields: { readonly [key: string]: string }, timeoutMs: number): Promise<void> {
    await this.next((m) => m.event === event && Object.entries(fields).every(([k, v]) => m.data?.[k] === v), timeoutMs);
  }

  close(): void {
    this.socket.end();
  }
}
