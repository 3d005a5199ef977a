// dom0's answers to a header VM's secret requests: a passphrase read from the user, or a key file, always sealed to the key the
// header VM sent with its request, so the qrexec pipes never carry the secret in the clear.
import { zeroize } from '../shared/bytes.ts';
import { OperationError } from '../shared/errors.ts';
import type { Channel } from '../shared/protocol/channel.ts';
import { MAX_KEY_FILE_BYTES, type SecretKind, type SecretRequest } from '../shared/protocol/messages.ts';
import { sealTo } from '../shared/seal.ts';
import { readCapped } from '../vm/lib/files.ts';
import type { KeyFileSpec } from './names.ts';
import { notice } from './output.ts';
import { readPassphrase } from './prompt.ts';
import { runCommand } from './qubes.ts';

export interface SecretSource {
  /** What the prompt names: "sys-usb:sda". */
  readonly target: string;
  readonly keyFile: KeyFileSpec | undefined;
}

function promptFor(kind: SecretKind, target: string): string {
  switch (kind) {
    case 'passphrase':
      return `Enter passphrase for ${target}: `;
    case 'new-passphrase':
      return `Enter new passphrase for ${target}: `;
    case 'confirm-passphrase':
      return `Verify passphrase: `;
    case 'key-file':
      return '';
  }
}

const shellQuote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** A key file's bytes: from dom0's file system, or from a VM's /home/user (that VM sees nothing of ours). */
async function readKeyFile(spec: KeyFileSpec): Promise<Buffer> {
  if (spec.kind === 'dom0') return readCapped(spec.path, MAX_KEY_FILE_BYTES, 'key file');
  const tooLarge = () => new OperationError(`key file ${spec.vm}:${spec.path} is larger than the limit of ${MAX_KEY_FILE_BYTES} bytes`);
  // The cap is enforced while reading (the tool is stopped past it), so a VM cannot make dom0 buffer more.
  const bytes = await runCommand(spec.vm, 'user', `cat -- ${shellQuote(spec.path)}`, MAX_KEY_FILE_BYTES).catch((error: unknown) => {
    throw error instanceof OperationError && /printed more than/.test(error.message) ? tooLarge() : error;
  });
  if (bytes.length > MAX_KEY_FILE_BYTES) throw tooLarge();
  return bytes;
}

/** Answers one secret request read from `channel` (the caller has already received it). */
export async function answerSecretRequest(channel: Channel, request: SecretRequest, source: SecretSource): Promise<void> {
  if (request.kind === 'key-file' && !source.keyFile) throw new OperationError('the header VM asked for a key file, but none was given');
  if (request.kind === 'passphrase' && source.keyFile) throw new OperationError('the header VM asked for a passphrase, but a key file was given');
  if (request.attempt > 1 && request.kind === 'passphrase') notice('no key slot matches that passphrase, try again');
  if (request.attempt > 1 && request.kind === 'new-passphrase') notice('the passphrases differ (or are empty), try again');
  const secret = request.kind === 'key-file' ? await readKeyFile(source.keyFile!) : await readPassphrase(promptFor(request.kind, source.target));
  try {
    channel.send({ type: 'secret', sealed: sealTo(request.publicKey, secret) });
  } finally {
    zeroize(secret);
  }
}
