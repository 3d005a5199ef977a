// What hostile service scripts (test/hostile/services/*.ts, bundled by kit.ts, run inside a simulated VM in place of one of our
// services: see test/sim/hostile.ts) share: their --args, the observation log, frames written by hand, and a passive frame scanner.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { Channel } from '../../shared/protocol/channel.ts';
import { decodeFrameBody } from '../../shared/protocol/frame.ts';

/** This call's --args (the JSON given to `qubes-sim hostile`). */
export function hostileArgs<T>(): T {
  const path = process.env.QUBES_SIM_HOSTILE_ARGS;
  return (path ? JSON.parse(readFileSync(path, 'utf8')) : {}) as T;
}

/** Appends one line to DIR/hostile/observed.jsonl, tagged with this VM, service and rule. */
export function observe(event: string, data: Record<string, unknown> = {}): void {
  const line = { event, vm: process.env.QUBES_SIM_VM, service: process.env.QREXEC_SERVICE_FULL_NAME, rule: Number(process.env.QUBES_SIM_HOSTILE_RULE), ...data };
  appendFileSync(join(process.env.QUBES_SIM_DIR ?? '.', 'hostile', 'observed.jsonl'), `${JSON.stringify(line)}\n`);
}

/** The channel to dom0 on stdin/stdout. */
export const dom0Channel = (): Channel => new Channel(process.stdin, process.stdout, 'dom0');

/** A frame encoded with any msgpackr options (records, extensions): what our encoder would never send. */
export function rawFrame(message: unknown, options: ConstructorParameters<typeof Packr>[0] = { useRecords: false }): Buffer {
  const body = new Packr(options).pack(message);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

/** Closes stdout once flushed and exits: the call ends for dom0. */
export function finish(code = 0): Promise<never> {
  // dom0 may have gone already: a broken pipe ends the script as well.
  process.stdout.on('error', () => process.exit(code));
  return new Promise<never>(() => process.stdout.end(() => process.exit(code)));
}

/** Runs `work`; when dom0 goes away (closed stdin, a refused or error frame) the reason is observed and the script ends. */
export async function hostileMain(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    observe('ended', { reason: error instanceof Error ? error.message : String(error) });
  }
  await finish();
}

export type ScannedPiece = { readonly kind: 'frame'; readonly raw: Buffer; readonly message: unknown } | { readonly kind: 'bytes'; readonly data: Buffer };

/**
 * Splits a byte stream into frames and the raw bytes announced by `bytes` frames, without consuming it: the proxy forwards what
 * it sees. Once something does not decode, the rest of the stream is passed on as `opaque` pieces (kind 'bytes', undecoded).
 */
export class FrameScanner {
  private pending = Buffer.alloc(0);
  private rawLeft = 0;
  private opaque = false;

  push(chunk: Buffer): ScannedPiece[] {
    if (this.opaque) return [{ kind: 'bytes', data: chunk }];
    this.pending = Buffer.concat([this.pending, chunk]);
    const pieces: ScannedPiece[] = [];
    for (;;) {
      if (this.rawLeft > 0) {
        if (this.pending.length === 0) break;
        const data = this.pending.subarray(0, this.rawLeft);
        this.rawLeft -= data.length;
        this.pending = this.pending.subarray(data.length);
        pieces.push({ kind: 'bytes', data });
        continue;
      }
      if (this.pending.length < 4) break;
      const length = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + length) break;
      const raw = this.pending.subarray(0, 4 + length);
      this.pending = this.pending.subarray(4 + length);
      let message: unknown;
      try {
        message = decodeFrameBody(raw.subarray(4));
      } catch {
        this.opaque = true;
        pieces.push({ kind: 'bytes', data: Buffer.concat([raw, this.pending]) });
        this.pending = Buffer.alloc(0);
        break;
      }
      pieces.push({ kind: 'frame', raw, message });
      const m = message as { type?: unknown; length?: unknown };
      if (m?.type === 'bytes' && typeof m.length === 'number') this.rawLeft = m.length;
    }
    return pieces;
  }
}

/** The `type` of a decoded frame, for logs. */
export const typeOf = (message: unknown): string => {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : '?';
};
