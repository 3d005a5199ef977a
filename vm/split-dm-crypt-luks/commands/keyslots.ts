// `add-key`, `remove-key`, `change-key`: key-slot changes written back as the header(s) and the changed slot areas only.
import { zeroize } from '../../../shared/bytes.ts';
import { addKeyslot, changeKeyslot, removeKeyslot, type KeyslotChange, type LuksVolume } from '../../../shared/luks/index.ts';
import { writeRanges } from '../../lib/files.ts';
import { kdfRequestOf, type IterationChoice, type KdfOptions } from '../cli.ts';
import type { TerminalIo } from '../../../shared/raw-line.ts';
import { gatherSecrets, type SecretAsk } from '../secret-input.ts';
import { readVolume } from '../volume-file.ts';

export interface AddKeyOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly newKeyFile?: string;
  readonly keySlot?: number;
  readonly kdf: KdfOptions;
  readonly iterations: IterationChoice;
}

/**
 * Reads the volume and the secrets, runs `change`, writes what it returns and prints the slot under `action`; the secrets are
 * zeroed whatever happens.
 */
async function changeVolume(file: string, asks: SecretAsk[], terminal: TerminalIo, out: NodeJS.WritableStream, action: string, change: (volume: LuksVolume, secrets: Buffer[]) => Promise<KeyslotChange>): Promise<void> {
  const volume = await readVolume(file);
  const secrets = await gatherSecrets(asks, terminal);
  try {
    const { keyslot, writes } = await change(volume, secrets);
    await writeRanges(file, writes);
    out.write(`${JSON.stringify({ [action]: keyslot })}\n`);
  } finally {
    zeroize(...secrets);
  }
}

export function addKeyCommand(options: AddKeyOptions, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  return changeVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter any existing passphrase: ' }, { keyFile: options.newKeyFile, prompt: 'Enter new passphrase for key slot: ', isNew: true }], terminal, out, 'addedKeyslot', (volume, [existing, added]) =>
    addKeyslot(volume, existing!, added!, kdfRequestOf(options.kdf, options.iterations), options.keySlot));
}

export function changeKeyCommand(options: Omit<AddKeyOptions, 'keySlot'>, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  return changeVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter passphrase to be changed: ' }, { keyFile: options.newKeyFile, prompt: 'Enter new passphrase: ', isNew: true }], terminal, out, 'changedKeyslot', (volume, [old, replacement]) =>
    changeKeyslot(volume, old!, replacement!, kdfRequestOf(options.kdf, options.iterations)));
}

export function removeKeyCommand(options: { file: string; keyFile?: string; force: boolean }, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  return changeVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter passphrase to be deleted: ' }], terminal, out, 'removedKeyslot', (volume, [secret]) => removeKeyslot(volume, secret!, options.force));
}
