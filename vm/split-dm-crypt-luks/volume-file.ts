// Reading a LUKS1 or LUKS2 header area from a file or device, and getting the secrets a command needs.
import { readPrefix, readCapped } from '../lib/files.ts';
import { MAX_KEY_FILE_BYTES } from '../../shared/protocol/contract.ts';
import { passphraseLines, readAllCapped } from '../lib/stdin-secrets.ts';
import { LUKS1_HEADER_AREA_BYTES, type Luks1Hash } from '../../shared/luks1/constants.ts';
import { parseLuks1Header, type Luks1Header } from '../../shared/luks1/header.ts';
import { detectLuksType, LUKS_PROBE_BYTES } from '../../shared/luks-common/detect.ts';
import { LUKS2_MAX_HEADER_AREA_BYTES } from '../../shared/luks2/constants.ts';
import { parseLuks2Header, type Luks2Header } from '../../shared/luks2/header.ts';
import { benchmarkPbkdf2, slotIterationsFor } from '../../shared/luks-common/pbkdf2.ts';
import type { IterationChoice } from './cli.ts';

export interface VolumeFile {
  readonly header: Luks1Header;
  readonly area: Buffer;
}

/** Reads at most the LUKS1 header area of `file` and parses it. */
export async function readVolumeFile(file: string): Promise<VolumeFile> {
  const area = await readPrefix(file, LUKS1_HEADER_AREA_BYTES);
  return { header: parseLuks1Header(area), area };
}

export type AnyVolumeFile = ({ readonly type: 'luks1' } & VolumeFile) | { readonly type: 'luks2'; readonly header: Luks2Header; readonly area: Buffer };

/** Reads the header area of a LUKS1 or LUKS2 volume, the type told by its magic and version, and parses it. */
export async function readAnyVolumeFile(file: string): Promise<AnyVolumeFile> {
  const type = detectLuksType(await readPrefix(file, LUKS_PROBE_BYTES));
  if (type === 'luks1') return { type, ...(await readVolumeFile(file)) };
  const area = await readPrefix(file, LUKS2_MAX_HEADER_AREA_BYTES);
  return { type, header: parseLuks2Header(area), area };
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

/** Slot iterations: the forced count, or what the PBKDF2 benchmark says reaches the wanted unlock time. */
export async function slotIterations(choice: IterationChoice, hash: Luks1Hash, keyBytes: number): Promise<number> {
  if (choice.forcedIterations !== undefined) return choice.forcedIterations;
  return slotIterationsFor(await benchmarkPbkdf2(hash, keyBytes), choice.iterTimeMs);
}
