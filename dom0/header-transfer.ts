// dom0's side of the stepped header transfer: a header VM gets the disk's first HEADER_PROBE_BYTES unasked, then exactly what it
// asks for (header-need), capped and counted here, from a source dom0 never parses (the device VM's DeviceSendHeader, or the
// bytes a header shell left). What was sent is returned, so a reply placing the data inside it can be refused.
import { OperationError } from '../shared/errors.ts';
import type { Channel } from '../shared/protocol/channel.ts';
import { HEADER_PROBE_BYTES, HeaderNeed, MAX_HEADER_NEED_ROUNDS, MAX_HEADER_TRANSFER_BYTES } from '../shared/protocol/messages.ts';
import type { z } from 'zod';

/** Bytes from the start of a disk that dom0 holds (read through the device VM, or left by a header shell), never parsed here. */
export interface HeaderSource {
  /** The size of the disk (or of an edited header area); at most its first MAX_HEADER_TRANSFER_BYTES are ever served. */
  readonly diskBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export function bufferSource(bytes: Buffer): HeaderSource {
  return { diskBytes: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * The disk's first bytes while they still arrive from the device VM, in order: a read is served as soon as its range is in, so
 * the header VM parses the first kilobytes while the rest of the fixed read (up to 16 MiB) still crosses dom0. What is read
 * is the same as from the whole buffer; a transfer that fails fails every read still waiting for bytes, with its own error.
 */
export class ArrivingHeaderBytes {
  /** Filled in order by the transfer (received into it), zeroed by its owner. */
  readonly bytes: Buffer;
  private filled = 0;
  private failure: { readonly error: unknown } | undefined;
  private waiting: { readonly end: number; readonly resolve: () => void; readonly reject: (error: unknown) => void }[] = [];

  constructor(length: number) {
    this.bytes = Buffer.alloc(length);
  }

  /** The transfer's progress: the first `filled` bytes are in. */
  arrived(filled: number): void {
    this.filled = filled;
    const ready = this.waiting.filter((wait) => wait.end <= filled);
    this.waiting = this.waiting.filter((wait) => wait.end > filled);
    for (const wait of ready) wait.resolve();
  }

  /** The transfer failed: every read waiting, and every later one that needs bytes not in, fails with `error`. */
  fail(error: unknown): void {
    this.failure = { error };
    for (const wait of this.waiting) wait.reject(error);
    this.waiting = [];
  }

  /** A source for the header VM's transfer: `diskBytes` is the disk's true size, reads are clamped to what is transferred. */
  source(diskBytes: number): HeaderSource {
    return {
      diskBytes,
      read: async (offset, length) => {
        const end = Math.min(offset + length, this.bytes.length);
        if (end > this.filled) {
          if (this.failure) throw this.failure.error;
          await new Promise<void>((resolve, reject) => this.waiting.push({ end, resolve, reject }));
        }
        return this.bytes.subarray(offset, end);
      },
    };
  }
}

/** The error for a VM that broke the protocol's rules: one line that names it as misbehaving. */
export function misbehaving(peer: string, what: string): OperationError {
  return new OperationError(`${peer} misbehaved: ${what}; stopped`);
}

/**
 * Serves the transfer until the header VM sends something that is not a `header-need`; returns that message (which must match
 * `next`) and the number of bytes sent. Each request must ask for more than was sent, at most MAX_HEADER_TRANSFER_BYTES, and at
 * most MAX_HEADER_NEED_ROUNDS times.
 */
export async function serveHeaderInSteps<T extends z.ZodTypeAny>(channel: Channel, source: HeaderSource, next: T): Promise<{ sentBytes: number; message: z.infer<T> }> {
  const limit = Math.min(MAX_HEADER_TRANSFER_BYTES, source.diskBytes);
  let sentBytes = Math.min(HEADER_PROBE_BYTES, limit);
  channel.sendBytes(await source.read(0, sentBytes));
  for (let round = 0; ; round++) {
    const message = await channel.receive(HeaderNeed.or(next));
    if ((message as { type: string }).type !== 'header-need') return { sentBytes, message: message as z.infer<T> };
    const wanted = (message as z.infer<typeof HeaderNeed>).bytes;
    if (round >= MAX_HEADER_NEED_ROUNDS) throw misbehaving(channel.peer, `it asked for header bytes more than ${MAX_HEADER_NEED_ROUNDS} times`);
    if (wanted <= sentBytes) throw misbehaving(channel.peer, `it asked for ${wanted} header bytes after receiving ${sentBytes}`);
    // At the disk's end the VM gets what there is; it learns the disk ends there, which it may know anyway.
    const end = Math.min(wanted, limit);
    channel.sendBytes(end > sentBytes ? await source.read(sentBytes, end - sentBytes) : Buffer.alloc(0));
    sentBytes = Math.max(sentBytes, end);
  }
}
