// The sector cipher as dm-crypt applies it to LUKS1 and LUKS2 key material: AES in xts or cbc with IVs plain / plain64 /
// essiv:sha256, or Adiantum with plain64 (the sector number as the tweak).
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { InternalError } from '../errors.ts';
import { zeroize } from '../bytes.ts';
import { AdiantumKey, ADIANTUM_TWEAK_BYTES } from './adiantum.ts';
import type { SectorCipherMode } from './ciphers.ts';
import { SECTOR_BYTES } from './constants.ts';

export type Direction = 'encrypt' | 'decrypt';

function opensslName(mode: SectorCipherMode, keyBytes: number): string {
  if (mode.startsWith('xts-')) return `aes-${(keyBytes / 2) * 8}-xts`;
  return `aes-${keyBytes * 8}-cbc`;
}

/** The 16-byte IV block for a sector: plain64 = 64-bit little-endian sector number, plain = its low 32 bits. */
function sectorIv(sector: number, truncate32: boolean): Buffer {
  const iv = Buffer.alloc(16);
  if (truncate32) iv.writeUInt32LE(sector % 2 ** 32, 0);
  else iv.writeBigUInt64LE(BigInt(sector), 0);
  return iv;
}

/** Adiantum with plain64: each sector one message, its tweak the 64-bit little-endian sector number padded with zeros. */
function adiantumSectors(direction: Direction, key: Uint8Array, data: Uint8Array, firstSector: number): Buffer {
  const adiantum = new AdiantumKey(key);
  const out = Buffer.alloc(data.length);
  const tweak = Buffer.alloc(ADIANTUM_TWEAK_BYTES);
  try {
    for (let offset = 0; offset < data.length; offset += SECTOR_BYTES) {
      tweak.writeBigUInt64LE(BigInt(firstSector + offset / SECTOR_BYTES), 0);
      const block = adiantum.crypt(direction, tweak, data.subarray(offset, offset + SECTOR_BYTES));
      block.copy(out, offset);
      zeroize(block);
    }
  } finally {
    adiantum.wipe();
  }
  return out;
}

/** Encrypts or decrypts whole 512-byte sectors, numbering them from `firstSector`. */
export function cryptSectors(direction: Direction, mode: SectorCipherMode, key: Uint8Array, data: Uint8Array, firstSector = 0): Buffer {
  if (data.length % SECTOR_BYTES !== 0) throw new InternalError(`sector data of ${data.length} bytes is not whole sectors`);
  if (mode === 'adiantum-plain64') return adiantumSectors(direction, key, data, firstSector);
  const algorithm = opensslName(mode, key.length);
  const essivKey = mode === 'cbc-essiv:sha256' ? createHash('sha256').update(key).digest() : undefined;
  const out = Buffer.alloc(data.length);
  try {
    for (let offset = 0; offset < data.length; offset += SECTOR_BYTES) {
      const sector = firstSector + offset / SECTOR_BYTES;
      let iv = sectorIv(sector, mode.endsWith('-plain'));
      if (essivKey) iv = createCipheriv('aes-256-ecb', essivKey, null).setAutoPadding(false).update(iv);
      const cipher = direction === 'encrypt' ? createCipheriv(algorithm, key, iv) : createDecipheriv(algorithm, key, iv);
      cipher.setAutoPadding(false);
      const block = cipher.update(data.subarray(offset, offset + SECTOR_BYTES));
      block.copy(out, offset);
      zeroize(block);
      cipher.final();
    }
  } finally {
    zeroize(essivKey);
  }
  return out;
}
