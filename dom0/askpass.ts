// A passphrase from an askpass program (ssh-askpass's convention: the prompt is its argument, the passphrase its first line on
// stdout), for `watch`, which has no terminal. The program is the user's, named by absolute path in the config.
import { zeroize } from '../shared/bytes.ts';
import { OperationError } from '../shared/errors.ts';
import { MAX_PASSPHRASE_BYTES } from '../shared/protocol/contract.ts';
import { runTool } from './run-tool.ts';

/** A person answers a dialog: minutes, not seconds. */
const ASKPASS_TIMEOUT_MS = 5 * 60_000;

export async function askpassPassphrase(program: string, prompt: string): Promise<Buffer> {
  const result = await runTool(program, [prompt], { what: `askpass ${program}`, timeoutMs: ASKPASS_TIMEOUT_MS, maxStdoutBytes: MAX_PASSPHRASE_BYTES + 2 });
  try {
    const newline = result.stdout.indexOf(0x0a);
    const end = newline < 0 ? result.stdout.length : newline;
    if (end > MAX_PASSPHRASE_BYTES) throw new OperationError(`askpass ${program} printed a passphrase longer than ${MAX_PASSPHRASE_BYTES} bytes`);
    if (end === 0) throw new OperationError(`askpass ${program} printed no passphrase (cancelled?)`);
    return Buffer.from(result.stdout.subarray(0, end));
  } finally {
    zeroize(result.stdout);
  }
}
