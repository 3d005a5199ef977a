// `unlock FILE`: checks a passphrase or key file; prints the cipher facts, and the volume key only when asked.
import { toHex, zeroize } from '../../../shared/bytes.ts';
import { describeUnlocked, unlockVolume } from '../../../shared/luks/index.ts';
import type { TerminalIo } from '../../../shared/raw-line.ts';
import { gatherSecrets } from '../secret-input.ts';
import { readVolume } from '../volume-file.ts';

export interface UnlockOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly keySlot?: number;
  readonly dumpVolumeKey: boolean;
}

export async function unlockCommand(options: UnlockOptions, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  const volume = await readVolume(options.file);
  const [secret] = await gatherSecrets([{ keyFile: options.keyFile, prompt: `Enter passphrase for ${options.file}: ` }], terminal);
  try {
    const { keyslot, volumeKey } = await unlockVolume(volume, secret!, options.keySlot === undefined ? {} : { onlySlot: options.keySlot });
    const result = describeUnlocked(volume, keyslot, volumeKey.length);
    // The volume key leaves this process only on explicit request, like cryptsetup's --dump-volume-key.
    if (options.dumpVolumeKey) result.volumeKey = toHex(volumeKey);
    zeroize(volumeKey);
    out.write(`${JSON.stringify(result)}\n`);
  } finally {
    zeroize(secret);
  }
}
