// The secrets a split-dm-crypt-luks command needs, asked the way cryptsetup asks them. On a terminal: each passphrase at its
// own prompt on stderr, not echoed, a new one typed twice. Otherwise (scripts, the header VM's services): one line of standard
// input per passphrase, as cryptsetup's batch mode reads them, and no verification. A key file, when given, replaces its prompt.
import { zeroize } from '../../shared/bytes.ts';
import { OperationError } from '../../shared/errors.ts';
import { readRawLine, type TerminalIo } from '../../shared/raw-line.ts';
import { MAX_KEY_FILE_BYTES, MAX_PASSPHRASE_BYTES } from '../../shared/protocol/contract.ts';
import { passphraseLines, readAllCapped } from '../lib/stdin-secrets.ts';
import { readKeyFile } from './volume-file.ts';

export interface SecretAsk {
  /** A key file to read instead of asking. */
  readonly keyFile?: string;
  /** cryptsetup's wording, e.g. "Enter passphrase for FILE: ". */
  readonly prompt: string;
  /** A new passphrase: on a terminal it is typed twice and must match. */
  readonly isNew?: boolean;
}

async function typedPassphrase(ask: SecretAsk, io: TerminalIo): Promise<Buffer> {
  const first = await typed(io, ask.prompt);
  if (!ask.isNew) return first;
  const second = await typed(io, 'Verify passphrase: ').catch((error: unknown) => {
    zeroize(first);
    throw error;
  });
  const same = first.equals(second);
  zeroize(second);
  if (same) return first;
  zeroize(first);
  throw new OperationError('passphrases do not match: nothing was changed');
}

async function typed(io: TerminalIo, prompt: string): Promise<Buffer> {
  try {
    return await readRawLine(io, { maxBytes: MAX_PASSPHRASE_BYTES, echo: false, prompt });
  } catch (error) {
    if (error instanceof OperationError) throw new OperationError(`passphrase: ${error.message}`);
    throw error;
  }
}

/** The secrets in the order asked; the caller zeroes them. Standard input is read only when some secret needs it. */
export async function gatherSecrets(asks: readonly SecretAsk[], io: TerminalIo): Promise<Buffer[]> {
  const secrets: Buffer[] = [];
  try {
    if (io.input.isTTY) {
      for (const ask of asks) secrets.push(ask.keyFile === undefined ? await typedPassphrase(ask, io) : await readKeyFile(ask.keyFile));
      return secrets;
    }
    const fromStdin = asks.filter((ask) => ask.keyFile === undefined).length;
    const input = fromStdin > 0 ? await readAllCapped(io.input, MAX_KEY_FILE_BYTES) : Buffer.alloc(0);
    try {
      const lines = fromStdin > 0 ? passphraseLines(input, fromStdin) : [];
      for (const ask of asks) secrets.push(ask.keyFile === undefined ? lines.shift()! : await readKeyFile(ask.keyFile));
      return secrets;
    } finally {
      zeroize(input);
    }
  } catch (error) {
    zeroize(...secrets);
    throw error;
  }
}
