// A progress line for long operations, like pv: bytes, rate and ETA, at most a few updates a second, only on a terminal;
// off a terminal, nothing until the final summary.
import { performance } from 'node:perf_hooks';

const UPDATE_INTERVAL_MS = 250;

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export interface ProgressOptions {
  /** Where the line goes (default stderr); drawn only when it is a terminal. */
  readonly stream?: { readonly isTTY?: boolean; write(text: string): unknown };
  /** Milliseconds from a fixed origin (default performance.now). */
  readonly now?: () => number;
}

export class ProgressLine {
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly what: string,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** Redraws the line with bytes, percentage, rate and ETA, at most every UPDATE_INTERVAL_MS and only on a terminal. */
  update(done: number, total: number): void {
    const now = this.now();
    if (!this.tty || now - this.lastDraw < UPDATE_INTERVAL_MS) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const percent = total > 0 ? Math.floor((done * 100) / total) : 0;
    this.stream.write(`\r${this.what}: ${humanBytes(done)} of ${humanBytes(total)} (${percent}%), ${humanBytes(rate)}/s, ETA ${duration((total - done) / rate)}\x1b[K`);
  }

  /** For work measured in time rather than bytes (a KDF benchmark and key slot): time spent of the time expected (0: unknown). */
  updateTime(elapsedMs: number, expectedMs: number): void {
    const now = this.now();
    if (!this.tty || now - this.lastDraw < UPDATE_INTERVAL_MS) return;
    this.lastDraw = now;
    const spent = `${(elapsedMs / 1000).toFixed(1)} s`;
    const line = expectedMs > 0 ? `${spent} of about ${(expectedMs / 1000).toFixed(1)} s (${Math.min(99, Math.floor((elapsedMs * 100) / expectedMs))}%)` : spent;
    this.stream.write(`\r${this.what}: ${line}\x1b[K`);
  }

  /** The final summary of time-measured work, on a terminal or not. */
  finishTime(): void {
    if (this.tty) this.stream.write('\r\x1b[K');
    this.stream.write(`${this.what}: done in ${((this.now() - this.started) / 1000).toFixed(1)} s\n`);
  }

  /** The final summary, on a terminal or not. */
  finish(bytes: number): void {
    const seconds = (this.now() - this.started) / 1000;
    if (this.tty) this.stream.write('\r\x1b[K');
    this.stream.write(`${this.what}: ${humanBytes(bytes)} in ${seconds.toFixed(1)} s (${humanBytes(bytes / Math.max(seconds, 0.001))}/s)\n`);
  }
}
