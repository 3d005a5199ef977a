// Argon2i/Argon2id on a worker thread. Why: hash-wasm computes a derivation in one synchronous WebAssembly call, seconds long
// at format's cost settings; on the main thread it would freeze the header service's event loop, so format-progress ticks
// stop and the service cannot even notice its caller hanging up. The worker evaluates hash-wasm's Argon2-only build from its
// source text (embedded in the bundle, so the bundle stays one file that needs only Node.js) and does one derivation.
import argon2Source from 'hash-wasm/dist/argon2.umd.min.js?raw';
import { Worker } from 'node:worker_threads';
import { zeroize } from '../bytes.ts';
import { OperationError } from '../errors.ts';

export interface Argon2Job {
  readonly type: 'argon2i' | 'argon2id';
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  /** Passes (LUKS2's `time`). */
  readonly iterations: number;
  readonly memoryKiB: number;
  readonly parallelism: number;
  readonly hashLength: number;
}

// The worker's whole program. It runs as a CommonJS script: hash-wasm's UMD wrapper finds `module` and fills in its exports.
// The password arrives in a transferred buffer and is zeroed here as soon as the derivation is done.
const WORKER_PROGRAM = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const module = { exports: {} };
(function (module, exports) {
${argon2Source}
})(module, module.exports);
const job = workerData;
const password = new Uint8Array(job.password);
module.exports[job.type]({
  password, salt: new Uint8Array(job.salt), iterations: job.iterations, memorySize: job.memoryKiB,
  parallelism: job.parallelism, hashLength: job.hashLength, outputType: 'binary',
}).then(
  (result) => { password.fill(0); const key = new Uint8Array(result); result.fill(0); parentPort.postMessage({ key }, [key.buffer]); },
  (error) => { password.fill(0); parentPort.postMessage({ error: String(error && error.message || error) }); },
);
`;

/**
 * Runs one Argon2 derivation on a fresh worker thread; resolves with the key (the caller zeroes it). An aborted `signal`
 * terminates the worker, its copy of the password and its Argon2 memory with it, and rejects.
 */
export function argon2OnWorker(job: Argon2Job, signal?: AbortSignal): Promise<Buffer> {
  // Copies into buffers of their own, handed over (transferred) to the worker: no second copy of the password stays here.
  const password = new Uint8Array(job.password).buffer;
  const salt = new Uint8Array(job.salt).buffer;
  const data = { type: job.type, password, salt, iterations: job.iterations, memoryKiB: job.memoryKiB, parallelism: job.parallelism, hashLength: job.hashLength };
  return new Promise<Buffer>((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_PROGRAM, { eval: true, workerData: data, transferList: [password, salt] });
    } catch (error) {
      zeroize(new Uint8Array(password));
      reject(new OperationError(`cannot start the Argon2 worker thread: ${(error as Error).message}`));
      return;
    }
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(new OperationError('the Argon2 derivation was stopped: its answer is no longer needed'));
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('exit', () => signal?.removeEventListener('abort', onAbort));
    worker.once('message', (reply: { key?: Uint8Array; error?: string }) => {
      if (settled) {
        reply.key?.fill(0);
        return;
      }
      settled = true;
      if (reply.key) {
        const key = Buffer.from(reply.key);
        reply.key.fill(0);
        resolve(key);
      } else reject(new OperationError(`Argon2 failed: ${reply.error ?? 'no result'}`));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (settled) return;
      settled = true;
      reject(new OperationError(`Argon2 failed: ${error.message}`));
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new OperationError(`the Argon2 worker thread ended with code ${code} before its result`));
    });
  });
}
