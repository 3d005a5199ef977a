// Whether the device VM can map a volume's data segment, decided in the header VM before any passphrase is asked.
import { UnsupportedError } from '../errors.ts';
import { keyBitsWords, MAPPED_CIPHERS, mappedCipherKey, type MappedCipherKey } from '../luks-common/ciphers.ts';
import { luks2Mapping } from '../luks2/index.ts';
import type { LuksVolume } from './volume.ts';

/** What the device VM needs besides the key: the typed cipher and key size it validates the key against, and where the data is. */
export type MappableSegment = MappedCipherKey & {
  /** Start of the data, in 512-byte sectors. */
  readonly payloadOffset: number;
  readonly sectorSize: 512 | 4096;
};

function refuse(what: string): never {
  const mapped = MAPPED_CIPHERS.map((cipher) => `${cipher} with ${keyBitsWords(cipher)}-bit keys`).join(', ');
  throw new UnsupportedError(`the volume uses ${what}; only ${mapped} are mapped (the device VM validates exactly those kinds of key)`);
}

/** The data segment as the device VM will map it, or a refusal saying why not. */
export function mappableSegment(volume: LuksVolume): MappableSegment {
  if (volume.type === 'luks1') {
    const { header } = volume;
    const cipher = `${header.cipherName}-${header.cipherMode}`;
    const key = mappedCipherKey(cipher, header.keyBytes) ?? refuse(`${cipher} with a ${header.keyBytes * 8}-bit key`);
    return { ...key, payloadOffset: header.payloadOffset, sectorSize: 512 };
  }
  const keyBytes = volume.header.metadata.keyslots[0]?.keyBytes;
  if (keyBytes === undefined) throw new UnsupportedError('the LUKS2 header has no key slot');
  const mapping = luks2Mapping(volume.header, keyBytes);
  const key = mappedCipherKey(mapping.cipher, keyBytes) ?? refuse(`${mapping.cipher} with a ${keyBytes * 8}-bit key`);
  if (mapping.sectorSize !== 512 && mapping.sectorSize !== 4096) throw new UnsupportedError(`the data segment uses ${mapping.sectorSize}-byte sectors; only 512 and 4096 are mapped`);
  if (mapping.ivTweak !== 0) throw new UnsupportedError(`the data segment has iv_tweak ${mapping.ivTweak} (left by an interrupted re-encryption?); only 0 is mapped`);
  if (mapping.size !== 'dynamic') throw new UnsupportedError('the data segment has a fixed size; only a segment running to the end of the device is mapped');
  return { ...key, payloadOffset: mapping.offsetSectors, sectorSize: mapping.sectorSize };
}
