// The wipe data path: large aligned writes of an AES-256-CTR keystream (random key and IV, never stored), then fdatasync.
import { createCipheriv, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { zeroize } from '../../shared/bytes.ts';

/** 4 MiB writes keep the disk busy without holding much memory. */
export const WIPE_CHUNK_BYTES = 4 * 1024 * 1024;
const PROGRESS_INTERVAL_MS = 250;

/** Overwrites `total` bytes from the start of `path`; calls `onProgress(done)` at most every 250 ms. Returns the bytes written. */
export async function wipeWithKeystream(path: string, total: number, onProgress: (done: number) => void): Promise<number> {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  zeroize(key, iv);
  const zeros = Buffer.alloc(WIPE_CHUNK_BYTES);
  const handle = await open(path, 'r+');
  let done = 0;
  let lastReport = 0;
  try {
    while (done < total) {
      const length = Math.min(WIPE_CHUNK_BYTES, total - done);
      const block = cipher.update(zeros.subarray(0, length));
      for (let written = 0; written < length; ) written += (await handle.write(block, written, length - written, done + written)).bytesWritten;
      done += length;
      if (performance.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = performance.now();
        onProgress(done);
      }
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  onProgress(done);
  return done;
}
