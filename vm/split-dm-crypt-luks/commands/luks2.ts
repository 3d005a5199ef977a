// The LUKS2 forms of dump, unlock, format and the key-slot commands; the command files dispatch here on the volume's type.
import { toHex, zeroize } from '../../../shared/bytes.ts';
import { benchmarkPbkdf2, digestIterationsFor } from '../../../shared/luks-common/pbkdf2.ts';
import {
  addKeyLuks2,
  changeKeyLuks2,
  formatLuks2,
  removeKeyLuks2,
  unlockLuks2,
  type Luks2Header,
  type Luks2KeyslotChange,
} from '../../../shared/luks2/index.ts';
import { writeRanges } from '../../lib/files.ts';
import type { IterationChoice, KdfOptions } from '../cli.ts';
import { luks2KdfChoice } from '../kdf-choice.ts';
import type { FormatOptions } from './format.ts';

const warn = (header: Luks2Header): void => {
  for (const warning of header.warnings) process.stderr.write(`split-dm-crypt-luks: warning: ${warning}\n`);
};

/** The JSON form of a LUKS2 header (no secrets: salts and digests are on the disk in the clear). */
export function describeLuks2Header(header: Luks2Header): Record<string, unknown> {
  const { binary, metadata } = header;
  return {
    version: 2,
    uuid: binary.uuid,
    label: binary.label,
    subsystem: binary.subsystem,
    seqid: Number(binary.seqid),
    hdrSize: binary.hdrSize,
    checksumAlg: binary.checksumAlg,
    warnings: header.warnings,
    segment: { ...metadata.segment },
    keyslots: metadata.keyslots.map((slot) => ({
      index: slot.id,
      keyBytes: slot.keyBytes,
      priority: slot.priority ?? 1,
      kdf: { ...slot.kdf, salt: toHex(slot.kdf.salt) },
      af: slot.af,
      area: slot.area,
    })),
    digests: metadata.digests.map((digest) => ({ ...digest, salt: toHex(digest.salt), digest: toHex(digest.digest) })),
    tokens: metadata.tokens.map((token) => ({ index: token.id, type: token.json.type, keyslots: token.json.keyslots.map(Number) })),
    config: metadata.config,
  };
}

export function dumpLuks2(header: Luks2Header, out: NodeJS.WritableStream): void {
  warn(header);
  out.write(`${JSON.stringify(describeLuks2Header(header), null, 2)}\n`);
}

export async function unlockLuks2Command(header: Luks2Header, area: Uint8Array, secret: Uint8Array, keySlot: number | undefined, dumpVolumeKey: boolean, out: NodeJS.WritableStream): Promise<void> {
  warn(header);
  const { keyslot, volumeKey, mapping } = await unlockLuks2(header, area, secret, keySlot === undefined ? {} : { onlySlot: keySlot });
  const result: Record<string, unknown> = { type: 'luks2', ...mapping, keyslot };
  // The volume key leaves this process only on explicit request, like cryptsetup's --dump-volume-key.
  if (dumpVolumeKey) result.volumeKey = toHex(volumeKey);
  zeroize(volumeKey);
  out.write(`${JSON.stringify(result)}\n`);
}

export async function formatLuks2Command(options: FormatOptions, secret: Uint8Array, out: NodeJS.WritableStream): Promise<void> {
  const kdf = await luks2KdfChoice(options.kdf, options.iterations, options.hash, options.keyBytes);
  const digestIterations = digestIterationsFor(options.iterations.forcedIterations === undefined ? await benchmarkPbkdf2(options.hash, options.keyBytes) : undefined);
  const { header, area } = await formatLuks2(secret, { keyBytes: options.keyBytes, sectorSize: options.sectorSize, kdf, hash: options.hash, digestIterations });
  await writeRanges(options.file, [{ offset: 0, bytes: area }], area.length);
  const { segment } = header.metadata;
  out.write(`${JSON.stringify({ type: 'luks2', uuid: header.binary.uuid, cipher: segment.encryption, keyBytes: options.keyBytes, sectorSize: segment.sectorSize, dataOffset: segment.offset, kdf })}\n`);
}

export type Luks2KeyslotAction =
  | { readonly action: 'add'; readonly keySlot?: number; readonly kdf: KdfOptions; readonly iterations: IterationChoice }
  | { readonly action: 'change'; readonly kdf: KdfOptions; readonly iterations: IterationChoice }
  | { readonly action: 'remove'; readonly force: boolean };

/** Runs one key-slot change on a LUKS2 volume and writes it back; `secrets` are [existing] or [existing, new]. */
export async function luks2KeyslotCommand(file: string, header: Luks2Header, area: Uint8Array, secrets: readonly Buffer[], request: Luks2KeyslotAction): Promise<Luks2KeyslotChange> {
  warn(header);
  const hash = header.metadata.digests[0]?.hash ?? 'sha256';
  const keyBytes = header.metadata.keyslots[0]?.keyBytes ?? 64;
  let change: Luks2KeyslotChange;
  if (request.action === 'remove') change = await removeKeyLuks2(header, area, secrets[0]!, request.force);
  else {
    const kdf = await luks2KdfChoice(request.kdf, request.iterations, hash, keyBytes);
    change =
      request.action === 'add'
        ? await addKeyLuks2(header, area, secrets[0]!, secrets[1]!, kdf, request.keySlot)
        : await changeKeyLuks2(header, area, secrets[0]!, secrets[1]!, kdf);
  }
  await writeRanges(file, change.writes);
  return change;
}
