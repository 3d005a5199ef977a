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
