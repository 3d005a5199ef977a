// Reading a small file out of a qube (a key file in a vault qube) with the cap enforced on the stream: bytes go into one buffer of
// cap + 1 bytes as they arrive, each chunk is zeroed once copied, and the call is stopped the moment the cap is passed, so a qube
// that answers with /dev/zero costs dom0 the cap and no more.
import { execa } from 'execa';
import { OperationError } from '../shared/errors.ts';
import { throwIfInterrupted } from './interruption.ts';
import { CHILD_OPTIONS, failureOf, MAX_STDERR_BYTES, sanitizeStderr, supervise } from './run-tool.ts';
import { timeLimits } from './time-limits.ts';

/** runCommand's limit: a key file of at most 8 MiB from a running qube. */
const READ_TIMEOUT_MS = 120_000;

/** stdout of `command` run in `vm` as `user`, at most `maxBytes` (else OperationError naming `what`). The caller zeroes it. */
export async function readFromVm(vm: string, user: string, command: string, maxBytes: number, what: string): Promise<Buffer> {
  throwIfInterrupted();
  const timeoutMs = timeLimits().toolMs ?? READ_TIMEOUT_MS;
  const child = execa('qvm-run', ['--pass-io', '--no-autostart', '--no-gui', '-u', user, vm, command], {
    ...CHILD_OPTIONS,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
  });
  const supervision = supervise(child, timeoutMs);
  const into = Buffer.alloc(maxBytes + 1);
  let filled = 0;
  let overflow = false;
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk.subarray(0, MAX_STDERR_BYTES - stderrBytes));
    stderrBytes += chunk.length;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!overflow) {
      const take = Math.min(chunk.length, into.length - filled);
      chunk.copy(into, filled, 0, take);
      filled += take;
      if (filled > maxBytes) {
        overflow = true;
        child.kill('SIGKILL');
      }
    }
    chunk.fill(0);
  });
  const result = await child;
  if (overflow) {
    into.fill(0);
    throw new OperationError(`${what} is larger than the limit of ${maxBytes} bytes`);
  }
  const failure = failureOf('qvm-run', { what: `qvm-run in ${vm}`, timeoutMs }, supervision, result, sanitizeStderr(Buffer.concat(stderr)));
  if (failure || result.exitCode !== 0) {
    into.fill(0);
    throw failure ?? new OperationError(`cannot read ${what}: qvm-run in ${vm} exited with ${result.exitCode}${stderr.length ? `: ${sanitizeStderr(Buffer.concat(stderr))}` : ''}`);
  }
  const bytes = Buffer.from(into.subarray(0, filled));
  into.fill(0);
  return bytes;
}
