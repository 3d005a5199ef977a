// Runs one dom0 tool (a `qvm-*` command) with a time limit and turns every way it can fail into ToolError, ToolTimeoutError,
// ToolOutputCapError or InterruptedError, each with the reason as a field (`failure`: exit status, signal, time limit, output cap). Tools are found on PATH, so the
// simulator can put fakes first. qubes.ts uses it for Qubes' tools, askpass.ts for the askpass program.
import { execa } from 'execa';
import { InterruptedError, OperationError, TimeoutError, ToolError, type ToolFailure } from '../shared/errors.ts';
import { interruptionSignal, throwIfInterrupted } from './interruption.ts';

/** stderr in messages: enough for a Qubes error line, short enough that a VM cannot flood the terminal through qvm-run. */
export const MAX_STDERR_CHARS = 400;
/** stderr kept from a tool before sanitizing; more is a sign of a misbehaving VM (qvm-run passes the remote stderr). */
export const MAX_STDERR_BYTES = 64 * 1024;
/** Listings are small; 16 MiB is far beyond any real `qvm-block list`. */
export const DEFAULT_MAX_STDOUT_BYTES = 16 * 1024 * 1024;
/** Grace between SIGTERM and SIGKILL for a tool that timed out or was interrupted. */
export const KILL_GRACE_MS = 5_000;

export interface ToolCall {
  /** For messages: "qvm-start dm-device-disp1234". */
  readonly what: string;
  readonly timeoutMs: number;
  readonly maxStdoutBytes?: number;
}

export interface ToolResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** stderr fit for a message: printable ASCII only, whitespace runs collapsed, at most MAX_STDERR_CHARS. */
export function sanitizeStderr(raw: string | Uint8Array): string {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('latin1');
  const clean = text.replace(/[^\x21-\x7e]+/g, ' ').trim();
  return clean.length > MAX_STDERR_CHARS ? `${clean.slice(0, MAX_STDERR_CHARS - 3)}...` : clean;
}

/** Options every child gets: its own process group, so a terminal Ctrl-C reaches only us and we decide what to stop. */
export const CHILD_OPTIONS = { detached: true, reject: false } as const;

export interface Supervision {
  readonly timedOut: boolean;
  readonly canceled: boolean;
  /** Stops the whole process group now, as the time limit does (a call dom0 abandons). */
  stop(): void;
}

/**
 * Enforces the time limit and the interruption of the current scope on a started child. Both stop the whole process group
 * (the tool and whatever it started, which may hold its pipes open): SIGTERM, then SIGKILL after KILL_GRACE_MS.
 */
export function supervise(child: { pid?: number | undefined; finally(onFinally: () => void): unknown }, timeoutMs: number): Supervision {
  const signal = interruptionSignal();
  const killGroup = (name: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      // Already gone.
    }
  };
  const stop = () => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  };
  const state = { timedOut: false, canceled: false, stop };
  const timer = setTimeout(() => {
    state.timedOut = true;
    stop();
  }, timeoutMs);
  const onAbort = () => {
    state.canceled = true;
    stop();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  child.finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
  return state;
}

/** A tool stopped at its time limit; exit status 3 like every TimeoutError. */
export class ToolTimeoutError extends TimeoutError {
  constructor(
    readonly tool: string,
    readonly failure: Extract<ToolFailure, { kind: 'time-limit' }>,
    message: string,
  ) {
    super(message);
  }
}

/** A tool printed more than we read from it (a misbehaving qube behind qvm-run, or a runaway listing). */
export class ToolOutputCapError extends OperationError {
  constructor(
    readonly tool: string,
    readonly failure: Extract<ToolFailure, { kind: 'output-cap' }>,
    message: string,
  ) {
    super(message);
  }
}

/** Why a tool failed, when the error is one of a tool's (ToolError, ToolTimeoutError, ToolOutputCapError). */
export function toolFailureOf(error: unknown): ToolFailure | undefined {
  return error instanceof ToolError || error instanceof ToolTimeoutError || error instanceof ToolOutputCapError ? error.failure : undefined;
}

/** Why a finished child did not give an answer, as our error type; undefined when it did. */
export function failureOf(
  tool: string,
  call: Pick<ToolCall, 'what' | 'timeoutMs'>,
  supervision: Supervision,
  result: { exitCode?: number; signal?: string; cause?: unknown },
  stderr: string,
): Error | undefined {
  if (supervision.canceled) return new InterruptedError(`interrupted while running ${call.what}`);
  if (supervision.timedOut) return timeLimitError(tool, call);
  if (result.exitCode === undefined && result.signal) {
    return new ToolError(tool, undefined, stderr, `${call.what} was killed by ${result.signal}`, { failure: { kind: 'signal', signal: result.signal } });
  }
  if (result.exitCode === undefined) {
    const code = (result.cause as { code?: string } | undefined)?.code;
    const reason = code === 'ENOENT' ? `${tool} was not found on PATH (this must run in dom0)` : `${call.what} could not be started`;
    return new ToolError(tool, undefined, '', `${reason}${code && code !== 'ENOENT' ? ` (${code})` : ''}`, { cause: result.cause, failure: { kind: 'not-started', code } });
  }
  return undefined;
}

/** The error of a call stopped at its time limit. */
export function timeLimitError(tool: string, call: Pick<ToolCall, 'what' | 'timeoutMs'>): ToolTimeoutError {
  return new ToolTimeoutError(tool, { kind: 'time-limit', limitMs: call.timeoutMs }, `${call.what} did not finish within ${Math.ceil(call.timeoutMs / 1000)} s`);
}

/** The error of a call that ended with an exit code it does not answer with. */
export function exitStatusError(tool: string, what: string, exitCode: number, stderr: string): ToolError {
  return new ToolError(tool, exitCode, stderr, `${what} failed with exit code ${exitCode}${stderr ? `: ${stderr}` : ''}`);
}

/** The error of a call whose output passed what we read. */
export function outputCapError(tool: string, stream: 'stdout' | 'stderr', limitBytes: number, message: string): ToolOutputCapError {
  return new ToolOutputCapError(tool, { kind: 'output-cap', stream, limitBytes }, message);
}

/** Runs `tool args` with stdin closed; returns stdout for an accepted exit code, throws our errors otherwise. */
export async function runTool(tool: string, args: readonly string[], call: ToolCall): Promise<ToolResult> {
  throwIfInterrupted();
  const maxStdout = call.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
  const child = execa(tool, args, {
    ...CHILD_OPTIONS,
    stdin: 'ignore',
    encoding: 'buffer',
    stripFinalNewline: false,
    maxBuffer: { stdout: maxStdout, stderr: MAX_STDERR_BYTES },
  });
  const supervision = supervise(child, call.timeoutMs);
  const result = await child;
  const stderr = sanitizeStderr(result.stderr ?? new Uint8Array());
  if (result.isMaxBuffer) {
    if ((result.stdout?.length ?? 0) >= maxStdout) throw outputCapError(tool, 'stdout', maxStdout, `${call.what} printed more than ${maxStdout} bytes`);
    // A ToolError as before (stderr is the tool's error channel), with the cap as its reason.
    throw new ToolError(tool, undefined, stderr, `${call.what} wrote more than ${MAX_STDERR_BYTES} bytes of errors`, { failure: { kind: 'output-cap', stream: 'stderr', limitBytes: MAX_STDERR_BYTES } });
  }
  const failure = failureOf(tool, call, supervision, result, stderr);
  if (failure) throw failure;
  const exitCode = result.exitCode ?? -1;
  if (exitCode !== 0) throw exitStatusError(tool, call.what, exitCode, stderr);
  return { exitCode, stdout: Buffer.from(result.stdout ?? new Uint8Array()), stderr };
}
