// The few error types of the project. Each carries a stable exit code; only `main` functions turn them into exits.
// Messages are lowercase, without a trailing period, and never contain a passphrase or key byte.

/** Exit codes shared by every entry point (sysexits-style where one fits). */
export const EXIT = {
  ok: 0,
  failure: 1,
  wrongPassphrase: 2,
  timeout: 3,
  interrupted: 130,
  usage: 64,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base class: a message safe to show the user and an exit code. */
export abstract class SplitError extends Error {
  abstract readonly exitCode: number;
}

/** The command line was wrong: the user can fix it by reading --help. */
export class UsageError extends SplitError {
  readonly exitCode = EXIT.usage;
  override readonly name = 'UsageError';
}

/** Untrusted bytes did not match the format: names the format, the field and its byte offset. */
export class ParseError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'ParseError';
  constructor(
    readonly format: string,
    readonly field: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`invalid ${format} ${field} at byte ${offset}: ${reason}`);
  }

  /** The same error naming where the bytes came from: "... (from device VM dm-device-disp1234)". */
  attributedTo(peer: string): ParseError {
    return new ParseError(this.format, this.field, this.offset, `${this.reason} (from ${peer})`);
  }
}

/**
 * A well-formed message that breaks the protocol where no byte offset applies: a peer announced a length other than the one
 * agreed, or more than was asked for. Sent to the peer as a 'parse' error, like a ParseError.
 */
export class ProtocolError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'ProtocolError';
  constructor(
    /** What was announced: "header area". */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid protocol stream ${field}: ${reason}`);
  }
}

/** Well-formed input that uses a feature we deliberately do not implement (a cipher, a hash, a LUKS version). */
export class UnsupportedError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'UnsupportedError';
}

/** No key slot opened with the passphrase or key file given. */
export class WrongPassphraseError extends SplitError {
  readonly exitCode = EXIT.wrongPassphrase;
  override readonly name = 'WrongPassphraseError';
  constructor(message = 'no key slot matches the passphrase or key file') {
    super(message);
  }
}

/**
 * Why a tool gave no answer, as facts (execa's exitCode, signal, timedOut, isMaxBuffer): callers branch on these, never on the
 * message. `not-started`'s code is the spawn error's (ENOENT).
 */
export type ToolFailure =
  | { readonly kind: 'exit-status'; readonly exitCode: number }
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'not-started'; readonly code: string | undefined }
  | { readonly kind: 'output-cap'; readonly stream: 'stdout' | 'stderr'; readonly limitBytes: number }
  | { readonly kind: 'time-limit'; readonly limitMs: number };

/** An external tool failed: its name, its exit code, (already sanitized) stderr and why (`failure`). */
export class ToolError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'ToolError';
  /** Why it failed; without one given, its exit status (or, with no exit code, that it did not start). */
  readonly failure: ToolFailure;
  constructor(
    readonly tool: string,
    readonly toolExitCode: number | undefined,
    readonly stderr: string,
    message?: string,
    options?: { cause?: unknown; failure?: ToolFailure },
  ) {
    super(message ?? `${tool} failed${toolExitCode === undefined ? '' : ` with exit code ${toolExitCode}`}${stderr ? `: ${stderr}` : ''}`, options);
    this.failure = options?.failure ?? (toolExitCode === undefined ? { kind: 'not-started', code: undefined } : { kind: 'exit-status', exitCode: toolExitCode });
  }
}

/** A step did not finish within its time limit. */
export class TimeoutError extends SplitError {
  readonly exitCode = EXIT.timeout;
  override readonly name = 'TimeoutError';
}

/** The operation was refused or failed for a reason the message explains (a state conflict, a policy). */
export class OperationError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'OperationError';
}

/** The user interrupted the command (SIGINT/SIGTERM); clean-up has run. */
export class InterruptedError extends SplitError {
  readonly exitCode = EXIT.interrupted;
  override readonly name = 'InterruptedError';
}

/** A branch that cannot happen was reached: a bug in this program, never the user's fault. */
export class InternalError extends SplitError {
  readonly exitCode = EXIT.failure;
  override readonly name = 'InternalError';
  constructor(message: string) {
    super(`internal error: ${message}`);
  }
}

/** The exit code for anything thrown: ours carry one, anything else is a failure. */
export function exitCodeOf(error: unknown): number {
  return error instanceof SplitError ? error.exitCode : EXIT.failure;
}
