// A typed message channel over a byte stream pair: write frames and counted bytes, read them back through schemas.
// A peer's `error` frame becomes a typed error; anything that does not match the expected schema is a ParseError.
import type { z } from 'zod';
import { OperationError, ParseError, ProtocolError, UnsupportedError, WrongPassphraseError, type SplitError } from '../errors.ts';
import { ByteReader, encodeFrame, readFrame } from './frame.ts';
import { BytesFollow, ErrorReply, MAX_CONTROL_FRAME_BYTES } from './messages.ts';

export interface Writable {
  write(chunk: Uint8Array): boolean;
}

/** Keeps only printable ASCII of a peer's text and caps its length, so a hostile VM cannot drive dom0's terminal. */
export function sanitizePeerText(text: string, maxChars = 300): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > maxChars ? `${clean.slice(0, maxChars)}...` : clean;
}

/**
 * The typed error for a peer's error frame, its text sanitized and attributed to `peer`. A peer chooses its kind, so it may only
 * pick among failures (exit 1) and a wrong passphrase (exit 2): a usage error (exit 64, and a hint to read --help) is dom0's own
 * verdict on its command line, never a VM's, and a VM's parse error names offsets in bytes dom0 never saw.
 */
export function errorFromReply(reply: ErrorReply, peer: string): SplitError {
  const message = `${peer}: ${sanitizePeerText(reply.message)}`;
  switch (reply.kind) {
    case 'wrong-passphrase':
      return new WrongPassphraseError(message);
    case 'unsupported':
      // Exit 1 like OperationError; kept so dom0 can tell "not implemented" from "went wrong".
      return new UnsupportedError(message);
    case 'usage':
    case 'parse':
    case 'refused':
    case 'failure':
      return new OperationError(message);
  }
}

/** The `type` a peer claimed, for error messages, read without calling anything on it: `String()` of a peer's map can throw. */
function claimedType(untrusted: unknown): string {
  if (typeof untrusted !== 'object' || untrusted === null || !Object.hasOwn(untrusted, 'type')) return '?';
  const type: unknown = (untrusted as { type: unknown }).type;
  return typeof type === 'string' ? type : '?';
}

export class Channel {
  private readonly reader: ByteReader;

  constructor(
    input: AsyncIterable<Buffer | string>,
    private readonly output: Writable,
    /** Who is on the other end, for error messages ("device VM dm-device-disp1234"). */
    readonly peer: string,
  ) {
    this.reader = new ByteReader(input);
  }

  send(message: Readonly<Record<string, unknown>>): void {
    this.output.write(encodeFrame(message));
  }

  /** Sends a counted run of raw bytes. */
  sendBytes(bytes: Uint8Array): void {
    this.send({ type: 'bytes', length: bytes.length });
    this.output.write(bytes);
  }

  /** Receives one message that must match `schema` (or a peer error, which is thrown as a typed error). */
  async receive<T extends z.ZodTypeAny>(schema: T, maxBodyBytes = MAX_CONTROL_FRAME_BYTES): Promise<z.infer<T>> {
    const untrusted = await this.attributed(readFrame(this.reader, maxBodyBytes));
    const asError = ErrorReply.safeParse(untrusted);
    if (asError.success) throw errorFromReply(asError.data, this.peer);
    const parsed = schema.safeParse(untrusted);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = `${claimedType(untrusted)}${issue ? `.${issue.path.join('.')}` : ''}`;
      throw new ParseError('protocol message', sanitizePeerText(field, 80), this.reader.offset, sanitizePeerText(issue?.message ?? 'unexpected message', 120));
    }
    return parsed.data;
  }

  /** Receives a counted run of raw bytes whose length must be exactly `expected` (or at most `max` when `expected` is undefined). */
  async receiveBytes(what: string, expected: number | undefined, max = expected ?? 0): Promise<Buffer> {
    return this.readRaw(await this.receiveAnnouncement(what, expected, max), what);
  }

  /** A `bytes` frame's length, checked to be exactly `expected` (when given) and at most `max` before a byte of the run is read. */
  private async receiveAnnouncement(what: string, expected: number | undefined, max: number): Promise<number> {
    const { length } = await this.receive(BytesFollow);
    if (expected !== undefined && length !== expected) throw new ProtocolError(what, `announced ${length} bytes, expected exactly ${expected}`);
    if (length > max) throw new ProtocolError(what, `announced ${length} bytes, more than the cap of ${max}`);
    return length;
  }

  /** Exactly `count` raw bytes, after a `bytes` frame the caller has already received and checked. */
  readRaw(count: number, what: string): Promise<Buffer> {
    return this.attributed(this.reader.readExact(count, what));
  }

  /**
   * A counted run of exactly `target.length` raw bytes, received into `target` (its length checked before a byte is read), with
   * `onProgress` told how many are in after each piece: the first bytes can be used while the rest still come.
   */
  async receiveBytesInto(what: string, target: Buffer, onProgress?: (filled: number) => void): Promise<void> {
    await this.receiveAnnouncement(what, target.length, target.length);
    await this.readRawInto(target, what, onProgress);
  }

  /** `target.length` raw bytes into `target`, after a `bytes` frame the caller has already received and checked. */
  readRawInto(target: Buffer, what: string, onProgress?: (filled: number) => void): Promise<void> {
    return this.attributed(this.reader.readInto(target, what, onProgress));
  }

  /** A framing error names the peer it came from: "invalid protocol frame length ... (from device VM dm-device-disp1234)". */
  private async attributed<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof ParseError) throw error.attributedTo(this.peer);
      throw error;
    }
  }
}
