// Reading a volume's header area from a file or device (the version is the facade's business), and the secrets a command needs.
import { MAX_VOLUME_AREA_BYTES, parseVolume, volumeWarnings, type LuksVolume } from '../../shared/luks/index.ts';
import { MAX_KEY_FILE_BYTES } from '../../shared/protocol/contract.ts';
import { readCapped, readPrefix } from '../lib/files.ts';
import { passphraseLines, readAllCapped } from '../lib/stdin-secrets.ts';

/** Reads the header area of a LUKS1 or LUKS2 volume and parses it; the parser's warnings go to stderr. */
export async function readVolume(file: string): Promise<LuksVolume> {
  const volume = parseVolume(await readPrefix(file, MAX_VOLUME_AREA_BYTES));
  for (const warning of volumeWarnings(volume)) process.stderr.write(`split-dm-crypt-luks: warning: ${warning}\n`);
  return volume;
}

/** A key file's bytes, used as given (no newline handling), capped at 8 MiB like cryptsetup. */
export function readKeyFile(path: string): Promise<Buffer> {
  return readCapped(path, MAX_KEY_FILE_BYTES, 'key file');
}

/**
 * The secrets of a command in order: each comes from its key file when one is given, otherwise from the next line of standard input.
 * Standard input is read only when at least one secret needs it.
 */
export async function gatherSecrets(keyFiles: readonly (string | undefined)[], stdin: NodeJS.ReadableStream): Promise<Buffer[]> {
  const fromStdin = keyFiles.filter((file) => file === undefined).length;
  const input = fromStdin > 0 ? await readAllCapped(stdin, MAX_KEY_FILE_BYTES) : Buffer.alloc(0);
  try {
    const lines = fromStdin > 0 ? passphraseLines(input, fromStdin) : [];
    const secrets: Buffer[] = [];
    for (const file of keyFiles) secrets.push(file === undefined ? lines.shift()! : await readKeyFile(file));
    return secrets;
  } finally {
    input.fill(0);
  }
}
