// Reading a volume's header area from a file or device (the version is the facade's business), and the secrets a command needs.
import { MAX_VOLUME_AREA_BYTES, parseVolume, volumeWarnings, type LuksVolume } from '../../shared/luks/index.ts';
import { MAX_KEY_FILE_BYTES } from '../../shared/protocol/contract.ts';
import { readCapped, readPrefix } from '../lib/files.ts';

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
