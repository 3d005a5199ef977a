// `unlock FILE`: checks a passphrase or key file; prints the cipher facts, and the volume key only when asked.
import { toHex, zeroize } from '../../../shared/bytes.ts';
import { unlockLuks1 } from '../../../shared/luks1/unlock.ts';
import { gatherSecrets, readVolumeFile } from '../volume-file.ts';

export interface UnlockOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly keySlot?: number;
  readonly dumpVolumeKey: boolean;
}

export async function unlockCommand(options: UnlockOptions, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  const { header, area } = await readVolumeFile(options.file);
  const [secret] = await gatherSecrets([options.keyFile], stdin);
  try {
    const { keyslot, volumeKey } = await unlockLuks1(header, area, secret!, options.keySlot);
    const result: Record<string, unknown> = {
      cipher: `${header.cipherName}-${header.cipherMode}`,
      keyBytes: header.keyBytes,
      payloadOffset: header.payloadOffset,
      keyslot,
    };
    // The volume key leaves this process only on explicit request, like cryptsetup's --dump-volume-key.
    if (options.dumpVolumeKey) result.volumeKey = toHex(volumeKey);
    zeroize(volumeKey);
    out.write(`${JSON.stringify(result)}\n`);
  } finally {
    zeroize(secret);
  }
}
