// File access with hard size limits, used by the tools that run inside the VMs (never by shared/).
import { open } from 'node:fs/promises';
import { OperationError } from '../../shared/errors.ts';

/** Reads at most `maxBytes` from the start of a file or block device (stops early at its end). */
export function readPrefix(path: string, maxBytes: number): Promise<Buffer> {
  return readRange(path, 0, maxBytes);
}

/** Reads `length` bytes at `offset` (fewer only at the file's end). */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await openOrExplain(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** Reads a whole file that must not exceed `maxBytes`; reads one byte more than the cap to detect overflow. */
export async function readCapped(path: string, maxBytes: number, what: string): Promise<Buffer> {
  const bytes = await readPrefix(path, maxBytes + 1);
  if (bytes.length > maxBytes) {
    bytes.fill(0);
    throw new OperationError(`${what} '${path}' is larger than the limit of ${maxBytes} bytes`);
  }
  return bytes;
}

/** Writes ranges in place (creating the file when needed), extends it to `minSize`, then flushes data to the device. */
export async function writeRanges(path: string, writes: readonly { offset: number; bytes: Uint8Array }[], minSize = 0): Promise<void> {
  const handle = await openOrExplain(path, 'r+', true);
  try {
    for (const { offset, bytes } of writes) {
      let written = 0;
      while (written < bytes.length) {
        const result = await handle.write(bytes, written, bytes.length - written, offset + written);
        written += result.bytesWritten;
      }
    }
    const { size } = await handle.stat();
    if (size < minSize && (await handle.stat()).isFile()) await handle.truncate(minSize);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function openOrExplain(path: string, flags: 'r' | 'r+', create = false) {
  try {
    return await open(path, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (create && code === 'ENOENT') return open(path, 'w+');
    throw new OperationError(`cannot open '${path}': ${code ?? 'unknown error'}`, { cause: error });
  }
}
