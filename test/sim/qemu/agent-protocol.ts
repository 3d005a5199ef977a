// The stand-in for qrexec between dom0 and a QEMU guest: one TCP connection per call (QEMU's user-mode network forwards a
// host port on 127.0.0.1 to the guest agent). The host sends one JSON request line, then both sides exchange frames:
// a kind byte, a 4-byte big-endian length, the payload. Host -> guest: stdin data, stdin end. Guest -> host: stdout,
// stderr, the exit code (the call's last frame), or a spawn failure.

export const AGENT_GUEST_PORT = 7000;
/** The cap on one frame, so a confused peer cannot make the other allocate without bound. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** The cap on the request line (argv and environment of one call). */
export const MAX_REQUEST_BYTES = 64 * 1024;

export const FRAME = { stdin: 0, stdinEnd: 1, stdout: 2, stderr: 3, exit: 4, spawnError: 5 } as const;
export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

/** What the host asks the agent to run, as qrexec-agent runs a service: argv, environment, working directory. */
export interface ExecRequest {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/** One frame on the wire. */
export function encodeFrame(kind: FrameKind, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export const exitFrame = (code: number): Buffer => {
  const payload = Buffer.alloc(4);
  payload.writeInt32BE(code);
  return encodeFrame(FRAME.exit, payload);
};

/** Parses the request line; throws on anything but the expected shape. */
export function parseExecRequest(line: string): ExecRequest {
  const value = JSON.parse(line) as Partial<ExecRequest>;
  const strings = (xs: unknown): xs is string[] => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
  if (!strings(value.argv) || value.argv.length === 0 || typeof value.cwd !== 'string' || typeof value.env !== 'object' || value.env === null) {
    throw new Error('malformed exec request');
  }
  if (!strings(Object.values(value.env))) throw new Error('malformed exec request environment');
  return { argv: value.argv, env: value.env, cwd: value.cwd };
}

/** Splits a byte stream into frames; `onFrame` gets each whole frame in order. */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (kind: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readUInt32BE(1);
      if (length > MAX_FRAME_BYTES) throw new Error(`agent frame of ${length} bytes exceeds the cap`);
      if (this.buffered.length < 5 + length) return;
      const kind = this.buffered.readUInt8(0);
      const payload = this.buffered.subarray(5, 5 + length);
      this.buffered = this.buffered.subarray(5 + length);
      this.onFrame(kind, payload);
    }
  }
}
