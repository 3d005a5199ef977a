// Keep-alives while a header VM derives keys: `format-progress` about four times a second (time spent, time expected), so dom0
// shows progress and its reply timer never runs out while Argon2 (on a worker thread) or PBKDF2 computes.
import { performance } from 'node:perf_hooks';
import type { Channel } from '../../shared/protocol/channel.ts';

const PROGRESS_INTERVAL_MS = 250;
/** What the KDF benchmarks add to the requested unlock time, roughly (PBKDF2's runs until one lasts 100 ms; Argon2's likewise). */
export const BENCHMARK_ALLOWANCE_MS = 1000;

/** Runs `work` with ticks going out; `expectedMs` 0 says the time is unknown (forced iterations). */
export async function withProgressTicks<T>(channel: Channel, expectedMs: number, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const ticker = setInterval(() => channel.send({ type: 'format-progress', elapsedMs: Math.round(performance.now() - started), expectedMs }), PROGRESS_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(ticker);
  }
}
