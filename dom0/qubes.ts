// The one adapter through which dom0 reaches Qubes: reads of the qube list, power states, properties, features and tags, tagging
// and the hand-out of disposables as Admin API calls on qubesd's socket (qubesd-call.ts); starting, killing, removing, block
// devices and qrexec calls through the real `qvm-*` tools, found on PATH; each call with a time limit. main() makes it once, with the limits the configuration sets bound in (qubesAdapter), and hands it to the command; no module variable
// holds the limits. Failures become ToolError (tool, exit code, sanitized stderr), ToolTimeoutError, ToolOutputCapError or
// InterruptedError, each with its reason as a field (run-tool.ts); Qubes' own wording is read here only, where the tool is known.
// No call takes a secret.
import { execa } from 'execa';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { InterruptedError, OperationError, ToolError } from '../shared/errors.ts';
import { interruptionSignal, throwIfInterrupted } from './interruption.ts';
import type { VmName } from './names.ts';
import { parseAdminVmList, parseBlockList, parseCurrentState, QUBE_UUID, parseCreateDisposableNameReply, parseCreateDisposableReply, parsePropertyReply, type BlockRow, type VmFacts, type VmInfo } from './qubes-listings.ts';
import { qubesdSocketPath } from './admin-events.ts';
import { callQubesd, QubesdException, type QubesdRequest } from './qubesd-call.ts';
import { CHILD_OPTIONS, DEFAULT_MAX_STDOUT_BYTES, exitStatusError, failureOf, MAX_STDERR_BYTES, outputCapError, runTool, sanitizeStderr, supervise, timeLimitError } from './run-tool.ts';

export type { BlockRow, VmInfo } from './qubes-listings.ts';

/** Time limits, each with the reason for its size. Every function takes `{ timeoutMs }` to override. */
export const TIMEOUTS = {
  /** qubesd answers property and state queries in well under a second; 30 s allows for a dom0 under heavy load. */
  query: 30_000,
  /** qvm-create clones the template's volumes (copy-on-write, still some seconds on a slow pool). */
  create: 60_000,
  /** qvm-start boots a kernel and waits for qrexec; 30-60 s on slow laptops, more while other VMs start at the same time. */
  start: 180_000,
  /** qvm-kill is immediate; qvm-remove also deletes volumes. */
  kill: 60_000,
  remove: 120_000,
  /** qvm-block attach/detach waits for the frontend in the target VM to appear or release the disk. */
  block: 60_000,
  /** runCommand reads small files (a key file of at most 8 MiB) in a running VM. */
  command: 120_000,
  /**
   * A safety net only: each reply in a service conversation is bounded by the caller (service-call.ts), and a whole-disk
   * overwrite of a large disk legitimately takes hours.
   */
  service: 48 * 3600_000,
} as const;

/**
 * The time limits a configuration sets (config.ts reads them from the file). A limit left undefined falls back to the per-call
 * default: TIMEOUTS here, the reply timeout of each service call (service-call.ts).
 */
export interface TimeLimits {
  /** START_TIMEOUT_S: how long one `qvm-start` (or the hand-out of a disposable) may take. */
  readonly startMs?: number;
  /** REPLY_TIMEOUT_S: how long a service may stay silent while dom0 waits for its next message, or for its end. */
  readonly replyMs?: number;
  /** TOOL_TIMEOUT_S: how long any other `qvm-*` call may take (create, kill, remove, block, queries). */
  readonly toolMs?: number;
}

/** The kinds of tool call TOOL_TIMEOUT_S bounds, each with its own default in TIMEOUTS. */
export type ToolKind = 'query' | 'create' | 'kill' | 'remove' | 'block' | 'command';

/** The configured TOOL_TIMEOUT_S when set, else the tool's own default. */
function toolLimit(limits: TimeLimits, kind: ToolKind): number {
  return limits.toolMs ?? TIMEOUTS[kind];
}

export interface TimeoutOption {
  readonly timeoutMs?: number;
}

/** One Admin API call on qubesd's socket, bounded by the adapter's query limit unless the call passes its own. */
export type AskQubesd = (request: QubesdRequest, options?: TimeoutOption) => Promise<string>;

async function query(limits: TimeLimits, tool: string, args: readonly string[], what: string, options: TimeoutOption = {}): Promise<string> {
  const { stdout } = await runTool(tool, args, { what, timeoutMs: options.timeoutMs ?? toolLimit(limits, 'query') });
  return stdout.toString('utf8');
}

/** qvm-create's refusal of a name another qube has ("Qube already exists", qubesadmin/tools/qvm_create.py); nothing was created. */
export class VmExistsError extends ToolError {}

/** Creates a named, offline DisposableVM that Qubes removes when it shuts down. */
async function createDispVM(limits: TimeLimits, name: string, template: string, label: string, options: TimeoutOption = {}): Promise<void> {
  const args = ['--class', 'DispVM', '--template', template, '--label', label, '--prop', 'netvm=', '--prop', 'auto_cleanup=True', name];
  try {
    await runTool('qvm-create', args, { what: `qvm-create ${name}`, timeoutMs: options.timeoutMs ?? toolLimit(limits, 'create') });
  } catch (error) {
    if (error instanceof ToolError && /\balready exists\b/i.test(error.stderr)) throw new VmExistsError(error.tool, error.toolExitCode, error.stderr, error.message, { cause: error });
    throw error;
  }
}

export interface StartOptions extends TimeoutOption {
  /** A qube that runs already is no error (qvm-start --skip-if-running); one still starting is waited for. */
  readonly skipIfRunning?: boolean;
}

/** The bound of a call that may wait for a qube's start (qvm-start, a hand-out): the call's own, else START_TIMEOUT_S. */
const startLimit = (limits: TimeLimits, options: TimeoutOption): number => options.timeoutMs ?? limits.startMs ?? TIMEOUTS.start;

/** Starts a qube and waits until it runs. */
async function startVM(limits: TimeLimits, name: string, options: StartOptions = {}): Promise<void> {
  const args = options.skipIfRunning ? ['--skip-if-running', name] : [name];
  await runTool('qvm-start', args, { what: `qvm-start ${name}`, timeoutMs: startLimit(limits, options) });
}

/**
 * What an undo step (detach, kill, remove) came to: done now, or already undone (what it would remove was gone). Decided here,
 * from the words of the tool that ran; any other failure is thrown.
 */
export type UndoOutcome = 'done' | 'already-undone';

/** Runs an undo step's tool; `alreadyUndone` says which of its failures mean "nothing left to undo". */
async function undo(tool: string, args: readonly string[], what: string, timeoutMs: number, alreadyUndone: (error: ToolError) => boolean): Promise<UndoOutcome> {
  try {
    await runTool(tool, args, { what, timeoutMs });
    return 'done';
  } catch (error) {
    if (error instanceof ToolError && error.failure.kind === 'exit-status' && alreadyUndone(error)) return 'already-undone';
    throw error;
  }
}

/**
 * Stops a qube at once (no shutdown); a DisposableVM with auto_cleanup then disappears. A qube that no longer exists is already
 * undone; one that is halted is done (qvm-kill passes over QubesVMNotStartedError: qubes-core-admin-client
 * qubesadmin/tools/qvm_kill.py, R4.2; qubesadmin/utils kill, R4.3).
 */
function killVM(limits: TimeLimits, name: string, options: TimeoutOption = {}): Promise<UndoOutcome> {
  return undo('qvm-kill', [name], `qvm-kill ${name}`, options.timeoutMs ?? toolLimit(limits, 'kill'), isNoSuchDomain);
}

/** Removes a halted qube without asking; a qube that no longer exists is already undone. */
function removeVM(limits: TimeLimits, name: string, options: TimeoutOption = {}): Promise<UndoOutcome> {
  return undo('qvm-remove', ['-f', name], `qvm-remove ${name}`, options.timeoutMs ?? toolLimit(limits, 'remove'), isNoSuchDomain);
}

/** Whether qubesd answered a call with an exception of that type (QubesVMNotFoundError, QubesFeatureNotFoundError...). */
const qubesdSaid = (error: unknown, qubesType: string): boolean => error instanceof QubesdException && error.qubesType === qubesType;

/**
 * Whether a call was refused for naming a qube that does not exist: qubesd's QubesVMNotFoundError (AbstractQubesAPI's lookup of
 * the destination), or a tool's "no such domain: 'NAME'" and exit 2 from qubesadmin's argument parser
 * (QubesOS/qubes-core-admin-client qubesadmin/tools/__init__.py, VmNameAction / parser.error), for qvm-kill, qvm-remove and
 * qvm-block alike.
 */
function isNoSuchDomain(error: unknown): boolean {
  if (error instanceof QubesdException) return qubesdSaid(error, 'QubesVMNotFoundError');
  return error instanceof ToolError && error.failure.kind === 'exit-status' && error.failure.exitCode === 2 && /no such domain/i.test(error.stderr);
}

/** What `call` gives, or undefined when it failed as `absent` says nothing is there to give (any other failure is thrown). */
async function unless<T>(call: Promise<T>, absent: (error: unknown) => boolean): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (absent(error)) return undefined;
    throw error;
  }
}

/** What `call` gives, or undefined when it failed because no qube has the name it asked about. */
const unlessNoSuchDomain = <T>(call: Promise<T>): Promise<T | undefined> => unless(call, isNoSuchDomain);

/**
 * A qube's power state from admin.vm.CurrentState (Running, Halted, Transient...), or undefined when no qube has that name. Unlike
 * qubesadmin's get_power_state, a qubesd that closes without a reply is an error here, not "NA": read as "not running" or "gone",
 * a failed call would make detach skip its steps and kill a device VM still in use.
 */
async function powerState(ask: AskQubesd, name: string, options: TimeoutOption): Promise<string | undefined> {
  const reply = await unlessNoSuchDomain(ask({ method: 'admin.vm.CurrentState', dest: name }, options));
  return reply === undefined ? undefined : parseCurrentState(reply, `admin.vm.CurrentState on ${name}`);
}

/**
 * Whether the qube exists and is running: its power state is neither Halted nor NA, as qubesadmin's is_running reads it
 * (QubesOS/qubes-core-admin-client qubesadmin/vm/__init__.py), which `qvm-check --running` calls. Why not that tool: one
 * call on qubesd's socket instead of a Python process on every check of detach, status, clean-up and watch.
 */
async function isRunning(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<boolean> {
  const state = await powerState(ask, name, options);
  return state !== undefined && state !== 'Halted' && state !== 'NA';
}

/** Whether a qube of that name exists: qubesd answers for it (`qvm-check NAME` asks the same: is the name known to qubesd). */
async function vmExists(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<boolean> {
  return (await powerState(ask, name, options)) !== undefined;
}

/** A qube's property (admin.vm.property.Get; an unset VM property is empty). */
async function getPref(ask: AskQubesd, vm: string, prop: string, options: TimeoutOption = {}): Promise<string> {
  const request = { method: 'admin.vm.property.Get', dest: vm, arg: prop };
  return parsePropertyReply(await ask(request, options), `${prop} of ${vm}`);
}

export { QUBE_UUID } from './qubes-listings.ts';

/**
 * A qube's uuid, or undefined when no qube has that name. Why this identifies a qube where its name does not: `uuid` is a
 * write-once property that qubesd gives every qube when it is created (uuid.uuid4(), in BaseVM.on_domain_init_loaded) and never
 * reuses: QubesOS/qubes-core-admin, qubes/vm/__init__.py (`uuid = qubes.property("uuid", type=uuid.UUID, write_once=True,
 * clone=False)`), the same in R4.2 (tag v4.2.0) and R4.3. A name freed by qvm-remove can be taken by any new qube; a uuid cannot.
 */
async function vmUuid(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<string | undefined> {
  const text = await unlessNoSuchDomain(getPref(ask, name, 'uuid', options));
  if (text === undefined) return undefined;
  if (!QUBE_UUID.test(text)) throw new OperationError(`qubesd's uuid of ${name} is not a uuid (${JSON.stringify(text.slice(0, 80))})`);
  return text;
}

/** One qube as admin.vm.List lists it on that qube alone, or undefined when no qube has that name. */
async function listOneVM(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<VmInfo | undefined> {
  const reply = await unlessNoSuchDomain(ask({ method: 'admin.vm.List', dest: name }, options));
  if (reply === undefined) return undefined;
  const [vm, ...more] = parseAdminVmList(reply);
  if (!vm || more.length > 0 || vm.name !== name) throw new OperationError(`qubesd's admin.vm.List on ${name} listed ${more.length + (vm ? 1 : 0)} qubes, not ${name} alone`);
  return vm;
}

/**
 * A qube's class (DispVM, AppVM...) as admin.vm.List gives it (the qube's Python class name), or undefined when no qube has that
 * name. Why not the `klass` property: it is computed by the client, not a qubesd property (QubesOS/qubes-core-admin-client
 * commit 02bc30a, qubesadmin/tools/qvm_prefs.py; qubesd's property.Get refuses it).
 */
async function vmClass(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<string | undefined> {
  return (await listOneVM(ask, name, options))?.vmClass;
}

/** A global property (admin.property.Get on dom0). */
async function getGlobalPref(ask: AskQubesd, prop: string, options: TimeoutOption = {}): Promise<string> {
  return parsePropertyReply(await ask({ method: 'admin.property.Get', dest: 'dom0', arg: prop }, options), `global ${prop}`);
}

/** Every qube with its state and class (admin.vm.List on dom0). */
async function listVMs(ask: AskQubesd, options: TimeoutOption = {}): Promise<VmInfo[]> {
  return parseAdminVmList(await ask({ method: 'admin.vm.List', dest: 'dom0' }, options));
}

/**
 * One qube's uuid, class, state and netvm, or undefined when no qube has that name: its listing and two properties, asked at
 * once. Not one snapshot (neither is qvm-ls, which asks qubesd per qube too); each value is what qubesd said when asked.
 */
async function vmFacts(ask: AskQubesd, name: string, options: TimeoutOption = {}): Promise<VmFacts | undefined> {
  const [listed, uuid, netvm] = await Promise.all([listOneVM(ask, name, options), vmUuid(ask, name, options), unlessNoSuchDomain(getPref(ask, name, 'netvm', options))]);
  if (!listed || uuid === undefined || netvm === undefined) return undefined;
  return { name: listed.name, uuid, vmClass: listed.vmClass, state: listed.state, netvm };
}

export interface AttachOptions extends TimeoutOption {
  readonly readOnly: boolean;
  /** The device name in the target (`xvds`); Qubes requires it to start with xvd or sd. */
  readonly frontendDev?: string;
  /** R4.3's device identity (`BACKEND:PORT:DEVICE_ID`): Qubes attaches only the device that has it. */
  readonly deviceId?: string;
}

/**
 * qvm-block's refusal of a device its backend does not expose (now): not (yet) in the backend's qubesdb, or on R4.3 not the
 * device identity named. Worded by the client's DeviceAction (qubesadmin/tools/qvm_device.py): R4.2 "backend vm 'X' doesn't
 * expose device 'P'", R4.3 "backend vm X doesn't expose block device 'P'"; matched here only, where the tool is known.
 */
export class DeviceNotExposedError extends ToolError {}

const NOT_EXPOSED = /\bdoesn't expose (?:block )?device\b/;

/**
 * qubesd's refusal to attach read-write a device its backend offers only read-only: "This device can be attached only
 * read-only" (QubesOS/qubes-core-admin qubes/ext/block.py, R4.2 and R4.3).
 */
export class ReadOnlyDeviceError extends ToolError {}

const ONLY_READ_ONLY = /\bonly read-only\b/i;

/** Attaches `backend:port` (R4.3: `backend:port:deviceId`, the identity qvm-block checks) to `vm`. */
async function attachBlock(limits: TimeLimits, vm: string, backend: string, port: string, options: AttachOptions): Promise<void> {
  // Without an explicit read-only=no, Qubes silently attaches a read-only device read-only; asking for read-write makes it say so,
  // which lets the caller tell the user (ext/block.py in qubesd).
  const mode = options.readOnly ? ['--ro'] : ['-o', 'read-only=no'];
  const args = ['attach', ...mode, ...(options.frontendDev ? ['-o', `frontend-dev=${options.frontendDev}`] : [])];
  const device = `${backend}:${port}${options.deviceId === undefined ? '' : `:${options.deviceId}`}`;
  args.push(vm, device);
  try {
    await runTool('qvm-block', args, { what: `qvm-block attach ${vm} ${device}`, timeoutMs: options.timeoutMs ?? toolLimit(limits, 'block') });
  } catch (error) {
    if (!(error instanceof ToolError) || error.failure.kind !== 'exit-status') throw error;
    const Refusal = NOT_EXPOSED.test(error.stderr) ? DeviceNotExposedError : ONLY_READ_ONLY.test(error.stderr) ? ReadOnlyDeviceError : undefined;
    if (Refusal) throw new Refusal(error.tool, error.toolExitCode, error.stderr, error.message, { cause: error });
    throw error;
  }
}

/**
 * qvm-block detach's words for "nothing of that is attached to that qube", each from Qubes' sources:
 * - qubesd's refusal to detach what is not attached: R4.2 DeviceNotAttached "device PORT of class block not attached to VM"
 *   (QubesOS/qubes-core-admin qubes/devices.py, tag v4.2.9), R4.3 DeviceNotAssigned "block device PORT not attached to VM"
 *   (qubes/devices.py, DeviceCollection.detach);
 * - R4.3's client before it asks qubesd: "BACKEND:PORT:ID is not attached." and, for a port its backend no longer exposes
 *   (the mapping already removed), "BACKEND:PORT:ID not found." (qubes-core-admin-client qubesadmin/tools/qvm_device.py,
 *   detach_device);
 * - a backend qube that is gone: R4.2 "no backend vm 'NAME'", R4.3 "no such backend vm!" (qvm_device.py, DeviceAction), and the
 *   DeviceAction's "doesn't expose device" of a client that checks the port on detach too (it does on attach);
 * - a frontend qube that is gone: "no such domain" (isNoSuchDomain).
 */
const NOTHING_ATTACHED = /\bnot attached\b|\bnot found\.|\bno such backend vm\b|\bno backend vm\b|\bdoesn't expose (?:block )?device\b/;

/** Detaches `backend:port` from `vm`; already undone when Qubes says nothing of that is attached, or a qube involved is gone. */
function detachBlock(limits: TimeLimits, vm: string, backend: string, port: string, options: TimeoutOption = {}): Promise<UndoOutcome> {
  return undo('qvm-block', ['detach', vm, `${backend}:${port}`], `qvm-block detach ${vm} ${backend}:${port}`, options.timeoutMs ?? toolLimit(limits, 'block'), (error) => isNoSuchDomain(error) || NOTHING_ATTACHED.test(error.stderr));
}

/**
 * The block devices `backend` offers (and on R4.3 those attached to it), as qvm-block lists them: for the user's information
 * only (the listing is human output, not a stable interface; Qubes itself decides at attach time).
 */
async function listBlocks(limits: TimeLimits, backend: string, options: TimeoutOption = {}): Promise<BlockRow[]> {
  return parseBlockList(await query(limits, 'qvm-block', ['list', backend], `qvm-block list ${backend}`, options));
}

export interface CommandOptions extends TimeoutOption {
  /** Words for the cap's refusal: "key file vault:k" (default "qvm-run in VM's output"). */
  readonly what?: string;
}

/**
 * Runs a shell command in a running qube as `user` and returns its stdout, at most `maxStdoutBytes` (else OperationError). The cap
 * holds on the stream: bytes go into one buffer of cap + 1 as they arrive, each chunk is zeroed once copied (a key file passes
 * here), and the call is stopped the moment the cap is passed, so a qube answering with /dev/zero costs dom0 the cap and no more.
 */
async function runCommand(limits: TimeLimits, vm: VmName | string, user: string, command: string, maxStdoutBytes = DEFAULT_MAX_STDOUT_BYTES, options: CommandOptions = {}): Promise<Buffer> {
  throwIfInterrupted();
  const timeoutMs = options.timeoutMs ?? toolLimit(limits, 'command');
  const what = `qvm-run in ${vm}`;
  const child = execa('qvm-run', ['--pass-io', '--no-autostart', '--no-gui', '-u', user, vm, command], {
    ...CHILD_OPTIONS,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
  });
  const supervision = supervise(child, timeoutMs);
  const into = Buffer.alloc(maxStdoutBytes + 1);
  let filled = 0;
  const stderr = keepStderr(child.stderr);
  child.stdout.on('data', (chunk: Buffer) => {
    if (filled <= maxStdoutBytes) {
      const take = Math.min(chunk.length, into.length - filled);
      chunk.copy(into, filled, 0, take);
      filled += take;
      if (filled > maxStdoutBytes) child.kill('SIGKILL');
    }
    chunk.fill(0);
  });
  const result = await child;
  try {
    if (filled > maxStdoutBytes) throw outputCapError('qvm-run', 'stdout', maxStdoutBytes, `${options.what ?? `${what}'s output`} is larger than the limit of ${maxStdoutBytes} bytes`);
    const failure = failureOf('qvm-run', { what, timeoutMs }, supervision, result, stderr());
    if (failure) throw failure;
    if (result.exitCode !== 0) throw exitStatusError('qvm-run', what, result.exitCode ?? -1, stderr());
    return Buffer.from(into.subarray(0, filled));
  } finally {
    into.fill(0);
  }
}

/** Keeps the start of a child's stderr (the rest is drained, so the remote side never blocks on a full pipe); reads it sanitized. */
function keepStderr(stream: Readable): () => string {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (keptBytes >= MAX_STDERR_BYTES) return;
    kept.push(chunk.subarray(0, MAX_STDERR_BYTES - keptBytes));
    keptBytes += Math.min(chunk.length, MAX_STDERR_BYTES - keptBytes);
  });
  return () => sanitizeStderr(Buffer.concat(kept));
}

export interface ServiceExit {
  readonly exitCode: number;
  /** Sanitized and capped. */
  readonly stderr: string;
}

/** A qrexec service call in progress: write requests to stdin, read replies from stdout. */
export interface ServiceCall {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Ends the call at once (the conversation failed). */
  kill(): void;
  /** Settles when the call has ended: the remote exit code, or TimeoutError/InterruptedError/ToolError when it did not end normally. */
  readonly exited: Promise<ServiceExit>;
}

/** Calls `service+argument` in `vm` as root, without starting the qube; stdin and stdout are the service's. */
function runService(vm: string, service: string, argument: string, options: TimeoutOption = {}): ServiceCall {
  throwIfInterrupted();
  const timeoutMs = options.timeoutMs ?? TIMEOUTS.service;
  const what = `${service}+${argument} in ${vm}`;
  const child = execa('qvm-run', ['--pass-io', '--no-autostart', '--no-gui', '-u', 'root', '--service', vm, `${service}+${argument}`], {
    ...CHILD_OPTIONS,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
  });
  const supervision = supervise(child, timeoutMs);
  const keptStderr = keepStderr(child.stderr);
  const exited = child.then((result) => {
    const stderr = keptStderr();
    const failure = failureOf('qvm-run', { what, timeoutMs }, supervision, result, stderr);
    if (failure) throw failure;
    return { exitCode: result.exitCode ?? -1, stderr };
  });
  // Callers that abandon a call may never await `exited`; its rejection must not become an unhandled one.
  exited.catch(() => undefined);
  // Read from the start: execa discards what a finished call wrote if nobody was reading yet, and a VM may answer (and exit)
  // while dom0 is still busy with another VM (the header VM replies during the device VM's header transfer).
  const stdout = child.stdout.pipe(new PassThrough());
  const kill = (): void => {
    // The whole group: whatever qvm-run started may hold the call's pipes open.
    supervision.stop();
    // The rest of a reply dom0 stopped reading (a header area of a length it refused) is dropped: execa settles only once the
    // child's stdout has ended, and a pipe nobody drains never ends, so the call would hang instead of failing.
    child.stdout.unpipe(stdout);
    child.stdout.resume();
  };
  return { stdin: child.stdin, stdout, kill, exited };
}

/**
 * How the interactive shell's output reaches dom0's terminal. No colour (as the original split-dm-crypt runs it): qvm-run would
 * otherwise paint the whole session red on a terminal. Escape filtering always on, deliberately, although qvm-run turns it on
 * by itself only when stdout is a terminal: the shell runs as root in a header VM that holds the disk's header (attacker's
 * bytes, and modify- runs cryptsetup's C parser over them), so everything it prints is untrusted, and an escape sequence
 * reaching dom0's terminal emulator is an attack on dom0 (title reports, answerback, paste injection). qrexec's filter
 * (qubes-core-qrexec libqrexec/replace.c) keeps printable ASCII, tab, newline, CR, backspace and bell: what a line-based
 * shell on a dumb terminal needs (the header VM gives the shell TERM=dumb, so readline draws with CR and backspace only).
 * The cost: no colours, no full-screen programs, non-ASCII shown as `_`. Read from qubes-core-admin-client
 * qubesadmin/tools/qvm_run.py (filter_esc's default, colour_output/colour_stderr) and qubesadmin/app.py (`-t`, `-T`).
 */
const INTERACTIVE_OUTPUT = ['--filter-escape-chars', '--no-color-output', '--no-color-stderr'] as const;

/**
 * Runs an interactive service with dom0's own terminal (or pipes) as its stdio, for the *-header-with-shell commands.
 * On a terminal, dom0's side goes raw so every key (Ctrl-C included) reaches the remote shell's own pseudo-terminal, which
 * echoes what it should and hides passphrases; the terminal is restored afterwards. Resolves with the service's exit code.
 */
async function runInteractiveService(vm: string, service: string, argument: string, options: TimeoutOption = {}): Promise<number> {
  throwIfInterrupted();
  const timeoutMs = options.timeoutMs ?? TIMEOUTS.service;
  const what = `${service}+${argument} in ${vm}`;
  const stdin = process.stdin as typeof process.stdin & { setRawMode?: (raw: boolean) => unknown };
  const raw = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode!(true);
  try {
    // Not in a process group of its own: a child reading the terminal must be in its foreground group (else SIGTTIN).
    const child = execa('qvm-run', ['--pass-io', '--no-autostart', '--no-gui', ...INTERACTIVE_OUTPUT, '-u', 'root', '--service', vm, `${service}+${argument}`], {
      reject: false,
      stdio: 'inherit',
      timeout: timeoutMs,
      cancelSignal: interruptionSignal(),
    });
    const result = await child;
    if (result.isCanceled) throw new InterruptedError(`interrupted while running ${what}`);
    if (result.timedOut) throw timeLimitError('qvm-run', { what, timeoutMs });
    if (result.exitCode === undefined) {
      const failure = result.signal ? { kind: 'signal' as const, signal: result.signal } : { kind: 'not-started' as const, code: undefined };
      throw new ToolError('qvm-run', undefined, '', `${what} ended without an exit code${result.signal ? ` (${result.signal})` : ''}`, { failure });
    }
    return result.exitCode;
  } finally {
    if (raw) stdin.setRawMode!(false);
  }
}

/** A qube's feature (admin.vm.feature.Get), or undefined when it is not set (qubesd's QubesFeatureNotFoundError). */
async function getFeature(ask: AskQubesd, vm: string, feature: string, options: TimeoutOption = {}): Promise<string | undefined> {
  return unless(ask({ method: 'admin.vm.feature.Get', dest: vm, arg: feature }, options), (error) => qubesdSaid(error, 'QubesFeatureNotFoundError'));
}

/** A qube's tags (admin.vm.tag.List: one per line). */
async function listTags(ask: AskQubesd, vm: string, options: TimeoutOption = {}): Promise<string[]> {
  return (await ask({ method: 'admin.vm.tag.List', dest: vm }, options)).split('\n').filter((tag) => tag !== '');
}

/** Adds a tag to a qube (admin.vm.tag.Set). */
async function addTag(ask: AskQubesd, vm: string, tag: string, options: TimeoutOption = {}): Promise<void> {
  await ask({ method: 'admin.vm.tag.Set', dest: vm, arg: tag }, options);
}

/**
 * The name of the qube whose uuid is `uuid`, from R4.3's admin.vm.List on dom0 (each line ends with ` uuid=UUID`), or undefined
 * when no qube listed has it. R4.2 lists no uuids: there nothing is found (R4.2 never hands out by uuid either).
 */
async function vmNameByUuid(ask: AskQubesd, uuid: string, options: TimeoutOption = {}): Promise<string | undefined> {
  return (await listVMs(ask, options)).find((vm) => vm.uuid === uuid)?.name;
}

/**
 * admin.vm.CreateDisposable on `template` (R4.3: a preloaded disposable when the pool has one, else a new dispNNNN that is not
 * started) with the payload `uuid`, so the reply names the qube by the identity it keeps: QubesOS/qubes-core-admin
 * qubes/api/admin.py create_disposable (`"uuid:" + str(dispvm.uuid)`). R4.2 refuses a payload by closing without a reply
 * (QubesdNoReplyError). Returns the uuid. Bounded by START_TIMEOUT_S. Not interruptible by the caller's scope on purpose (the
 * caller runs it so): qubesd finishes a hand-out whatever the client does, and the reply is the only way to learn which qube it was.
 */
async function createDisposable(limits: TimeLimits, ask: AskQubesd, template: string, options: TimeoutOption = {}): Promise<string> {
  const request = { method: 'admin.vm.CreateDisposable', dest: template, payload: 'uuid' };
  const reply = await ask(request, { timeoutMs: startLimit(limits, options) });
  return parseCreateDisposableReply(reply, `admin.vm.CreateDisposable on ${template}`);
}

/**
 * admin.vm.CreateDisposable on `template` with no payload: the reply is the qube's name, which lets the caller talk to it at once
 * instead of first looking its uuid up. Asked only of a pool that has members (preloaded.ts), where the name is one of them or a
 * new dispNNNN; qubesd does not hand out a dispid again soon after its qube is gone (qubes/app.py get_new_unused_dispid,
 * _no_dispid_reuse_period), so the name keeps pointing at this qube while the caller looks it up.
 * Not interruptible by the caller's scope, for the reason createDisposable gives.
 */
async function handOutByName(limits: TimeLimits, ask: AskQubesd, template: string, options: TimeoutOption = {}): Promise<string> {
  const reply = await ask({ method: 'admin.vm.CreateDisposable', dest: template }, { timeoutMs: startLimit(limits, options) });
  return parseCreateDisposableNameReply(reply, `admin.vm.CreateDisposable on ${template}`);
}

/**
 * Qubes as dom0 sees it: every Admin API call on qubesd's socket and every call to a `qvm-*` tool, each bounded by the time
 * limits the adapter was made with (qubesAdapter) unless the call passes its own `timeoutMs`. The functions need no `this`: each
 * may be passed on alone.
 */
export interface Qubes {
  /** TOOL_TIMEOUT_S when set, else TIMEOUTS[kind]: the bound of one call of that kind (mapping-export.ts waits that long). */
  toolLimit(kind: ToolKind): number;
  /** REPLY_TIMEOUT_S when set, else `callDefaultMs`: how long a service call may wait for the next message (service-call.ts). */
  replyLimit(callDefaultMs: number): number;
  /** Creates a named, offline DisposableVM (VmExistsError when the name is taken). Tool limit ('create'). */
  createDispVM(name: string, template: string, label: string, options?: TimeoutOption): Promise<void>;
  /** Starts a qube and waits until it runs. START_TIMEOUT_S. */
  startVM(name: string, options?: StartOptions): Promise<void>;
  /** Stops a qube at once; already-undone when it no longer exists. */
  killVM(name: string, options?: TimeoutOption): Promise<UndoOutcome>;
  /** Removes a halted qube; already-undone when it no longer exists. */
  removeVM(name: string, options?: TimeoutOption): Promise<UndoOutcome>;
  isRunning(name: string, options?: TimeoutOption): Promise<boolean>;
  vmExists(name: string, options?: TimeoutOption): Promise<boolean>;
  getPref(vm: string, prop: string, options?: TimeoutOption): Promise<string>;
  /** A qube's uuid, or undefined when no qube has that name. */
  vmUuid(name: string, options?: TimeoutOption): Promise<string | undefined>;
  /** A qube's class as admin.vm.List lists it, or undefined when no qube has that name. */
  vmClass(name: string, options?: TimeoutOption): Promise<string | undefined>;
  getGlobalPref(prop: string, options?: TimeoutOption): Promise<string>;
  listVMs(options?: TimeoutOption): Promise<VmInfo[]>;
  /** DeviceNotExposedError or ReadOnlyDeviceError for Qubes' two refusals the callers act on. */
  attachBlock(vm: string, backend: string, port: string, options: AttachOptions): Promise<void>;
  detachBlock(vm: string, backend: string, port: string, options?: TimeoutOption): Promise<UndoOutcome>;
  listBlocks(backend: string, options?: TimeoutOption): Promise<BlockRow[]>;
  /** A shell command's stdout in a running qube, capped as it streams. */
  runCommand(vm: VmName | string, user: string, command: string, maxStdoutBytes?: number, options?: CommandOptions): Promise<Buffer>;
  /** A qrexec service call in `vm` as root; its whole length is bounded only by the safety net TIMEOUTS.service. */
  runService(vm: string, service: string, argument: string, options?: TimeoutOption): ServiceCall;
  /** An interactive service on dom0's terminal; resolves with its exit code. */
  runInteractiveService(vm: string, service: string, argument: string, options?: TimeoutOption): Promise<number>;
  getFeature(vm: string, feature: string, options?: TimeoutOption): Promise<string | undefined>;
  listTags(vm: string, options?: TimeoutOption): Promise<string[]>;
  addTag(vm: string, tag: string, options?: TimeoutOption): Promise<void>;
  /** The name of the qube with that uuid (R4.3's admin.vm.List lists uuids), or undefined. */
  vmNameByUuid(uuid: string, options?: TimeoutOption): Promise<string | undefined>;
  /** One qube's uuid, class, state and netvm, or undefined when no qube has that name. */
  vmFacts(name: string, options?: TimeoutOption): Promise<VmFacts | undefined>;
  /** admin.vm.CreateDisposable on `template`; returns the uuid of the qube handed out. START_TIMEOUT_S. */
  createDisposable(template: string, options?: TimeoutOption): Promise<string>;
  /** admin.vm.CreateDisposable on `template` with no payload; returns the name of the qube handed out. START_TIMEOUT_S. */
  handOutByName(template: string, options?: TimeoutOption): Promise<string>;
}

/**
 * The adapter with `limits` bound into every call (a copy: the caller's object changing later changes nothing here), and qubesd's
 * socket: $SPLIT_DM_CRYPT_QUBESD_SOCKET when set (the simulator's), else qubesadmin's.
 */
export function qubesAdapter(limits: TimeLimits, socketPath: string = qubesdSocketPath()): Qubes {
  const bound: TimeLimits = Object.freeze({ ...limits });
  const withLimits =
    <A extends unknown[], R>(call: (limits: TimeLimits, ...args: A) => R) =>
    (...args: A): R =>
      call(bound, ...args);
  const ask: AskQubesd = (request, options = {}) => callQubesd(request, { socketPath, timeoutMs: options.timeoutMs ?? toolLimit(bound, 'query') });
  const withQubesd =
    <A extends unknown[], R>(call: (ask: AskQubesd, ...args: A) => R) =>
    (...args: A): R =>
      call(ask, ...args);
  return Object.freeze({
    toolLimit: withLimits(toolLimit),
    replyLimit: (callDefaultMs: number) => bound.replyMs ?? callDefaultMs,
    createDispVM: withLimits(createDispVM),
    startVM: withLimits(startVM),
    killVM: withLimits(killVM),
    removeVM: withLimits(removeVM),
    isRunning: withQubesd(isRunning),
    vmExists: withQubesd(vmExists),
    getPref: withQubesd(getPref),
    vmUuid: withQubesd(vmUuid),
    vmClass: withQubesd(vmClass),
    getGlobalPref: withQubesd(getGlobalPref),
    listVMs: withQubesd(listVMs),
    attachBlock: withLimits(attachBlock),
    detachBlock: withLimits(detachBlock),
    listBlocks: withLimits(listBlocks),
    runCommand: withLimits(runCommand),
    runService,
    runInteractiveService,
    getFeature: withQubesd(getFeature),
    listTags: withQubesd(listTags),
    addTag: withQubesd(addTag),
    vmNameByUuid: withQubesd(vmNameByUuid),
    vmFacts: withQubesd(vmFacts),
    createDisposable: (template: string, options?: TimeoutOption) => createDisposable(bound, ask, template, options),
    handOutByName: (template: string, options?: TimeoutOption) => handOutByName(bound, ask, template, options),
  });
}
