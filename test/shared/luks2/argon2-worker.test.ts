// Argon2 on a worker thread: the same keys as hash-wasm computes in-thread, the caller's event loop free meanwhile (so the
// header service's format-progress ticks keep coming), the caller's secret left as it was, and a failure as a typed error.
import { argon2i, argon2id } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { OperationError } from '../../../shared/errors.ts';
import { argon2OnWorker } from '../../../shared/luks2/argon2-worker.ts';
import { deriveKey } from '../../../shared/luks2/kdf.ts';

const password = Buffer.from('correct horse battery staple');
const salt = Buffer.alloc(32, 0x42);

describe('Argon2 on a worker thread', () => {
  it.each(['argon2i', 'argon2id'] as const)('%s: the key hash-wasm derives in-thread, for 32 and 64 bytes', async (type) => {
    const inThread = type === 'argon2i' ? argon2i : argon2id;
    for (const hashLength of [32, 64]) {
      const params = { iterations: 4, memoryKiB: 8 * 1024, parallelism: 4, hashLength };
      const expected = Buffer.from(await inThread({ password, salt, iterations: 4, memorySize: params.memoryKiB, parallelism: 4, hashLength, outputType: 'binary' }));
      const key = await argon2OnWorker({ type, password, salt, ...params });
      expect(key.length).toBe(hashLength);
      expect(key.equals(expected)).toBe(true);
    }
  });

  it('leaves the caller\'s event loop running while it derives, and the caller\'s secret unchanged', async () => {
    const secret = Buffer.from(password);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    let derived = false;
    // 64 MiB, 6 passes: a few hundred milliseconds of WebAssembly, during which an in-thread derivation lets no timer run.
    const done = deriveKey({ type: 'argon2id', time: 6, memoryKiB: 64 * 1024, cpus: 1, salt }, secret, 64).then((key) => {
      derived = true;
      return key;
    });
    const ticksBefore = await new Promise<number>((resolve) => {
      const watch = setInterval(() => {
        if (derived || ticks >= 5) {
          clearInterval(watch);
          resolve(derived ? -1 : ticks);
        }
      }, 5);
    });
    const key = await done;
    clearInterval(ticker);
    expect(ticksBefore, 'no timer ran before the derivation ended').toBeGreaterThanOrEqual(5);
    expect(key.length).toBe(64);
    expect(secret.equals(password)).toBe(true);
  });

  it('stops when its signal aborts: the worker is terminated and the call rejects instead of deriving to the end', { timeout: 60_000 }, async () => {
    // 64 MiB and 200 passes: seconds of work, so only the abort can end it within the 20 ms before it is sent.
    const stop = new AbortController();
    const job = argon2OnWorker({ type: 'argon2id', password, salt, iterations: 200, memoryKiB: 64 * 1024, parallelism: 1, hashLength: 32 }, stop.signal);
    setTimeout(() => stop.abort(), 20);
    await expect(job).rejects.toThrow(/stopped/);
    const already = new AbortController();
    already.abort();
    await expect(argon2OnWorker({ type: 'argon2id', password, salt, iterations: 4, memoryKiB: 8 * 1024, parallelism: 1, hashLength: 32 }, already.signal)).rejects.toThrow(/stopped/);
  });

  it('reports parameters hash-wasm refuses as an OperationError', async () => {
    // Argon2 needs at least 8 KiB of memory per lane.
    await expect(argon2OnWorker({ type: 'argon2id', password, salt, iterations: 1, memoryKiB: 8, parallelism: 4, hashLength: 32 })).rejects.toThrow(OperationError);
  });
});
