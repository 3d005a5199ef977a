// The frame of every qrexec service: a Channel on stdin/stdout, typed errors turned into one `error` frame, one log line per refusal.
import { EXIT, exitCodeOf, OperationError, ParseError, SplitError, UnsupportedError, UsageError, WrongPassphraseError } from '../../shared/errors.ts';
import { Channel } from '../../shared/protocol/channel.ts';
import type { ErrorReply } from '../../shared/protocol/messages.ts';

function errorKind(error: unknown): ErrorReply['kind'] {
  if (error instanceof WrongPassphraseError) return 'wrong-passphrase';
  if (error instanceof ParseError) return 'parse';
  if (error instanceof UnsupportedError) return 'unsupported';
  if (error instanceof UsageError) return 'usage';
  if (error instanceof OperationError) return 'refused';
  return 'failure';
}

/** The service's own name and argument, from qrexec's environment. */
export function serviceName(): string {
  return process.env.QREXEC_SERVICE_FULL_NAME ?? 'splitdmcrypt.unknown';
}

/**
 * The service argument qrexec passed (untrusted until here), as one of the values this service accepts. Called inside the handler,
 * so a refusal is logged and answered like any other.
 */
export function parseServiceArgument<T extends string>(allowed: readonly T[]): T {
  const untrustedArgument = process.env.QREXEC_SERVICE_ARGUMENT ?? '';
  const argument = allowed.find((value) => value === untrustedArgument);
  if (argument === undefined) throw new UsageError(`unknown service argument '${untrustedArgument.replace(/[^A-Za-z0-9_.+-]/g, '?').slice(0, 40)}' (expected ${allowed.join(' or ')})`);
  return argument;
}

/** Runs a service handler; the process exits with the error's code after the error frame is flushed. */
export async function runService(handler: (channel: Channel) => Promise<void>): Promise<void> {
  const source = process.env.QREXEC_REMOTE_DOMAIN ?? 'unknown';
  const channel = new Channel(process.stdin, process.stdout, source);
  try {
    await handler(channel);
  } catch (error) {
    const message = error instanceof SplitError ? error.message : `unexpected failure: ${(error as Error)?.message ?? String(error)}`;
    // The qrexec convention: one line naming the service, the caller and the reason; never any secret (our messages carry none).
    process.stderr.write(`${serviceName()}: ${source} -> ${process.env.QUBES_VM_NAME ?? 'this VM'} refused: ${message}\n`);
    channel.send({ type: 'error', kind: errorKind(error), message: message.slice(0, 600) });
    process.exitCode = exitCodeOf(error) || EXIT.failure;
  }
  // qrexec ends the call only when stdout closes: close it explicitly once everything is flushed.
  await new Promise<void>((resolve) => process.stdout.end(resolve));
}
