// The split-dm-crypt-luks tool's JSON forms of a volume (dump), an unlock and a format: no secrets (salts and digests are on the
// disk in the clear; the volume key only when the caller asks). Each keeps its version's own fields, chosen here, not in the CLI.
import { toHex } from '../bytes.ts';
import { keyMaterialRange } from '../luks1/keyslot.ts';
import { luks2Mapping, type Luks2Header } from '../luks2/index.ts';
import type { Luks1Header } from '../luks1/header.ts';
import type { VolumeFormatted } from './format.ts';
import { luks1Iterations } from './kdf.ts';
import type { LuksVolume } from './volume.ts';

function describeLuks1(header: Luks1Header): Record<string, unknown> {
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

function describeLuks2(header: Luks2Header): Record<string, unknown> {
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

/** The header's public fields (dump). */
export function describeVolume(volume: LuksVolume): Record<string, unknown> {
  return volume.type === 'luks1' ? describeLuks1(volume.header) : describeLuks2(volume.header);
}

/** What an unlock found: the segment's cipher facts and the key slot (the volume key is added by the caller, on request only). */
export function describeUnlocked(volume: LuksVolume, keyslot: number, keyBytes: number): Record<string, unknown> {
  if (volume.type === 'luks2') return { type: 'luks2', ...luks2Mapping(volume.header, keyBytes), keyslot };
  const { header } = volume;
  return { cipher: `${header.cipherName}-${header.cipherMode}`, keyBytes: header.keyBytes, payloadOffset: header.payloadOffset, keyslot };
}

/** What a format made. */
export function describeFormatted({ volume, kdf }: VolumeFormatted): Record<string, unknown> {
  if (volume.type === 'luks1') {
    const { header } = volume;
    return { uuid: header.uuid, cipher: 'aes-xts-plain64', keyBytes: header.keyBytes, hash: header.hashSpec, payloadOffset: header.payloadOffset, iterations: luks1Iterations(kdf) };
  }
  const { segment, keyslots } = volume.header.metadata;
  return { type: 'luks2', uuid: volume.header.binary.uuid, cipher: segment.encryption, keyBytes: keyslots[0]?.keyBytes, sectorSize: segment.sectorSize, dataOffset: segment.offset, kdf };
}
