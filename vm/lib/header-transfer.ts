// The header VM's side of the stepped header transfer: dom0 sends the first bytes of the disk unasked; this VM asks for exactly
// the bytes its parser needs (header-need), never more, so it never holds a byte of the volume's data. dom0 counts what it sent
// and refuses a data offset that lies inside it.
import type { Channel } from '../../shared/protocol/channel.ts';
import { MAX_HEADER_NEED_ROUNDS, MAX_HEADER_TRANSFER_BYTES } from '../../shared/protocol/messages.ts';

/** One `bytes` frame and its raw bytes, whose length must not exceed `max` (else a ProtocolError). */
function receiveChunk(channel: Channel, max: number, what: string): Promise<Buffer> {
  return channel.receiveBytes(what, undefined, max);
}

/**
 * Receives the disk's first bytes in steps. `needed(prefix)` says how many bytes from offset 0 the parser needs in all, given what
 * it has (a number <= prefix.length: enough). dom0 may send fewer than asked only at the disk's end; then the prefix is all there is.
 */
export async function receiveHeaderInSteps(channel: Channel, needed: (prefix: Uint8Array) => number): Promise<Buffer> {
  let prefix = await receiveChunk(channel, MAX_HEADER_TRANSFER_BYTES, 'header probe');
  for (let round = 0; round < MAX_HEADER_NEED_ROUNDS; round++) {
    const want = Math.min(needed(prefix), MAX_HEADER_TRANSFER_BYTES);
    if (want <= prefix.length) return prefix;
    channel.send({ type: 'header-need', bytes: want });
    const more = await receiveChunk(channel, want - prefix.length, 'header area');
    const next = Buffer.concat([prefix, more]);
    prefix.fill(0);
    prefix = next;
    if (more.length < want - (prefix.length - more.length)) return prefix;
  }
  return prefix;
}
