// Bounded reads of the small files dom0 reads: attachment records and lock files in the run directory, the configuration, key
// files. Why: a local user who can write the run directory (or a mistake) may leave a symlink to /dev/zero, a FIFO or a huge
// file where a record should be; reading it whole made `status` grow without limit or block forever. Here a symlink is refused
// at open (O_NOFOLLOW), a FIFO or device cannot block the open (O_NONBLOCK) and is refused by fstat, and a regular file is
// read to at most its cap plus one byte (fstat's size first, then one byte more to see that it did not grow).
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { OperationError } from '../shared/errors.ts';

/** Why a bounded read was refused; callers branch on this, never on the message. */
export type BoundedReadProblem = 'missing' | 'symlink' | 'not-regular' | 'too-large' | 'unreadable';

/** A refused bounded read: the path, and what was wrong with it. */
export class BoundedReadError extends OperationError {
  constructor(
    readonly path: string,
    readonly problem: BoundedReadProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BoundedFile {
  readonly bytes: Buffer;
  /** The file's inode, from the same handle that was read (lock.ts tells a replaced lock file by it). */
  readonly ino: number;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a directory';
  return 'not a regular file';
}

async function openBounded(path: string, what: string): Promise<FileHandle> {
  try {
    return await open(path, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BoundedReadError(path, 'missing', `cannot read ${what} '${path}': no such file`, { cause: error });
    // O_NOFOLLOW makes open fail with ELOOP on a symlink (EMLINK on some BSDs).
    if (code === 'ELOOP' || code === 'EMLINK') throw new BoundedReadError(path, 'symlink', `${what} '${path}' is a symbolic link: refusing to follow it`, { cause: error });
    throw new BoundedReadError(path, 'unreadable', `cannot read ${what} '${path}': ${(error as Error).message}`, { cause: error });
  }
}

/** Reads a regular file of at most `maxBytes` (its inode too); anything else is a BoundedReadError naming `what` and the path. */
export async function readBoundedFile(path: string, maxBytes: number, what: string): Promise<BoundedFile> {
  const handle = await openBounded(path, what);
  const tooLarge = () => new BoundedReadError(path, 'too-large', `${what} '${path}' is larger than the limit of ${maxBytes} bytes`);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new BoundedReadError(path, 'not-regular', `${what} '${path}' is not a regular file (${kindOf(stats)})`);
    if (stats.size > maxBytes) throw tooLarge();
    // One byte more than fstat announced: a file that grew meanwhile fills it, and is refused rather than read further.
    const buffer = Buffer.alloc(stats.size + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled === buffer.length) {
      // A key file's bytes must not wait for the garbage collector.
      buffer.fill(0);
      throw stats.size + 1 > maxBytes ? tooLarge() : new BoundedReadError(path, 'unreadable', `${what} '${path}' changed while it was read`);
    }
    return { bytes: buffer.subarray(0, filled), ino: stats.ino };
  } catch (error) {
    if (error instanceof BoundedReadError) throw error;
    throw new BoundedReadError(path, 'unreadable', `cannot read ${what} '${path}': ${(error as Error).message}`, { cause: error });
  } finally {
    await handle.close();
  }
}

/** The bytes of a regular file of at most `maxBytes`; see readBoundedFile. */
export async function readCapped(path: string, maxBytes: number, what: string): Promise<Buffer> {
  return (await readBoundedFile(path, maxBytes, what)).bytes;
}
