// The dm-crypt table for a LUKS data segment, built in a Buffer so the key can be zeroed after dmsetup has read it.
import { OperationError } from '../../shared/errors.ts';
import { bytesEqual, zeroize } from '../../shared/bytes.ts';
import type { MappedCipherKey } from '../../shared/luks-common/ciphers.ts';
import { hexBytes } from './hex.ts';

export interface CryptSegment {
  readonly deviceSectors: number;
  readonly payloadOffset: number;
  readonly sectorSize: 512 | 4096;
}

/**
 * Refuses a volume key that is not a key of the announced cipher and size: AES-XTS keys are 32 or 64 bytes with differing halves
 * (equal halves make XTS weak; FIPS kernels refuse them), an Adiantum key exactly 32 bytes.
 */
export function validateVolumeKey(key: Uint8Array, expected: MappedCipherKey): void {
  if (key.length !== expected.keyBytes) throw new OperationError(`the volume key is ${key.length} bytes, not a ${expected.keyBytes}-byte ${expected.cipher} key`);
  if (expected.cipher === 'aes-xts-plain64') {
    const half = key.length / 2;
    if (bytesEqual(key.subarray(0, half), key.subarray(half))) throw new OperationError('the volume key has two equal halves: not a valid AES-XTS key');
  }
}

/** Checks the data segment fits the device: at least one sector of data after the offset, aligned for 4096-byte sectors. */
export function validateSegment(segment: CryptSegment): number {
  const dataSectors = segment.deviceSectors - segment.payloadOffset;
  if (dataSectors <= 0) throw new OperationError(`the data offset (sector ${segment.payloadOffset}) lies beyond the end of the ${segment.deviceSectors}-sector device`);
  const perSector = segment.sectorSize / 512;
  if (segment.payloadOffset % perSector !== 0) throw new OperationError(`the data offset is not aligned to ${segment.sectorSize}-byte sectors`);
  return dataSectors - (dataSectors % perSector);
}

/**
 * `0 <len> crypt <cipher> <hexkey> 0 <device> <offset>[ 1 sector_size:4096]` as bytes, `<cipher>` one of the table's mapped
 * ciphers as cryptsetup writes it (aes-xts-plain64, xchacha12,aes-adiantum-plain64), after the key was checked against it.
 */
export function cryptTable(key: Uint8Array, cipher: MappedCipherKey, device: string, segment: CryptSegment): Buffer {
  validateVolumeKey(key, cipher);
  const length = validateSegment(segment);
  const hex = hexBytes(key);
  const options = segment.sectorSize === 4096 ? ' 1 sector_size:4096' : '';
  const table = Buffer.concat([
    Buffer.from(`0 ${length} crypt ${cipher.cipher} `, 'latin1'),
    hex,
    Buffer.from(` 0 ${device} ${segment.payloadOffset}${options}\n`, 'latin1'),
  ]);
  zeroize(hex);
  return table;
}
