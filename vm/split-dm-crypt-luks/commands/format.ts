// `format FILE`: a new LUKS1 or LUKS2 header area with the passphrase (or key file) in slot 0; writes only the header area.
import { OperationError } from '../../../shared/errors.ts';
import { zeroize } from '../../../shared/bytes.ts';
import { LUKS1_MAGIC, type Luks1Hash } from '../../../shared/luks1/constants.ts';
import { formatLuks1 } from '../../../shared/luks1/format.ts';
import { benchmarkPbkdf2, digestIterationsFor, slotIterationsFor } from '../../../shared/luks-common/pbkdf2.ts';
import { readPrefix, writeRanges } from '../../lib/files.ts';
import type { LuksType } from '../../../shared/protocol/contract.ts';
import type { IterationChoice, KdfOptions } from '../cli.ts';
import type { Luks2SectorSize } from '../../../shared/luks2/constants.ts';
import { formatLuks2Command } from './luks2.ts';
import { gatherSecrets } from '../volume-file.ts';

export interface FormatOptions {
  readonly file: string;
  readonly type: LuksType;
  readonly keyFile?: string;
  readonly keyBytes: 32 | 64;
  readonly hash: Luks1Hash;
  readonly sectorSize: Luks2SectorSize;
  readonly kdf: KdfOptions;
  readonly iterations: IterationChoice;
  readonly force: boolean;
}

async function refuseExistingHeader(file: string): Promise<void> {
  const start = await readPrefix(file, LUKS1_MAGIC.length).catch(() => Buffer.alloc(0));
  if (start.length === LUKS1_MAGIC.length && start.equals(Buffer.from(LUKS1_MAGIC))) {
    throw new OperationError(`'${file}' already holds a LUKS header: formatting destroys access to its data (use --force to do it anyway)`);
  }
}

export async function formatCommand(options: FormatOptions, stdin: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  if (!options.force) await refuseExistingHeader(options.file);
  const [secret] = await gatherSecrets([options.keyFile], stdin);
  try {
    if (options.type === 'luks2') return await formatLuks2Command(options, secret!, out);
    const forced = options.iterations.forcedIterations;
    const benchmark = forced === undefined ? await benchmarkPbkdf2(options.hash, options.keyBytes) : undefined;
    const slotIterations = forced ?? slotIterationsFor(benchmark!, options.iterations.iterTimeMs);
    const { header, area } = await formatLuks1(secret!, {
      keyBytes: options.keyBytes,
      hash: options.hash,
      slotIterations,
      digestIterations: digestIterationsFor(benchmark),
    });
    await writeRanges(options.file, [{ offset: 0, bytes: area }], header.payloadOffset * 512);
    out.write(`${JSON.stringify({ uuid: header.uuid, cipher: 'aes-xts-plain64', keyBytes: header.keyBytes, hash: header.hashSpec, payloadOffset: header.payloadOffset, iterations: slotIterations })}\n`);
  } finally {
    zeroize(secret);
  }
}
