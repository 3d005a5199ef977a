// `unlock FILE`: checks a passphrase or key file; prints the cipher facts, and the volume key only when asked.
import { toHex, zeroize } from '../../../shared/bytes.ts';
import { describeUnlocked, unlockVolume } from '../../../shared/luks/index.ts';
import { gatherSecrets, readVolume } from '../volume-file.ts';

export interface UnlockOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly keySlot?: number;
  readonly dumpVolumeKey: boolean;
}

export async function unlockCommand(options: UnlockOptions, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  const volume = await readVolume(options.file);
  const [secret] = await gatherSecrets([options.keyFile], stdin);
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
