// `format FILE`: a new LUKS1 or LUKS2 header area with the passphrase (or key file) in slot 0; writes only the header area.
import { OperationError } from '../../../shared/errors.ts';
import { zeroize } from '../../../shared/bytes.ts';
import { dataOffsetBytes, describeFormatted, formatVolume, hasLuksMagic } from '../../../shared/luks/index.ts';
import type { MappedCipherKey } from '../../../shared/luks-common/ciphers.ts';
import type { LuksHash } from '../../../shared/luks-common/constants.ts';
import type { Luks2SectorSize } from '../../../shared/luks2/constants.ts';
import type { LuksType } from '../../../shared/protocol/contract.ts';
import { readPrefix, writeRanges } from '../../lib/files.ts';
import { kdfRequestOf, type IterationChoice, type KdfOptions } from '../cli.ts';
import type { TerminalIo } from '../../../shared/raw-line.ts';
import { gatherSecrets } from '../secret-input.ts';

export interface FormatOptions {
  readonly file: string;
  readonly type: LuksType;
  readonly keyFile?: string;
  readonly key: MappedCipherKey;
  readonly hash: LuksHash;
  readonly sectorSize: Luks2SectorSize;
  readonly kdf: KdfOptions;
  readonly iterations: IterationChoice;
  readonly force: boolean;
}

async function refuseExistingHeader(file: string): Promise<void> {
  const start = await readPrefix(file, 8).catch(() => Buffer.alloc(0));
  if (hasLuksMagic(start)) {
    throw new OperationError(`'${file}' already holds a LUKS header: formatting destroys access to its data (use --force to do it anyway)`);
  }
}

export async function formatCommand(options: FormatOptions, terminal: TerminalIo, out: NodeJS.WritableStream): Promise<void> {
  if (!options.force) await refuseExistingHeader(options.file);
  const [secret] = await gatherSecrets([{ keyFile: options.keyFile, prompt: `Enter passphrase for ${options.file}: `, isNew: true }], terminal);
  try {
    const { type, key, hash, sectorSize } = options;
    const formatted = await formatVolume(secret!, { type, cipher: key.cipher, keyBytes: key.keyBytes, hash, sectorSize, ...kdfRequestOf(options.kdf, options.iterations) });
    // The file grows to the data offset, so that a new image file is a whole (empty) volume cryptsetup accepts too.
    await writeRanges(options.file, [{ offset: 0, bytes: formatted.volume.area }], dataOffsetBytes(formatted.volume));
    out.write(`${JSON.stringify(describeFormatted(formatted))}\n`);
  } finally {
    zeroize(secret);
  }
}
