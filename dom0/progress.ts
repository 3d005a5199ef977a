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

export class ProgressLine {
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly what: string) {}

  update(done: number, total: number): void {
    const now = performance.now();
    if (!this.tty || now - this.lastDraw < UPDATE_INTERVAL_MS) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = done / Math.max(seconds, 0.001);
    const percent = total > 0 ? Math.floor((done * 100) / total) : 0;
    process.stderr.write(`\r${this.what}: ${humanBytes(done)} of ${humanBytes(total)} (${percent}%), ${humanBytes(rate)}/s, ETA ${duration((total - done) / rate)}   `);
  }

  /** The final summary, on a terminal or not. */
  finish(bytes: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${this.what}: ${humanBytes(bytes)} in ${seconds.toFixed(1)} s (${humanBytes(bytes / Math.max(seconds, 0.001))}/s)\n`);
  }
}
