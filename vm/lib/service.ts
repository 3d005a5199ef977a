// The frame of every qrexec service: the service argument checked against the service's allowlist, a Channel on stdin/stdout,
// typed errors turned into one `error` frame, one log line per refusal.
import { EXIT, exitCodeOf, OperationError, ParseError, ProtocolError, SplitError, UnsupportedError, UsageError, WrongPassphraseError } from '../../shared/errors.ts';
import { Channel } from '../../shared/protocol/channel.ts';
import type { ErrorReply } from '../../shared/protocol/messages.ts';

/** The argument list of a service that takes none: qrexec passes an empty QREXEC_SERVICE_ARGUMENT for `Service` and `Service+`. */
export const NO_ARGUMENT = [''] as const;

function errorKind(error: unknown): ErrorReply['kind'] {
  if (error instanceof WrongPassphraseError) return 'wrong-passphrase';
  if (error instanceof ParseError || error instanceof ProtocolError) return 'parse';
  if (error instanceof UnsupportedError) return 'unsupported';
  if (error instanceof UsageError) return 'usage';
  if (error instanceof OperationError) return 'refused';
  return 'failure';
}

/** The service's own name, from qrexec's environment. */
function serviceName(): string {
  return process.env.QREXEC_SERVICE_FULL_NAME ?? 'splitdmcrypt.unknown';
}

/** The qrexec convention: one line naming the service, the caller and the reason; never any secret (our messages carry none). */
export function logRefusal(message: string): void {
  const source = process.env.QREXEC_REMOTE_DOMAIN ?? 'unknown';
  process.stderr.write(`${serviceName()}: ${source} -> ${process.env.QUBES_VM_NAME ?? 'this VM'} refused: ${message}\n`);
}

/**
 * The service argument qrexec passed, untrusted until it equals one of `allowed`; then it is that allowed value. Anything else is a
 * UsageError naming what was received (only name characters shown, at most 40) and what is accepted.
 */
export function parseServiceArgument<A extends string>(allowed: readonly A[]): A {
  const untrustedArgument = process.env.QREXEC_SERVICE_ARGUMENT ?? '';
  const argument = allowed.find((value) => value === untrustedArgument);
  if (argument !== undefined) return argument;
  const expected = allowed.map((value) => (value === '' ? 'none' : value)).join(' or ');
  throw new UsageError(`unknown service argument '${untrustedArgument.replace(/[^A-Za-z0-9_.+-]/g, '?').slice(0, 40)}' (expected ${expected})`);
}

/** dom0 names the LUKS type twice, in the service argument and in the request: a request that disagrees is refused. */
export function matchArgument(argument: string, requested: string): void {
  if (argument !== requested) throw new OperationError(`service argument ${argument} does not match the requested type ${requested}`);
}

/**
 * Runs a service handler with its argument parsed against `allowed` (a refusal is answered and logged like any other error); the
 * process exits with the error's code after the error frame is flushed.
 */
export async function runService<A extends string>(allowed: readonly A[], handler: (channel: Channel, argument: A) => Promise<void>): Promise<void> {
  const channel = new Channel(process.stdin, process.stdout, process.env.QREXEC_REMOTE_DOMAIN ?? 'unknown');
  try {
    await handler(channel, parseServiceArgument(allowed));
  } catch (error) {
    const message = error instanceof SplitError ? error.message : `unexpected failure: ${(error as Error)?.message ?? String(error)}`;
    logRefusal(message);
    channel.send({ type: 'error', kind: errorKind(error), message: message.slice(0, 600) });
    process.exitCode = exitCodeOf(error) || EXIT.failure;
  }
  // qrexec ends the call only when stdout closes: close it explicitly once everything is flushed.
  await new Promise<void>((resolve) => process.stdout.end(resolve));
}
