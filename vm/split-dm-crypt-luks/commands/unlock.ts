// `unlock FILE`: checks a passphrase or key file; prints the cipher facts, and the volume key only when asked.
import { toHex, zeroize } from '../../../shared/bytes.ts';
import { unlockLuks1 } from '../../../shared/luks1/unlock.ts';
import type { TerminalIo } from '../../../shared/raw-line.ts';
import { gatherSecrets } from '../secret-input.ts';
import { readAnyVolumeFile } from '../volume-file.ts';
import { unlockLuks2Command } from './luks2.ts';

export interface UnlockOptions {
  readonly file: string;
  readonly keyFile?: string;
  readonly keySlot?: number;
  readonly dumpVolumeKey: boolean;
}

export async function unlockCommand(options: UnlockOptions, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  const volume = await readAnyVolumeFile(options.file);
  const [secret] = await gatherSecrets([{ keyFile: options.keyFile, prompt: `Enter passphrase for ${options.file}: ` }], terminal);
  try {
    if (volume.type === 'luks2') return await unlockLuks2Command(volume.header, volume.area, secret!, options.keySlot, options.dumpVolumeKey, out);
    const { header, area } = volume;
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
