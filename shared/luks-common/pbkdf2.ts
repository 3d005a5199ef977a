// PBKDF2 for LUKS1 and LUKS2 (on libuv's thread pool, so several key slots can be tried at once) and the benchmark behind --iter-time.
import { pbkdf2 as pbkdf2Callback } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MAX_PBKDF2_ITERATIONS, MIN_DIGEST_ITERATIONS, type LuksHash } from './constants.ts';

/** PBKDF2-HMAC-hash; runs off the main thread. */
export function pbkdf2(secret: Uint8Array, salt: Uint8Array, iterations: number, keyBytes: number, hash: LuksHash): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2Callback(secret, salt, iterations, keyBytes, hash, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** How long cryptsetup spends on the volume-key digest relative to a slot: 125 ms worth of iterations. */
const DIGEST_TIME_MS = 125;
/** A benchmark run must last at least this long to be a usable measurement. */
const MIN_BENCHMARK_MS = 100;

export interface Pbkdf2Benchmark {
  readonly iterationsPerSecond: number;
}

/** Measures PBKDF2 speed for a hash and output size by doubling the work until one run takes long enough. */
export async function benchmarkPbkdf2(hash: LuksHash, keyBytes: number, onProgress?: (elapsedMs: number) => void): Promise<Pbkdf2Benchmark> {
  const password = Buffer.from('benchmark');
  const salt = Buffer.alloc(32, 0x5a);
  let started = performance.now();
  for (let iterations = 1000; ; iterations *= 2) {
    const runStart = performance.now();
    await pbkdf2(password, salt, iterations, keyBytes, hash);
    const elapsed = performance.now() - runStart;
    onProgress?.(performance.now() - started);
    if (elapsed >= MIN_BENCHMARK_MS || iterations >= MAX_PBKDF2_ITERATIONS) {
      return { iterationsPerSecond: (iterations * 1000) / Math.max(elapsed, 1) };
    }
  }
}

/** Key-slot iterations for a target unlock time, clamped to what our own parser accepts. */
export function slotIterationsFor(benchmark: Pbkdf2Benchmark, iterTimeMs: number): number {
  const wanted = Math.round((benchmark.iterationsPerSecond * iterTimeMs) / 1000);
  return Math.min(MAX_PBKDF2_ITERATIONS, Math.max(MIN_DIGEST_ITERATIONS, wanted));
}

/** Volume-key digest iterations the way cryptsetup chooses them: 125 ms worth, never fewer than 1000. */
export function digestIterationsFor(benchmark: Pbkdf2Benchmark | undefined): number {
  if (!benchmark) return MIN_DIGEST_ITERATIONS;
  const wanted = Math.round((benchmark.iterationsPerSecond * DIGEST_TIME_MS) / 1000);
  return Math.min(MAX_PBKDF2_ITERATIONS, Math.max(MIN_DIGEST_ITERATIONS, wanted));
}
