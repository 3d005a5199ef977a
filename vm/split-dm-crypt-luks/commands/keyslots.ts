// `add-key`, `remove-key`, `change-key`: key-slot changes written back as the header(s) and the changed slot areas only.
import { zeroize } from '../../../shared/bytes.ts';
import { addKey, changeKey, removeKey, type KeyslotChange } from '../../../shared/luks1/manage.ts';
import { writeRanges } from '../../lib/files.ts';
import type { IterationChoice, KdfOptions } from '../cli.ts';
import { validateLuks1Kdf } from '../kdf-choice.ts';
import type { TerminalIo } from '../../../shared/raw-line.ts';
import { gatherSecrets, type SecretAsk } from '../secret-input.ts';
import { readAnyVolumeFile, slotIterations, type AnyVolumeFile } from '../volume-file.ts';
import { luks2KeyslotCommand, type Luks2KeyslotAction } from './luks2.ts';

export interface AddKeyOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly newKeyFile?: string;
  readonly keySlot?: number;
  readonly kdf: KdfOptions;
  readonly iterations: IterationChoice;
}

async function apply(file: string, change: KeyslotChange, action: string, out: NodeJS.WritableStream): Promise<void> {
  await writeRanges(file, change.writes);
  out.write(`${JSON.stringify({ [action]: change.keyslot })}\n`);
}

/** Reads the volume and the secrets, runs `work`, and zeroes the secrets whatever happens. */
async function withVolume(file: string, asks: SecretAsk[], terminal: TerminalIo, work: (volume: AnyVolumeFile, secrets: Buffer[]) => Promise<void>): Promise<void> {
  const volume = await readAnyVolumeFile(file);
  const secrets = await gatherSecrets(asks, terminal);
  try {
    await work(volume, secrets);
  } finally {
    zeroize(...secrets);
  }
}

async function runLuks2(file: string, volume: AnyVolumeFile & { type: 'luks2' }, secrets: Buffer[], request: Luks2KeyslotAction, action: string, out: NodeJS.WritableStream): Promise<void> {
  const change = await luks2KeyslotCommand(file, volume.header, volume.area, secrets, request);
  out.write(`${JSON.stringify({ [action]: change.keyslot })}\n`);
}

export async function addKeyCommand(options: AddKeyOptions, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  await withVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter any existing passphrase: ' }, { keyFile: options.newKeyFile, prompt: 'Enter new passphrase for key slot: ', isNew: true }], terminal, async (volume, secrets) => {
    if (volume.type === 'luks2') return runLuks2(options.file, volume, secrets, { action: 'add', keySlot: options.keySlot, kdf: options.kdf, iterations: options.iterations }, 'addedKeyslot', out);
    validateLuks1Kdf(options.kdf, options.iterations);
    const iterations = await slotIterations(options.iterations, volume.header.hashSpec, volume.header.keyBytes);
    await apply(options.file, await addKey(volume.header, volume.area, secrets[0]!, secrets[1]!, iterations, options.keySlot), 'addedKeyslot', out);
  });
}

export async function changeKeyCommand(options: Omit<AddKeyOptions, 'keySlot'>, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  await withVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter passphrase to be changed: ' }, { keyFile: options.newKeyFile, prompt: 'Enter new passphrase: ', isNew: true }], terminal, async (volume, secrets) => {
    if (volume.type === 'luks2') return runLuks2(options.file, volume, secrets, { action: 'change', kdf: options.kdf, iterations: options.iterations }, 'changedKeyslot', out);
    validateLuks1Kdf(options.kdf, options.iterations);
    const iterations = await slotIterations(options.iterations, volume.header.hashSpec, volume.header.keyBytes);
    await apply(options.file, await changeKey(volume.header, volume.area, secrets[0]!, secrets[1]!, iterations), 'changedKeyslot', out);
  });
}

export async function removeKeyCommand(options: { file: string; keyFile?: string; force: boolean }, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  await withVolume(options.file, [{ keyFile: options.keyFile, prompt: 'Enter passphrase to be deleted: ' }], terminal, async (volume, secrets) => {
    if (volume.type === 'luks2') return runLuks2(options.file, volume, secrets, { action: 'remove', force: options.force }, 'removedKeyslot', out);
    await apply(options.file, await removeKey(volume.header, volume.area, secrets[0]!, options.force), 'removedKeyslot', out);
  });
}
