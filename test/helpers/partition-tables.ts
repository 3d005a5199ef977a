// Disk images carrying partition tables a scanning kernel turns into partition devices: an MBR, a GPT (protective MBR, primary
// and backup headers, CRCs as the kernel's efi parser checks them), and a LUKS2 volume whose first sector is also a valid MBR.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';

const SECTOR = 512;
const MBR_ENTRIES = 446;
const MBR_ENTRY_BYTES = 16;
/** The one partition every table here describes: sectors 2048 to 4095 (1 MiB), a Linux partition. */
const PART_START = 2048;
const PART_SECTORS = 2048;

/** Writes an MBR partition entry (not bootable, no CHS addresses) into `sector0`. */
function mbrEntry(sector0: Buffer, slot: 1 | 2 | 3 | 4, type: number, start: number, sectors: number): void {
  const at = MBR_ENTRIES + (slot - 1) * MBR_ENTRY_BYTES;
  sector0.fill(0, at, at + MBR_ENTRY_BYTES);
  sector0[at + 4] = type;
  sector0.writeUInt32LE(start, at + 8);
  sector0.writeUInt32LE(sectors, at + 12);
  sector0[510] = 0x55;
  sector0[511] = 0xaa;
}

/** Makes `disk`'s first sector an MBR whose only entry is a Linux partition (0x83) at sectors 2048-4095 (bytes 446-511). */
export function putMbr(disk: Buffer): void {
  for (const slot of [2, 3, 4] as const) mbrEntry(disk, slot, 0, 0, 0);
  mbrEntry(disk, 1, 0x83, PART_START, PART_SECTORS);
}

/** A `mib`-MiB image holding only that MBR. */
export function writeMbrDisk(path: string, mib = 4): void {
  const image = Buffer.alloc(mib * 1024 * 1024);
  putMbr(image);
  writeFileSync(path, image);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE 802.3), as UEFI's GPT uses it. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A GUID in GPT's on-disk order: the first three groups little-endian. */
function guid(text: string): Buffer {
  const hex = Buffer.from(text.replace(/-/g, ''), 'hex');
  return Buffer.concat([Buffer.from(hex.subarray(0, 4)).reverse(), Buffer.from(hex.subarray(4, 6)).reverse(), Buffer.from(hex.subarray(6, 8)).reverse(), hex.subarray(8)]);
}

const LINUX_FILESYSTEM = guid('0fc63daf-8483-4772-8e79-3d69d8477de4');
const GPT_ENTRIES = 128;
const GPT_ENTRY_BYTES = 128;
const GPT_ENTRY_SECTORS = (GPT_ENTRIES * GPT_ENTRY_BYTES) / SECTOR;

function gptHeader(myLba: number, alternateLba: number, entriesLba: number, lastLba: number, diskGuid: Buffer, entriesCrc: number): Buffer {
  const header = Buffer.alloc(SECTOR);
  header.write('EFI PART', 0, 'latin1');
  header.writeUInt32LE(0x00010000, 8);
  header.writeUInt32LE(92, 12);
  header.writeBigUInt64LE(BigInt(myLba), 24);
  header.writeBigUInt64LE(BigInt(alternateLba), 32);
  header.writeBigUInt64LE(BigInt(2 + GPT_ENTRY_SECTORS), 40);
  header.writeBigUInt64LE(BigInt(lastLba - 1 - GPT_ENTRY_SECTORS), 48);
  diskGuid.copy(header, 56);
  header.writeBigUInt64LE(BigInt(entriesLba), 72);
  header.writeUInt32LE(GPT_ENTRIES, 80);
  header.writeUInt32LE(GPT_ENTRY_BYTES, 84);
  header.writeUInt32LE(entriesCrc, 88);
  header.writeUInt32LE(crc32(header.subarray(0, 92)), 16);
  return header;
}

/** A `mib`-MiB image with a GPT (protective MBR, primary and backup) holding one Linux partition at sectors 2048-4095. */
export function writeGptDisk(path: string, mib = 4): void {
  const sectors = mib * 2048;
  const last = sectors - 1;
  const image = Buffer.alloc(sectors * SECTOR);
  mbrEntry(image, 1, 0xee, 1, last);
  const entries = Buffer.alloc(GPT_ENTRIES * GPT_ENTRY_BYTES);
  LINUX_FILESYSTEM.copy(entries, 0);
  randomBytes(16).copy(entries, 16);
  entries.writeBigUInt64LE(BigInt(PART_START), 32);
  entries.writeBigUInt64LE(BigInt(PART_START + PART_SECTORS - 1), 40);
  entries.write('split-dm-crypt test', 56, 'utf16le');
  const entriesCrc = crc32(entries);
  const diskGuid = randomBytes(16);
  gptHeader(1, last, 2, last, diskGuid, entriesCrc).copy(image, SECTOR);
  entries.copy(image, 2 * SECTOR);
  entries.copy(image, (last - GPT_ENTRY_SECTORS) * SECTOR);
  gptHeader(last, 1, last - GPT_ENTRY_SECTORS, last, diskGuid, entriesCrc).copy(image, last * SECTOR);
  writeFileSync(path, image);
}

/** Partition types a kernel would follow elsewhere on the disk (GPT, extended): kept out of the entries left to chance. */
const FOLLOWED_TYPES = new Set([0xee, 0x05, 0x0f, 0x85]);

/**
 * Rewrites the primary LUKS2 binary header of the volume at `path` so that its first sector is also a valid MBR whose fourth
 * entry is a Linux partition at sectors 2048-4095. An MBR's entries span bytes 446-509 and its signature 510-511; in a LUKS2
 * header (sha256 checksum) those are 2 bytes of padding, the 32-byte checksum and the checksum field's unused 32 bytes, which
 * the checksum does not cover. The msdos parser rejects a table unless every entry's boot indicator is 0 or 0x80, and two of
 * those bytes (462 and 478) fall in the checksum: the salt is re-drawn until both do. Returns the number of draws.
 */
export function embedMbrInLuks2(path: string): number {
  const fd = openSync(path, 'r+');
  try {
    const binary = Buffer.alloc(4096);
    readSync(fd, binary, 0, binary.length, 0);
    if (binary.subarray(0, 6).toString('latin1') !== 'LUKS\xba\xbe' || binary.readUInt16BE(6) !== 2) throw new Error(`${path}: not LUKS2`);
    if (binary.subarray(72, 79).toString('latin1') !== 'sha256\0') throw new Error(`${path}: the checksum is not sha256`);
    const hdrSize = Number(binary.readBigUInt64BE(8));
    const copy = Buffer.alloc(hdrSize);
    readSync(fd, copy, 0, hdrSize, 0);
    for (let draws = 1; draws < 1_000_000; draws++) {
      randomBytes(64).copy(copy, 104);
      copy.fill(0, 448, 512);
      const digest = createHash('sha256').update(copy).digest();
      digest.copy(copy, 448);
      const boot2 = copy[462]!;
      const boot3 = copy[478]!;
      if ((boot2 !== 0 && boot2 !== 0x80) || (boot3 !== 0 && boot3 !== 0x80)) continue;
      if (FOLLOWED_TYPES.has(copy[450]!) || FOLLOWED_TYPES.has(copy[466]!)) continue;
      // Entry 3 keeps its two checksum bytes and is otherwise empty (size 0: skipped); entry 4 is ours.
      copy.fill(0, 480, 510);
      mbrEntry(copy, 4, 0x83, PART_START, PART_SECTORS);
      writeSync(fd, copy, 0, SECTOR, 0);
      return draws;
    }
    throw new Error('no salt gave valid boot indicators');
  } finally {
    closeSync(fd);
  }
}
