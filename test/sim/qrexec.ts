// Fake qvm-run: a command (`sh -c`) or a qrexec service, looked up in the qube's tree in qrexec's order and run with qrexec's
// environment (REFERENCE section 3). stdin/stdout/stderr are relayed, and every byte crossing dom0 is appended to the transcript.
// In a QEMU guest the guest agent runs the command or service (qemu/guest-agent.ts), reached over the agent's TCP port.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { callAgent, guestEnvironment } from './qemu/agent-client.ts';
import { guestRuntime } from './qemu/guest-vm.ts';
import { qvmStart } from './qvm-lifecycle.ts';
import { parseToolArgs, usageError, type ToolArgs } from './tool-args.ts';
import { outputPolicy, replaceChars, sessionNeverStarts, waitForeverForSession, waitsForSession, type OutputPolicy } from './qvm-run-client.ts';
import { readState, transcriptPath, vmProcsDir, vmRoot } from './state.ts';
import { beforeService } from './faults.ts';
import { takeOverSignals } from './signals.ts';

/** qrexec's exit codes for a call that never reached a service. */
export const QREXEC_EXIT = { notFound: 127, refused: 126, failure: 125 } as const;
const SERVICE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SERVICE_ARGUMENT = /^[A-Za-z0-9_.+-]{0,64}$/;

/** REFERENCE section 3: SVC+ARG before SVC, /usr/local/etc before /etc. */
export function findService(root: string, name: string, argument: string): string | undefined {
  const candidates = [
    ...(argument ? [`usr/local/etc/qubes-rpc/${name}+${argument}`, `etc/qubes-rpc/${name}+${argument}`] : []),
    `usr/local/etc/qubes-rpc/${name}`,
    `etc/qubes-rpc/${name}`,
  ];
  return candidates.map((c) => join(root, c)).find((path) => existsSync(path));
}

/** The environment of a process in `vm`: the VM-side fakes first on PATH, never dom0's tools or dom0's settings. */
export function vmEnvironment(dir: string, vm: string): NodeJS.ProcessEnv {
  const hostPath = (process.env.PATH ?? '').split(delimiter).filter((p) => p !== '' && p !== join(dir, 'bin'));
  const keep = ['LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'NODE_OPTIONS'].filter((k) => process.env[k] !== undefined);
  return {
    ...Object.fromEntries(keep.map((k) => [k, process.env[k]])),
    PATH: [join(dir, 'vm-bin'), ...hostPath].join(delimiter),
    HOME: join(vmRoot(dir, vm), 'home/user'),
    USER: 'user',
    QUBES_SIM_DIR: dir,
    QUBES_SIM_VM: vm,
    SPLIT_DM_CRYPT_SYSROOT: vmRoot(dir, vm),
  };
}

const record = (dir: string, bytes: string | Buffer): void => appendFileSync(transcriptPath(dir), bytes);

/** Past this, a command's section is written as it comes after all (dom0 caps what it reads from a command far below it). */
const MAX_HELD_SECTION_BYTES = 64 * 1024 * 1024;

/**
 * Where one call's bytes go in the transcript. A service's go as they cross (a service call can last hours). A command's
 * (`qvm-run VM CMD`, short: dom0 reads a key file so) are held and written in one append when it ends, so that calls running at
 * the same time cannot cut its section in two: a reader that splits the transcript at `--- qvm-run` headers finds all of a
 * command's bytes under its own header.
 */
function transcriptSection(dir: string, label: string, held: boolean) {
  const chunks: Buffer[] = [];
  let size = 0;
  const add = (bytes: string | Buffer): void => {
    if (!held || size > MAX_HELD_SECTION_BYTES) return record(dir, bytes);
    const chunk = Buffer.from(bytes);
    chunks.push(chunk);
    size += chunk.length;
  };
  add(`\n--- qvm-run ${label}\n`);
  return {
    add,
    /** The section's last line, and for a held section the whole of it in one write. */
    end(trailer: string): void {
      add(trailer);
      if (chunks.length > 0) record(dir, Buffer.concat(chunks.splice(0)));
    },
  };
}

/** The writer of one output stream: as qrexec-client passes it, replaced characters and all. */
function outputWriter(section: ReturnType<typeof transcriptSection>, to: NodeJS.WriteStream, filter: boolean) {
  return (chunk: Buffer): boolean => {
    section.add(chunk);
    return to.write(filter ? replaceChars(chunk) : chunk);
  };
}

/** Relays stdio between dom0's caller and the process in the qube; resolves with the qrexec exit code. */
function relay(dir: string, vm: string, label: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, output: OutputPolicy, held = false): Promise<number> {
  const section = transcriptSection(dir, label, held);
  const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const procFile = child.pid === undefined ? undefined : join(vmProcsDir(dir, vm), String(child.pid));
  if (procFile) {
    mkdirSync(vmProcsDir(dir, vm), { recursive: true });
    writeFileSync(procFile, '');
  }
  // qvm-run interrupted: on Ctrl-C qvm_run.py signals only its own local qrexec-client, and qrexec just closes the
  // connection (REFERENCE section 9); nothing signals the remote process. The service lives on until it reads EOF on stdin,
  // fails to write (EPIPE), ends by itself, or its qube is killed.
  takeOverSignals((signal, code) => {
    child.stdin.destroy();
    section.end(`\n--- qvm-run ${label}: interrupted by ${signal}\n`);
    process.exit(code);
  });
  process.stdin.on('data', (chunk: Buffer) => {
    section.add(chunk);
    if (!child.stdin.write(chunk)) process.stdin.pause();
  });
  child.stdin.on('drain', () => process.stdin.resume());
  process.stdin.on('end', () => child.stdin.end());
  process.stdin.on('error', () => child.stdin.end());
  child.stdin.on('error', () => process.stdin.pause());
  for (const [from, to, filter] of [[child.stdout, process.stdout, output.filterStdout], [child.stderr, process.stderr, output.filterStderr]] as const) {
    const write = outputWriter(section, to, filter);
    from.on('data', (chunk: Buffer) => {
      if (!write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
  }
  return new Promise((resolve) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      const message = `${command}: ${error.code === 'EACCES' ? 'Permission denied' : 'No such file or directory'}\n`;
      section.end(message);
      process.stderr.write(message);
      resolve(error.code === 'EACCES' ? QREXEC_EXIT.refused : QREXEC_EXIT.notFound);
    });
    // Like qrexec, the call ends when the process has exited and closed its output, even while dom0 still holds stdin open.
    child.on('close', (code, signal) => {
      if (procFile) rmSync(procFile, { force: true });
      const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      section.end(`\n--- qvm-run ${label}: exit ${exitCode}\n`);
      resolve(exitCode);
    });
  });
}

/**
 * The same relay to a process in a QEMU guest: the agent runs it. Unlike relay() and real qrexec, the agent still kills the
 * call's processes when the connection closes (qemu/guest-agent.ts; not changed: those guests are powered off by qvm-kill).
 */
async function relayToGuest(dir: string, vm: string, label: string, argv: readonly string[], env: Record<string, string>, held = false): Promise<number> {
  const runtime = guestRuntime(dir, vm);
  if (!runtime) throw new Error(`qvm-run: ${vm} has no running QEMU guest`);
  const section = transcriptSection(dir, label, held);
  takeOverSignals((signal, code) => {
    section.end(`\n--- qvm-run ${label}: interrupted by ${signal}\n`);
    process.exit(code);
  });
  const stdin = process.stdin;
  stdin.on('data', (chunk: Buffer) => section.add(chunk));
  const relayed = (to: NodeJS.WriteStream) => (chunk: Buffer) => {
    section.add(chunk);
    to.write(chunk);
  };
  const exitCode = await callAgent(runtime.port, { argv, env, cwd: '/home/user' }, { stdin, onStdout: relayed(process.stdout), onStderr: relayed(process.stderr) });
  section.end(`\n--- qvm-run ${label}: exit ${exitCode}\n`);
  return exitCode;
}

/** `NAME+ARGUMENT` checked by qrexec's rules and found in the qube's tree; or the exit code qrexec gives (recorded in the transcript). */
function lookUpService(dir: string, vm: string, root: string, target: string): { name: string; argument: string; file: string } | number {
  const plus = target.indexOf('+');
  const [name, argument] = plus < 0 ? [target, ''] : [target.slice(0, plus), target.slice(plus + 1)];
  if (!SERVICE_NAME.test(name) || !SERVICE_ARGUMENT.test(argument)) {
    record(dir, `\n--- qvm-run ${vm} ${target}: invalid service name\n`);
    return QREXEC_EXIT.failure;
  }
  const file = findService(root, name, argument);
  if (!file) {
    record(dir, `\n--- qvm-run ${vm} ${target}: service not found, exit 127\n`);
    return QREXEC_EXIT.notFound;
  }
  return { name, argument, file };
}

/**
 * `qvm-run [--pass-io] [--no-autostart] [-u USER] [--service] VMNAME COMMAND`. Exit code: the remote one; 1 when the qube is
 * not running and --no-autostart was given (silent with --pass-io, as qvm-run is); 127 for a service that does not exist.
 */
export async function qvmRun(dir: string, rawArgs: readonly string[]): Promise<number> {
  const args = parseToolArgs('qvm-run', rawArgs, {
    valued: [['--user', '-u'], ['--color-output', '--colour-output'], ['--color-stderr', '--colour-stderr']],
    flags: [
      ['--pass-io', '-p'], ['--no-autostart', '--no-auto', '-n'], ['--autostart', '--auto', '-a'], ['--service'], ['--gui'], ['--no-gui', '--nogui'], ['--quiet', '-q'],
      ['--verbose', '-v'], ['--no-color-output', '--no-colour-output'], ['--no-color-stderr', '--no-colour-stderr'], ['--no-filter-escape-chars'], ['--filter-escape-chars'], ['--no-shell'],
    ],
    stopAtPositional: 1,
  });
  const [vmName, ...command] = args.positionals;
  const target = command.join(' ');
  if (vmName === undefined || target === '') throw usageError('qvm-run', 'the following arguments are required: VMNAME, COMMAND');
  const output = outputPolicy('qvm-run', rawArgs.slice(0, rawArgs.length - command.length), args);
  const state = readState(dir);
  const vm = state.vms[vmName];
  if (!vm) throw usageError('qvm-run', `no such domain: '${vmName}'`);
  if (!vm.running) {
    if (args.flags.has('--no-autostart')) {
      if (!args.flags.has('--pass-io')) process.stderr.write(`Qube '${vmName}' not started\n`);
      return 1;
    }
    const started = await qvmStart(dir, ['--skip-if-running', vmName]);
    if (started !== 0) return 1;
  }
  if (waitsForSession(rawArgs.slice(0, rawArgs.length - command.length))) await waitForSession(dir, vmName);
  if (output.colourStdout) process.stdout.write(`\x1b[0;${output.colourStdout}m`);
  if (output.colourStderr) process.stderr.write(`\x1b[0;${output.colourStderr}m`);
  try {
    return await runTarget(dir, vmName, target, args, output);
  } finally {
    if (output.colourStdout) process.stdout.write('\x1b[0m');
    if (output.colourStderr) process.stderr.write('\x1b[0m');
  }
}

/** qvm_run.py: qubes.WaitForSession in the qube before the call itself, its output discarded; recorded as a service call. */
async function waitForSession(dir: string, vm: string): Promise<void> {
  record(dir, `\n--- qvm-run ${vm} qubes.WaitForSession\n`);
  await beforeService(dir, vm, 'qubes.WaitForSession', '', {});
  const state = readState(dir);
  const qube = state.vms[vm];
  if (qube && sessionNeverStarts(state, qube)) await waitForeverForSession();
}

async function runTarget(dir: string, vmName: string, target: string, args: ToolArgs, output: OutputPolicy): Promise<number> {
  const root = vmRoot(dir, vmName);
  const user = args.values.get('--user')?.at(-1) ?? 'user';
  if (readState(dir).vms[vmName]?.qemu) return runInGuest(dir, vmName, root, target, args.flags.has('--service'), user);
  const env = vmEnvironment(dir, vmName);
  const cwd = join(root, 'home/user');
  if (!args.flags.has('--service')) return relay(dir, vmName, `${vmName} (${user}) ${target}`, 'sh', ['-c', target], env, cwd, output, true);
  const found = lookUpService(dir, vmName, root, target);
  if (typeof found === 'number') return found;
  const { name, argument, file } = found;
  Object.assign(env, { QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_SERVICE_ARGUMENT: argument, QREXEC_SERVICE_FULL_NAME: target });
  const injected = await beforeService(dir, vmName, name, argument, env);
  if (injected !== undefined) return injected;
  return relay(dir, vmName, `${vmName} (${user}) service ${target}`, file, argument ? [argument] : [], env, cwd, output);
}

/** qvm-run into a QEMU guest: a command through `sh -c`, or a service found in the qube's tree and run at its path in the guest. */
async function runInGuest(dir: string, vm: string, root: string, target: string, service: boolean, user: string): Promise<number> {
  if (!service) return relayToGuest(dir, vm, `${vm} (${user}) ${target}`, ['sh', '-c', target], guestEnvironment(), true);
  // The guest sees the qube's tree laid over its root, so the file found here is at the same path there.
  const found = lookUpService(dir, vm, root, target);
  if (typeof found === 'number') return found;
  const { name, argument, file } = found;
  const env = guestEnvironment({ QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_SERVICE_ARGUMENT: argument, QREXEC_SERVICE_FULL_NAME: target });
  const injected = await beforeService(dir, vm, name, argument, env);
  if (injected !== undefined) return injected;
  return relayToGuest(dir, vm, `${vm} (${user}) service ${target}`, [`/${relative(root, file)}`, ...(argument ? [argument] : [])], env);
}
