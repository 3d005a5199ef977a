// `add-key`, `remove-key`, `change-key`: key-slot changes written back as the header and the one slot's material.
import { zeroize } from '../../../shared/bytes.ts';
import { addKey, changeKey, removeKey, type KeyslotChange } from '../../../shared/luks1/manage.ts';
import { writeRanges } from '../../lib/files.ts';
import type { IterationChoice } from '../cli.ts';
import { gatherSecrets, readVolumeFile, slotIterations } from '../volume-file.ts';

export interface AddKeyOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly newKeyFile?: string;
  readonly keySlot?: number;
  readonly iterations: IterationChoice;
}

async function apply(file: string, change: KeyslotChange, action: string, out: NodeJS.WritableStream): Promise<void> {
  await writeRanges(file, change.writes);
  out.write(`${JSON.stringify({ [action]: change.keyslot })}\n`);
}

export async function addKeyCommand(options: AddKeyOptions, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  const { header, area } = await readVolumeFile(options.file);
  const secrets = await gatherSecrets([options.keyFile, options.newKeyFile], stdin);
  try {
    const iterations = await slotIterations(options.iterations, header.hashSpec, header.keyBytes);
    await apply(options.file, await addKey(header, area, secrets[0]!, secrets[1]!, iterations, options.keySlot), 'addedKeyslot', out);
  } finally {
    zeroize(...secrets);
  }
}

export async function changeKeyCommand(options: Omit<AddKeyOptions, 'keySlot'>, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  const { header, area } = await readVolumeFile(options.file);
  const secrets = await gatherSecrets([options.keyFile, options.newKeyFile], stdin);
  try {
    const iterations = await slotIterations(options.iterations, header.hashSpec, header.keyBytes);
    await apply(options.file, await changeKey(header, area, secrets[0]!, secrets[1]!, iterations), 'changedKeyslot', out);
  } finally {
    zeroize(...secrets);
  }
}

export async function removeKeyCommand(options: { file: string; keyFile?: string; force: boolean }, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  const { header, area } = await readVolumeFile(options.file);
  const secrets = await gatherSecrets([options.keyFile], stdin);
  try {
    await apply(options.file, await removeKey(header, area, secrets[0]!, options.force), 'removedKeyslot', out);
  } finally {
    zeroize(...secrets);
  }
}
