// Our Adiantum against the kernel's: the sectors the guest's dm-crypt encrypted (test/vectors/adiantum/sectors.json, made by
// test/kernel/adiantum-vectors.test.ts) must come out of our cipher byte for byte, both ways; then the properties a wide-block
// cipher has and a stream mode lacks.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdiantumKey } from '../../../shared/luks-common/adiantum.ts';
import { cryptSectors } from '../../../shared/luks-common/sector-cipher.ts';
import { VECTORS_FILE, type RecordedSector } from '../../vectors/adiantum/cases.ts';


const VECTORS = (JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { vectors: RecordedSector[] }).vectors;

/** plain64: the sector number as a little-endian 64-bit integer, then zeros to the 32-byte tweak. */
function plain64Tweak(sector: number): Buffer {
  const tweak = Buffer.alloc(32);
  tweak.writeBigUInt64LE(BigInt(sector), 0);
  return tweak;
}

const crypt = (direction: 'encrypt' | 'decrypt', key: Uint8Array, tweak: Uint8Array, data: Uint8Array): Buffer => {
  const adiantum = new AdiantumKey(key);
  try {
    return adiantum.crypt(direction, tweak, data);
  } finally {
    adiantum.wipe();
  }
};

/** How many of two equal-length buffers' bits differ. */
function bitsDiffering(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) for (let v = a[i]! ^ b[i]!; v; v &= v - 1) bits++;
  return bits;
}

describe('Adiantum (xchacha12,aes-adiantum-plain64)', () => {
  it('has vectors: 512- and 4096-byte sectors, IVs below and above 2^32', () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(8);
    expect(new Set(VECTORS.map((v) => v.sectorBytes))).toEqual(new Set([512, 4096]));
    expect(VECTORS.some((v) => v.iv > 2 ** 32)).toBe(true);
  });

  it.each(VECTORS.map((v) => [`${v.case} iv ${v.iv}`, v] as const))('%s: encrypts and decrypts as the kernel did', (_, v) => {
    const key = Buffer.from(v.key, 'hex');
    const plaintext = Buffer.from(v.plaintext, 'hex');
    const ciphertext = Buffer.from(v.ciphertext, 'hex');
    expect(crypt('encrypt', key, plain64Tweak(v.iv), plaintext).toString('hex')).toBe(v.ciphertext);
    expect(crypt('decrypt', key, plain64Tweak(v.iv), ciphertext).toString('hex')).toBe(v.plaintext);
  });

  it('the sector cipher numbers 512-byte sectors from firstSector, as dm-crypt does for a key-slot area', () => {
    const run = VECTORS.filter((v) => v.case === 'small-iv');
    const key = Buffer.from(run[0]!.key, 'hex');
    const plaintext = Buffer.concat(run.map((v) => Buffer.from(v.plaintext, 'hex')));
    const ciphertext = Buffer.concat(run.map((v) => Buffer.from(v.ciphertext, 'hex')));
    expect(cryptSectors('encrypt', 'adiantum-plain64', key, plaintext, run[0]!.iv).equals(ciphertext)).toBe(true);
    expect(cryptSectors('decrypt', 'adiantum-plain64', key, ciphertext, run[0]!.iv).equals(plaintext)).toBe(true);
    const high = VECTORS.filter((v) => v.case === 'large-iv');
    const highCiphertext = Buffer.concat(high.map((v) => Buffer.from(v.ciphertext, 'hex')));
    expect(cryptSectors('decrypt', 'adiantum-plain64', Buffer.from(high[0]!.key, 'hex'), highCiphertext, high[0]!.iv).toString('hex')).toBe(high.map((v) => v.plaintext).join(''));
  });

  it.each([16, 17, 31, 32, 100, 496, 1040, 4096 + 7])('round-trips a %i-byte message under a random key and tweak', (length) => {
    const key = randomBytes(32);
    const tweak = randomBytes(32);
    const message = randomBytes(length);
    const ciphertext = crypt('encrypt', key, tweak, message);
    expect(ciphertext.length).toBe(length);
    expect(ciphertext.equals(message)).toBe(false);
    expect(crypt('decrypt', key, tweak, ciphertext).equals(message)).toBe(true);
  });

  it('a wrong key, or a wrong sector number, decrypts to unrelated bytes', () => {
    const v = VECTORS[2]!;
    const ciphertext = Buffer.from(v.ciphertext, 'hex');
    const wrongKey = Buffer.from(v.key, 'hex');
    wrongKey[31] = wrongKey[31]! ^ 1;
    for (const plaintext of [crypt('decrypt', wrongKey, plain64Tweak(v.iv), ciphertext), crypt('decrypt', Buffer.from(v.key, 'hex'), plain64Tweak(v.iv + 1), ciphertext)]) {
      expect(bitsDiffering(plaintext, Buffer.from(v.plaintext, 'hex'))).toBeGreaterThan(1800);
    }
  });

  it('is a wide-block cipher: one flipped ciphertext bit, anywhere in the sector, changes about half of all plaintext bits', () => {
    const v = VECTORS[3]!;
    const key = Buffer.from(v.key, 'hex');
    for (const bit of [0, 8 * 200 + 3, 8 * 511 + 7]) {
      const ciphertext = Buffer.from(v.ciphertext, 'hex');
      ciphertext[bit >> 3] = ciphertext[bit >> 3]! ^ (1 << (bit & 7));
      const differing = bitsDiffering(crypt('decrypt', key, plain64Tweak(v.iv), ciphertext), Buffer.from(v.plaintext, 'hex'));
      // 4096 bits, about half expected; a stream or XTS-like mode would change at most one block (128 bits).
      expect(differing).toBeGreaterThan(1800);
      expect(differing).toBeLessThan(2300);
    }
  });

  it('refuses a key that is not 32 bytes and a message shorter than 16 bytes', () => {
    expect(() => new AdiantumKey(Buffer.alloc(64))).toThrow(/32 bytes/);
    expect(() => crypt('encrypt', Buffer.alloc(32), Buffer.alloc(32), Buffer.alloc(15))).toThrow(/16 bytes/);
  });
});
