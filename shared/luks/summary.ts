// What a volume is, said without a secret: the key slots with their KDF and cost, and the report a header VM sends dom0
// (header-parsed). Salts and digests stay out: dom0 needs none of them.
import { LUKS1_HEADER_AREA_BYTES, SECTOR_BYTES } from '../luks1/constants.ts';
import { MAX_HEADER_TRANSFER_BYTES, type HeaderParsed, type KeyslotSummary } from '../protocol/messages.ts';
import type { LuksVolume } from './volume.ts';

/** Every active key slot with its KDF and cost, in slot order. */
export function keyslotSummaries(volume: LuksVolume): KeyslotSummary[] {
  if (volume.type === 'luks1') {
    const { header } = volume;
    return header.keyslots
      .filter((slot) => slot.active)
      .map((slot) => ({ id: slot.index, kdf: 'pbkdf2' as const, iterations: slot.iterations, memoryKiB: 0, parallel: 0, hash: header.hashSpec, areaCipher: `${header.cipherName}-${header.cipherMode}` }));
  }
  return volume.header.metadata.keyslots
    .map((slot): KeyslotSummary => {
      const { kdf } = slot;
      return kdf.type === 'pbkdf2'
        ? { id: slot.id, kdf: 'pbkdf2', iterations: kdf.iterations, memoryKiB: 0, parallel: 0, hash: kdf.hash, areaCipher: slot.area.encryption }
        : { id: slot.id, kdf: kdf.type, iterations: kdf.time, memoryKiB: kdf.memoryKiB, parallel: kdf.cpus, hash: slot.af.hash, areaCipher: slot.area.encryption };
    })
    .sort((a, b) => a.id - b.id);
}

/**
 * What a header VM tells dom0 of a parsed header: enough to recognise and map the volume, nothing secret. `headerBytes` is the
 * header's own extent, the most a header write may replace: LUKS1 up to its payload (at most its 2068480-byte area), LUKS2 up to
 * its data offset (at most 16 MiB).
 */
export function summarizeVolume(volume: LuksVolume): HeaderParsed {
  const keyslots = keyslotSummaries(volume);
  if (volume.type === 'luks1') {
    const { header } = volume;
    return {
      type: 'header-parsed',
      luksType: 'luks1',
      uuid: header.uuid.toLowerCase(),
      cipher: `${header.cipherName}-${header.cipherMode}`,
      keyBytes: header.keyBytes,
      dataOffset: header.payloadOffset,
      sectorSize: 512,
      headerBytes: Math.min(header.payloadOffset * SECTOR_BYTES, LUKS1_HEADER_AREA_BYTES),
      keyslots,
      copy: 'primary',
      warnings: [],
    };
  }
  const { metadata, binary, warnings } = volume.header;
  return {
    type: 'header-parsed',
    luksType: 'luks2',
    uuid: binary.uuid.toLowerCase(),
    cipher: metadata.segment.encryption,
    keyBytes: metadata.keyslots[0]?.keyBytes ?? 0,
    dataOffset: metadata.segment.offset / SECTOR_BYTES,
    sectorSize: metadata.segment.sectorSize,
    headerBytes: Math.min(metadata.segment.offset, MAX_HEADER_TRANSFER_BYTES),
    keyslots,
    copy: volume.header.copyUsed,
    warnings: warnings.map((warning) => warning.slice(0, 200)).slice(0, 8),
  };
}

/** The parser's warnings (LUKS2: which header copy was used and why); LUKS1 has none. */
export function volumeWarnings(volume: LuksVolume): readonly string[] {
  return volume.type === 'luks2' ? volume.header.warnings : [];
}
