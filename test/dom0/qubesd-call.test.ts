// callQubesd against a socket server scripted per test: the bytes dom0 sends (qubesadmin's framing), the reply parsed once
// (a value, qubesd's exception, or a refusal of anything else), and the bounds: the time limit, the reply cap, Ctrl-C, and a
// call that would not frame. Each worst reply a broken or hostile qubesd socket could give is refused with an error naming the call.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InterruptedError, ParseError, ToolError } from '../../shared/errors.ts';
import { runInterruptible } from '../../dom0/interruption.ts';
import { callQubesd, encodeRequest, QubesdException } from '../../dom0/qubesd-call.ts';
import { toolFailureOf } from '../../dom0/run-tool.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();
let server: Server | undefined;
let received: Buffer[] = [];
afterEach(() => {
  server?.close();
  server = undefined;
  received = [];
});

/** Serves one socket; `answer` gets each request (as read until the client's EOF) and the socket to answer on. */
async function serve(answer: (request: Buffer, socket: Socket) => void): Promise<string> {
  const path = join(tmp, `qubesd-${Math.random().toString(16).slice(2)}.sock`);
  server = createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const request = Buffer.concat(chunks);
      received.push(request);
      answer(request, socket);
    });
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  return path;
}

const replying = (bytes: Buffer | string) => serve((_request, socket) => socket.end(bytes));
const call = (socketPath: string, timeoutMs = 5_000, maxReplyBytes?: number) =>
  callQubesd({ method: 'admin.vm.property.Get', dest: 'work', arg: 'netvm' }, { socketPath, timeoutMs, ...(maxReplyBytes ? { maxReplyBytes } : {}) });

describe('callQubesd', () => {
  it('sends qubesadmin\'s framing, half-closes, and returns the value of a `0` reply', async () => {
    const path = await replying('0\0default=False type=vm sys-firewall');
    expect(await call(path)).toBe('default=False type=vm sys-firewall');
    expect(received.map((request) => request.toString('latin1'))).toEqual(['admin.vm.property.Get+netvm dom0 name work\0']);
    // A call without an argument keeps the `+`, as qubesadmin writes it.
    expect(encodeRequest({ method: 'admin.vm.List', dest: 'dom0' }).toString('latin1')).toBe('admin.vm.List+ dom0 name dom0\0');
  });

  it('turns qubesd\'s exception reply into QubesdException with its type and sanitized message', async () => {
    const path = await replying('2\0QubesVMNotFoundError\0\0No such domain: \'work\x1b[31m\'\0');
    const error = await call(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QubesdException);
    expect(error).toMatchObject({ qubesType: 'QubesVMNotFoundError', tool: 'qubesd', stderr: "No such domain: 'work [31m'" });
    expect((error as Error).message).toBe("admin.vm.property.Get+netvm on work failed: QubesVMNotFoundError: No such domain: 'work [31m'");
  });

  it.each<[string, Buffer | string, RegExp]>([
    ['nothing (qubesd dropped the call)', '', /closed the connection without a reply/],
    ['one byte', '0', /has no header/],
    ['an event header', '1\0\0domain-start\0\0', /unknown header \(0x31\)/],
    ['a value that is not UTF-8', Buffer.from([0x30, 0, 0xff, 0xfe]), /is not UTF-8/],
    ['an exception without its final NUL', '2\0QubesException\0\0message', /malformed exception/],
    ['an exception with a field too many', '2\0QubesException\0\0message\0extra\0', /malformed exception/],
    ['an exception type that is not a class name', '2\0Qubes Exception\0\0message\0', /malformed exception/],
    ['random bytes', Buffer.concat([Buffer.from('7'), randomBytes(300)]), /unknown header|no header/],
  ])('refuses %s, naming the call', async (_case, reply, message) => {
    const path = await replying(reply);
    const error = await call(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect(error).not.toBeInstanceOf(QubesdException);
    expect((error as Error).message).toMatch(/^admin\.vm\.property\.Get\+netvm on work: /);
    expect((error as Error).message).toMatch(message);
  });

  it('stops a qubesd that never answers at the time limit', async () => {
    const path = await serve(() => undefined);
    const started = Date.now();
    const error = await call(path, 300).catch((e: unknown) => e);
    expect(toolFailureOf(error)).toEqual({ kind: 'time-limit', limitMs: 300 });
    expect((error as Error).message).toBe('admin.vm.property.Get+netvm on work: qubesd did not answer within 1 s');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('stops reading at the reply cap, before the reply ends', async () => {
    const path = await serve((_request, socket) => {
      socket.write('0\0');
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (socket.writable && socket.write(chunk));
      };
      socket.on('drain', pump);
      pump();
    });
    const error = await call(path, 10_000, 256 * 1024).catch((e: unknown) => e);
    expect(toolFailureOf(error)).toEqual({ kind: 'output-cap', stream: 'stdout', limitBytes: 256 * 1024 });
  });

  it('is ended by an interruption of its scope (Ctrl-C)', async () => {
    const path = await serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(runInterruptible(controller.signal, () => call(path))).rejects.toThrow(InterruptedError);
  });

  it('says qubesd is not reachable when nothing listens on the socket', async () => {
    const error = await call(join(tmp, 'no-such.sock')).catch((e: unknown) => e);
    expect(toolFailureOf(error)).toEqual({ kind: 'not-started', code: 'ENOENT' });
    expect((error as Error).message).toMatch(/qubesd is not reachable at .*no-such\.sock \(this must run in dom0\)/);
  });

  it.each([
    ['a space in the destination', { method: 'admin.vm.List', dest: 'dom0 name work' }],
    ['a NUL in the argument', { method: 'admin.vm.property.Get', dest: 'work', arg: 'netvm\0x' }],
    ['a space in the argument', { method: 'admin.vm.tag.Set', dest: 'work', arg: 'a b' }],
    ['a method that is not an Admin API call', { method: 'qubes.VMShell', dest: 'work' }],
  ])('refuses to send a call with %s (it would frame as another call)', async (_case, request) => {
    const path = await replying('0\0');
    await expect(callQubesd(request, { socketPath: path, timeoutMs: 1_000 })).rejects.toThrow(/refusing to send qubesd a malformed call/);
    expect(received).toEqual([]);
  });
});

describe('replies the adapter parses', () => {
  it('is strict about a property reply (ParseError names the property)', async () => {
    const { parsePropertyReply } = await import('../../dom0/qubes-listings.ts');
    expect(parsePropertyReply('default=True type=bool True', 'x')).toBe('True');
    expect(() => parsePropertyReply('default=True type=bool', 'auto_cleanup of work')).toThrow(ParseError);
    expect(() => parsePropertyReply('default=True type=bool', 'auto_cleanup of work')).toThrow(/auto_cleanup of work/);
  });
});
