// Key-slot key derivation for LUKS2: PBKDF2 (shared with LUKS1) or Argon2i/Argon2id (hash-wasm: WebAssembly embedded in the
// bundle, no native addon; its Argon2-only build, see hash-wasm-argon2.d.ts, run on a worker thread by argon2-worker.ts), and the
// benchmarks behind --iter-time.
import { performance } from 'node:perf_hooks';
import { pbkdf2 } from '../luks-common/pbkdf2.ts';
import { argon2OnWorker } from './argon2-worker.ts';
import { MAX_ARGON2_TIME, MIN_ARGON2_TIME } from './constants.ts';
import type { Luks2Kdf } from './metadata.ts';

/**
 * Derives `keyBytes` bytes from the secret with the slot's KDF. Parameters were capped by the parser before this runs. `signal`
 * stops an Argon2 derivation (its worker is terminated); PBKDF2 on the thread pool cannot be stopped and runs to its end.
 */
export async function deriveKey(kdf: Luks2Kdf, secret: Uint8Array, keyBytes: number, signal?: AbortSignal): Promise<Buffer> {
  if (kdf.type === 'pbkdf2') return pbkdf2(secret, kdf.salt, kdf.iterations, keyBytes, kdf.hash);
  return argon2OnWorker({ type: kdf.type, password: secret, salt: kdf.salt, iterations: kdf.time, memoryKiB: kdf.memoryKiB, parallelism: kdf.cpus, hashLength: keyBytes }, signal);
}

/** The Argon2 memory at which the benchmark runs (cost grows linearly with memory, so a smaller run is scaled up). */
const BENCHMARK_MEMORY_KIB = 64 * 1024;

/** Argon2 passes for a target unlock time at `memoryKiB`, measured with one pass and scaled, clamped to [4, 32] as cryptsetup does. */
export async function argon2TimeFor(type: 'argon2i' | 'argon2id', memoryKiB: number, cpus: number, iterTimeMs: number): Promise<number> {
  const memory = Math.min(memoryKiB, BENCHMARK_MEMORY_KIB);
  const salt = Buffer.alloc(32, 0x5a);
  const start = performance.now();
  await deriveKey({ type, time: 1, memoryKiB: memory, cpus, salt }, Buffer.from('benchmark'), 32);
  const onePassMs = ((performance.now() - start) * memoryKiB) / memory;
  return Math.min(MAX_ARGON2_TIME, Math.max(MIN_ARGON2_TIME, Math.floor(iterTimeMs / Math.max(onePassMs, 1))));
}
