// dom0's side of the guest transport: runs a command in a QEMU guest through its agent and relays stdio frames.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FRAME, FrameReader, type ExecRequest } from './agent-protocol.ts';

/** Exit codes of a call that never reached a process (qrexec's). */
const SPAWN_FAILED = 127;

export interface AgentIo {
  /** Bytes for the process's stdin; undefined closes it at once. */
  readonly stdin?: NodeJS.ReadableStream | Buffer;
  readonly onStdout: (chunk: Buffer) => void;
  readonly onStderr: (chunk: Buffer) => void;
}

/** Runs `request` in the guest whose agent listens on 127.0.0.1:`port`; resolves with the exit code. */
export function callAgent(port: number, request: ExecRequest, io: AgentIo): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let exitCode: number | undefined;
    const reader = new FrameReader((kind, payload) => {
      if (kind === FRAME.stdout) io.onStdout(payload);
      else if (kind === FRAME.stderr) io.onStderr(payload);
      else if (kind === FRAME.exit) exitCode = payload.readInt32BE(0);
      else if (kind === FRAME.spawnError) {
        io.onStderr(Buffer.concat([payload, Buffer.from('\n')]));
        exitCode = SPAWN_FAILED;
      }
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => (exitCode === undefined ? reject(new Error('the guest agent closed the connection without an exit code')) : resolve(exitCode)));
    // Writes made while connecting are queued by the socket, so nothing read from stdin before the connection is lost.
    socket.write(`${JSON.stringify(request)}\n`);
    const input = io.stdin;
    if (input === undefined) socket.write(encodeFrame(FRAME.stdinEnd));
    else if (Buffer.isBuffer(input)) {
      for (let at = 0; at < input.length; at += 64 * 1024) socket.write(encodeFrame(FRAME.stdin, input.subarray(at, at + 64 * 1024)));
      socket.write(encodeFrame(FRAME.stdinEnd));
    } else {
      input.on('data', (chunk: Buffer) => {
        if (!socket.destroyed && !socket.write(encodeFrame(FRAME.stdin, chunk))) input.pause();
      });
      socket.on('drain', () => input.resume());
      input.on('end', () => socket.writable && socket.write(encodeFrame(FRAME.stdinEnd)));
      input.on('error', () => socket.writable && socket.write(encodeFrame(FRAME.stdinEnd)));
    }
  });
}

/** The environment of a root process in the guest: the guest's own PATH, never the simulator's SPLIT_DM_CRYPT_SYSROOT. */
export function guestEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/home/user', USER: 'user', LANG: 'C.UTF-8', ...extra };
}

export interface GuestResult {
  readonly status: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

const BUNDLE = fileURLToPath(import.meta.url);

/** Runs `argv` in `vm`'s guest from synchronous code (under the state lock): through `qubes-sim exec` in a child process. */
export function guestExecSync(dir: string, vm: string, argv: readonly string[], input?: Buffer): GuestResult {
  const result = spawnSync(process.execPath, [BUNDLE, 'exec', dir, vm, '--', ...argv], { input: input ?? Buffer.alloc(0), maxBuffer: 1024 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}
