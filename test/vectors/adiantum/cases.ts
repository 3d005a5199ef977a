// The inputs of the Adiantum sector vectors (sectors.json), fixed and reproducible: keys and plaintexts are SHA-256 counter
// streams of a label, so regenerating on another machine encrypts the same bytes. Each case is one `cryptsetup open --type
// plain --cipher xchacha12,aes-adiantum-plain64` mapping in the guest over a run of the vector disk.
import { createHash } from 'node:crypto';

export interface AdiantumCase {
  readonly name: string;
  /** The 32-byte key: a label's stream, or all zeros. */
  readonly key: Buffer;
  /** dm-crypt's sector size: the length of one Adiantum message. */
  readonly sectorBytes: 512 | 4096;
  /** Where on the vector disk the case's sectors lie (cryptsetup --offset), in 512-byte sectors. */
  readonly diskSector: number;
  /** cryptsetup --skip: the plain64 IV of the first sector. */
  readonly firstIv: number;
  readonly plaintexts: readonly Buffer[];
}

/** `length` bytes of SHA-256(label || counter) blocks. */
export function labelStream(label: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 32 < length; i++) blocks.push(createHash('sha256').update(`${label}\0${i}`).digest());
  return Buffer.concat(blocks).subarray(0, length);
}

export const ADIANTUM_CASES: readonly AdiantumCase[] = [
  {
    name: 'small-iv',
    key: labelStream('adiantum key 1', 32),
    sectorBytes: 512,
    diskSector: 0,
    firstIv: 0,
    plaintexts: [Buffer.alloc(512), Buffer.alloc(512, 0xff), labelStream('plaintext 1', 512), labelStream('plaintext 2', 512)],
  },
  {
    // An IV above 2^32: plain64 carries all 64 bits of the sector number into the tweak.
    name: 'large-iv',
    key: labelStream('adiantum key 2', 32),
    sectorBytes: 512,
    diskSector: 4,
    firstIv: 2 ** 40 + 5,
    plaintexts: [labelStream('plaintext 3', 512), labelStream('plaintext 3', 512)],
  },
  {
    // 4096-byte messages: the bulk (4080 bytes) spans four NH pieces, the last one partial.
    name: 'sector-4096',
    key: Buffer.alloc(32),
    sectorBytes: 4096,
    diskSector: 8,
    firstIv: 0,
    plaintexts: [labelStream('plaintext 4', 4096), Buffer.alloc(4096, 0x5a)],
  },
];

/** The size of the vector disk: every case's run, and no more. */
export const VECTOR_DISK_SECTORS = Math.max(...ADIANTUM_CASES.map((c) => c.diskSector + (c.plaintexts.length * c.sectorBytes) / 512));

/** The plain64 IV of a case's sector `index`: dm-crypt counts it in 512-byte units whatever the sector size (no iv_large_sectors). */
export const ivOf = (c: AdiantumCase, index: number): number => c.firstIv + (index * c.sectorBytes) / 512;

/** One recorded sector of sectors.json: what the kernel's dm-crypt made of a case's plaintext (all hex). */
export interface RecordedSector {
  readonly case: string;
  readonly key: string;
  readonly sectorBytes: number;
  /** The plain64 IV: the tweak's first 8 bytes, little-endian. */
  readonly iv: number;
  readonly plaintext: string;
  readonly ciphertext: string;
}

export const VECTORS_FILE = 'test/vectors/adiantum/sectors.json';
