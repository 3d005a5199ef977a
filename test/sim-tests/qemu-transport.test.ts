// The QEMU tier's stand-in for qrexec, run on the host: the guest agent's server and dom0's client over 127.0.0.1, checking
// the semantics qvm-run relies on (stdin relayed and closed, stdout/stderr kept apart, exit codes, spawn failures, the
// call ending when the process has exited and closed its output, the process killed when dom0 hangs up).
import type { Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAgent } from '../sim/qemu/agent-client.ts';
import { encodeFrame, FRAME, FrameReader, MAX_FRAME_BYTES } from '../sim/qemu/agent-protocol.ts';
import { listenAgent } from '../sim/qemu/guest-agent.ts';

let server: Server;
let port = 0;

beforeAll(async () => {
  server = await listenAgent(0, '127.0.0.1');
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(() => server.close());

async function run(argv: string[], stdin?: Buffer) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const exitCode = await callAgent(port, { argv, env, cwd: '/' }, { stdin, onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) });
  return { exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

describe('QEMU tier transport', () => {
  it('relays stdin to the process and its stdout back, byte for byte, beyond one frame', async () => {
    const input = Buffer.alloc(3 * MAX_FRAME_BYTES + 17);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) & 0xff;
    const result = await run(['cat'], input);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.equals(input)).toBe(true);
  });

  it.each([
    // [what, argv, exit code, stderr pattern]
    ['an exit code', ['sh', '-c', 'echo oops >&2; exit 3'], 3, /oops/],
    ['a signal as 128+N', ['sh', '-c', 'kill -TERM $$'], 143, /^$/],
    ['a missing program as 127', ['/nonexistent/program'], 127, /No such file/],
  ])('reports %s', async (_what, argv, code, stderr) => {
    const result = await run(argv);
    expect(result.exitCode).toBe(code);
    expect(result.stderr).toMatch(stderr);
  });

  it('ends the call when the process exits, even while a child it left behind keeps running detached', async () => {
    const started = Date.now();
    const result = await run(['sh', '-c', 'sleep 30 </dev/null >/dev/null 2>&1 & echo done']);
    expect(result.stdout.toString()).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('splits a byte stream into frames however it is chunked', () => {
    const frames: [number, string][] = [];
    const reader = new FrameReader((kind, payload) => frames.push([kind, payload.toString()]));
    const bytes = Buffer.concat([encodeFrame(FRAME.stdout, Buffer.from('ab')), encodeFrame(FRAME.stdinEnd), encodeFrame(FRAME.stderr, Buffer.from('c'))]);
    for (const byte of bytes) reader.push(Buffer.from([byte]));
    expect(frames).toEqual([[FRAME.stdout, 'ab'], [FRAME.stdinEnd, ''], [FRAME.stderr, 'c']]);
    const oversized = Buffer.alloc(5);
    oversized.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    expect(() => reader.push(oversized)).toThrow(/exceeds the cap/);
  });
});
