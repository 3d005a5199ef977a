// The agent inside a QEMU guest (`qubes-sim guest-agent VMROOT`, started by the guest's init): it lays the simulated qube's own
// tree (the DVM template's /etc/qubes-rpc, /usr/lib/split-dm-crypt, udev rules, /home/user) over the guest's root, then runs
// what dom0 asks, one process per TCP connection, relaying stdin/stdout/stderr and the exit code as qrexec-agent does.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { AGENT_GUEST_PORT, encodeFrame, exitFrame, FRAME, FrameReader, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, parseExecRequest, type ExecRequest } from './agent-protocol.ts';

/** Top-level folders a qube's kernel provides itself: never taken from the simulated tree. */
const KERNEL_FOLDERS = new Set(['dev', 'sys', 'run', 'proc', 'tmp']);

/** Bind-mounts every entry of `from` that `onto` lacks; recurses where both hold a folder. */
function overlayTree(from: string, onto: string, top: boolean): void {
  for (const entry of readdirSync(from)) {
    if (top && KERNEL_FOLDERS.has(entry)) continue;
    const source = join(from, entry);
    const target = join(onto, entry);
    const sourceIsDir = statSync(source).isDirectory();
    const present = existsSync(target);
    if (present && sourceIsDir && statSync(target).isDirectory()) {
      overlayTree(source, target, false);
      continue;
    }
    if (present && lstatSync(target).isSymbolicLink()) continue;
    if (!present) {
      if (sourceIsDir) mkdirSync(target);
      else closeSync(openSync(target, 'w'));
    }
    const bound = spawnSync('mount', ['--bind', source, target], { stdio: 'inherit' });
    if (bound.status !== 0) throw new Error(`cannot bind ${source} onto ${target}`);
  }
}

/** Splits `data` into frames no larger than the cap. */
function sendChunked(socket: Socket, kind: typeof FRAME.stdout | typeof FRAME.stderr, data: Buffer): boolean {
  let flushed = true;
  for (let at = 0; at < data.length; at += MAX_FRAME_BYTES) flushed = socket.write(encodeFrame(kind, data.subarray(at, at + MAX_FRAME_BYTES)));
  return flushed;
}

function run(socket: Socket, request: ExecRequest, rest: Buffer): void {
  const child = spawn(request.argv[0]!, request.argv.slice(1), { env: { ...request.env }, cwd: request.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let finished = false;
  // dom0 went away (qvm-run interrupted): the call's processes go with it, as when qrexec's connection closes.
  socket.on('close', () => {
    if (finished || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  const reader = new FrameReader((kind, payload) => {
    if (kind === FRAME.stdin && !child.stdin.destroyed && !child.stdin.write(payload)) socket.pause();
    if (kind === FRAME.stdinEnd) child.stdin.end();
  });
  child.stdin.on('drain', () => socket.resume());
  child.stdin.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  if (rest.length > 0) reader.push(rest);
  for (const [stream, kind] of [[child.stdout, FRAME.stdout], [child.stderr, FRAME.stderr]] as const) {
    stream.on('data', (chunk: Buffer) => {
      if (!sendChunked(socket, kind, chunk)) stream.pause();
    });
  }
  socket.on('drain', () => {
    child.stdout.resume();
    child.stderr.resume();
  });
  child.on('error', (error: NodeJS.ErrnoException) => {
    finished = true;
    socket.end(encodeFrame(FRAME.spawnError, Buffer.from(`${request.argv[0]}: ${error.code === 'EACCES' ? 'Permission denied' : 'No such file or directory'}`)));
  });
  // The call ends when the process has exited and closed its output (qrexec's rule), even while stdin is still open.
  child.on('close', (code, signal) => {
    finished = true;
    socket.end(exitFrame(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

function serve(socket: Socket): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const newline = head.indexOf(0x0a);
    if (newline < 0) {
      if (head.length > MAX_REQUEST_BYTES) socket.destroy();
      return;
    }
    socket.off('data', onData);
    try {
      run(socket, parseExecRequest(head.subarray(0, newline).toString('utf8')), head.subarray(newline + 1));
    } catch (error) {
      socket.end(encodeFrame(FRAME.spawnError, Buffer.from((error as Error).message)));
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}

/** Where a qube's tree keeps udev rules (udev(7)). */
const RULE_DIRS = ['usr/lib/udev/rules.d', 'usr/local/lib/udev/rules.d', 'etc/udev/rules.d'];

/**
 * The qube's rules name the source disk by Xen's kernel name (KERNEL=="xvd*"); a virtio disk is vdX whatever its frontend
 * name, so each rule file that matches xvd* also gets, under the same name in /run/udev/rules.d (which takes precedence),
 * a copy matching vd* too. Nothing else in the rules changes; the dm-* rules are used exactly as installed.
 */
function adaptDiskRules(vmRoot: string): void {
  mkdirSync('/run/udev/rules.d', { recursive: true });
  for (const dir of RULE_DIRS.map((d) => join(vmRoot, d)).filter((d) => existsSync(d))) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.rules'))) {
      const text = readFileSync(join(dir, name), 'utf8');
      if (text.includes('KERNEL=="xvd*"')) writeFileSync(join('/run/udev/rules.d', name), text.replaceAll('KERNEL=="xvd*"', 'KERNEL=="xvd*|vd*"'));
    }
  }
}

/** systemd-udevd as a qube runs it, with the qube's own rules (laid over /usr/lib/udev/rules.d above). */
function startUdev(vmRoot: string): void {
  adaptDiskRules(vmRoot);
  // Only block devices are replayed: the rest of the guest's hardware (PCI, input, tty) is not what this tier tests.
  const steps = [['/lib/systemd/systemd-udevd', '--daemon'], ['udevadm', 'trigger', '--action=add', '--subsystem-match=block'], ['udevadm', 'settle', '--timeout=60']];
  for (const argv of steps) {
    const result = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`guest-agent: ${argv.join(' ')} failed`);
  }
}

/** The agent's server alone (the transport's tests run it on the host, on a free port of 127.0.0.1). */
export async function listenAgent(port: number, host: string): Promise<Server> {
  const server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

/** `guest-agent VMROOT [UDEV]`: returns only if the server fails; the guest's init then powers off. */
export async function guestAgent([vmRoot, udev]: readonly string[]): Promise<number> {
  if (!vmRoot || !existsSync(vmRoot)) throw new Error(`guest-agent: no qube tree at ${vmRoot ?? ''}`);
  const uptime = (): string => readFileSync('/proc/uptime', 'latin1').split(' ')[0] ?? '?';
  process.stdout.write(`qubes-sim guest agent: started at ${uptime()} s\n`);
  overlayTree(vmRoot, '/', true);
  if (udev === '1') startUdev(vmRoot);
  const server = await listenAgent(AGENT_GUEST_PORT, '0.0.0.0');
  process.stdout.write(`qubes-sim guest agent: ready at ${uptime()} s\n`);
  return new Promise((resolve) => server.on('close', () => resolve(1)));
}
