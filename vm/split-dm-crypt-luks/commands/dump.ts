// `dump FILE`: the header's public fields as JSON. Nothing here is secret: salts and the digest are on the disk in the clear.
import { toHex } from '../../../shared/bytes.ts';
import type { Luks1Header } from '../../../shared/luks1/header.ts';
import { keyMaterialRange } from '../../../shared/luks1/keyslot.ts';
import { readAnyVolumeFile } from '../volume-file.ts';
import { dumpLuks2 } from './luks2.ts';

/** The JSON form of a header. */
export function describeHeader(header: Luks1Header): Record<string, unknown> {
  return {
    version: header.version,
    uuid: header.uuid,
    cipher: `${header.cipherName}-${header.cipherMode}`,
    keyBytes: header.keyBytes,
    hash: header.hashSpec,
    payloadOffset: header.payloadOffset,
    mkDigest: toHex(header.mkDigest),
    mkDigestSalt: toHex(header.mkDigestSalt),
    mkDigestIterations: header.mkDigestIterations,
    keyslots: header.keyslots.map((slot) => ({
      index: slot.index,
      active: slot.active,
      ...(slot.active ? { iterations: slot.iterations, salt: toHex(slot.salt) } : {}),
      keyMaterialOffset: slot.keyMaterialOffset,
      keyMaterialEnd: keyMaterialRange(header, slot).end / 512,
      stripes: slot.stripes,
    })),
  };
}

export async function dumpCommand(file: string, out: NodeJS.WritableStream): Promise<void> {
  const volume = await readAnyVolumeFile(file);
  if (volume.type === 'luks2') return dumpLuks2(volume.header, out);
  const { header } = volume;
  out.write(`${JSON.stringify(describeHeader(header), null, 2)}\n`);
}
