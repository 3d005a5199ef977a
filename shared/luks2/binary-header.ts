// The 4096-byte LUKS2 binary header in front of each JSON area: parse and serialize, and the checksum over header plus JSON area.
import { createHash } from 'node:crypto';
import { ParseError, UnsupportedError } from '../errors.ts';
import { bytesEqual } from '../bytes.ts';
import {
  LUKS2_BINARY_HEADER_BYTES,
  LUKS2_CHECKSUM_ALGORITHMS,
  LUKS2_CHECKSUM_FIELD_BYTES,
  LUKS2_HEADER_SIZES,
  LUKS2_MAGIC_PRIMARY,
  LUKS2_MAGIC_SECONDARY,
  LUKS2_VERSION,
  type Luks2ChecksumAlgorithm,
} from './constants.ts';

export type Luks2Copy = 'primary' | 'secondary';

export interface Luks2BinaryHeader {
  readonly copy: Luks2Copy;
  /** Binary header plus JSON area, in bytes; one of LUKS2_HEADER_SIZES in every copy our parser uses. */
  readonly hdrSize: number;
  /** Increased on every update; the valid copy with the higher one wins. */
  readonly seqid: bigint;
  readonly label: string;
  readonly checksumAlg: Luks2ChecksumAlgorithm;
  /** 64 random bytes, unique per copy. */
  readonly salt: Uint8Array;
  /** As found (up to its NUL); header.ts refuses a value that is not a UUID. */
  readonly uuid: string;
  readonly subsystem: string;
  /** Where this copy starts on the device (0 for the primary, hdrSize for the secondary). */
  readonly hdrOffset: number;
}

/** The checksum field ends the first 512 bytes; padding follows up to 4096. */
const OFFSET = { magic: 0, version: 6, hdrSize: 8, seqid: 16, label: 24, checksumAlg: 72, salt: 104, uuid: 168, subsystem: 208, hdrOffset: 256, csum: 448 } as const;
const FIELD_BYTES = { label: 48, checksumAlg: 32, salt: 64, uuid: 40, subsystem: 48 } as const;

function fail(copy: Luks2Copy, field: string, offset: number, reason: string): never {
  throw new ParseError(`luks2 ${copy} header`, field, offset, reason);
}

/**
 * A text field the way cryptsetup reads it (hdr_from_disk): the bytes up to the first NUL, the field's last byte counting as NUL.
 * Bytes after the NUL are ignored, as cryptsetup ignores them (and zeroes them when it writes).
 */
function fieldBytes(bytes: Uint8Array, offset: number, size: number): Uint8Array {
  const raw = bytes.subarray(offset, offset + size - 1);
  const end = raw.indexOf(0);
  return end < 0 ? raw : raw.subarray(0, end);
}

/** A label or subsystem as text: UTF-8 (cryptsetup config --label writes it), undecodable bytes shown as U+FFFD. */
const textOf = (raw: Uint8Array): string => new TextDecoder('utf-8').decode(raw);

/** A bounded NUL-terminated write: never past the field, never into the next one. */
function writeCString(out: Buffer, offset: number, size: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  let length = Math.min(bytes.length, size - 1);
  // Cut only between UTF-8 characters.
  while (length > 0 && length < bytes.length && (bytes[length]! & 0xc0) === 0x80) length--;
  bytes.copy(out, offset, 0, length);
}

/**
 * Reads the binary header of one copy found at `offset` of the volume (`bytes` starts there) with cryptsetup's checks before the
 * checksum (hdr_disk_sanity_check_pre): magic, version 2, hdr_offset, hdr_size within 16 KiB..4 MiB, a secondary at its hdr_size.
 * The checksum algorithm must be one we can compute (else UnsupportedError). The checksum is checked separately, once the JSON
 * area is known to be present.
 */
export function parseLuks2BinaryHeader(bytes: Uint8Array, copy: Luks2Copy, offset: number): Luks2BinaryHeader {
  if (bytes.length < LUKS2_BINARY_HEADER_BYTES) fail(copy, 'binary header', offset, `only ${bytes.length} of ${LUKS2_BINARY_HEADER_BYTES} bytes present`);
  const magic = copy === 'primary' ? LUKS2_MAGIC_PRIMARY : LUKS2_MAGIC_SECONDARY;
  if (!bytesEqual(bytes.subarray(0, magic.length), magic)) fail(copy, 'magic', offset, 'not a LUKS2 header magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, LUKS2_BINARY_HEADER_BYTES);
  const version = view.getUint16(OFFSET.version);
  if (version !== LUKS2_VERSION) fail(copy, 'version', offset + OFFSET.version, `version ${version} (must be ${LUKS2_VERSION})`);
  const hdrOffset = view.getBigUint64(OFFSET.hdrOffset);
  if (hdrOffset !== BigInt(offset)) fail(copy, 'hdr_offset', offset + OFFSET.hdrOffset, `says ${hdrOffset}, found at ${offset}`);
  const rawSize = view.getBigUint64(OFFSET.hdrSize);
  // Any size in the range passes here, as in cryptsetup; config.json_size later allows only the nine sizes of LUKS2_HEADER_SIZES.
  if (rawSize < BigInt(LUKS2_HEADER_SIZES[0]) || rawSize > BigInt(LUKS2_HEADER_SIZES[LUKS2_HEADER_SIZES.length - 1]!)) {
    fail(copy, 'hdr_size', offset + OFFSET.hdrSize, `${rawSize} is not within 16 KiB..4 MiB`);
  }
  const hdrSize = Number(rawSize);
  if (copy === 'secondary' && offset !== hdrSize) fail(copy, 'hdr_size', offset + OFFSET.hdrSize, `${hdrSize} does not match the secondary header's offset ${offset}`);
  const checksumField = bytes.subarray(OFFSET.checksumAlg, OFFSET.checksumAlg + FIELD_BYTES.checksumAlg);
  if (checksumField.indexOf(0) < 0) fail(copy, 'checksum_alg', offset + OFFSET.checksumAlg, 'not NUL-terminated');
  const checksumName = String.fromCharCode(...fieldBytes(bytes, OFFSET.checksumAlg, FIELD_BYTES.checksumAlg));
  if (!Object.hasOwn(LUKS2_CHECKSUM_ALGORITHMS, checksumName)) {
    throw new UnsupportedError(`unsupported luks2 header checksum algorithm '${checksumName.replace(/[^ -~]/g, '?').slice(0, 31)}' in the ${copy} header`);
  }
  // The checksum field's tail past the digest (bytes 480-511 with sha256) and the padding are not checked, as in cryptsetup: the
  // checksum covers the padding, and a header whose tail holds MBR partition entries and 0x55AA is still a valid LUKS2 header
  // (keeping the kernel from parsing those is no_part_scan's job). We write zeros there, as cryptsetup does.
  return {
    copy,
    hdrSize,
    seqid: view.getBigUint64(OFFSET.seqid),
    label: textOf(fieldBytes(bytes, OFFSET.label, FIELD_BYTES.label)),
    checksumAlg: checksumName as Luks2ChecksumAlgorithm,
    salt: bytes.slice(OFFSET.salt, OFFSET.salt + FIELD_BYTES.salt),
    uuid: String.fromCharCode(...fieldBytes(bytes, OFFSET.uuid, FIELD_BYTES.uuid)),
    subsystem: textOf(fieldBytes(bytes, OFFSET.subsystem, FIELD_BYTES.subsystem)),
    hdrOffset: offset,
  };
}

/** What a rewrite of this binary header would not keep as found: a label or subsystem that is not UTF-8 text. */
export function binaryHeaderNotes(bytes: Uint8Array): string[] {
  const notes: string[] = [];
  for (const field of ['label', 'subsystem'] as const) {
    const raw = fieldBytes(bytes, OFFSET[field], FIELD_BYTES[field]);
    const text = textOf(raw);
    if (!bytesEqual(Buffer.from(text, 'utf8'), raw) || /[\u0000-\u001f\u007f]/.test(text)) notes.push(`the ${field} is not printable UTF-8 text; it is shown with replacement characters`);
  }
  return notes;
}

/** The checksum of binary header (checksum field zeroed) || JSON area, with the header's algorithm. */
export function luks2Checksum(algorithm: Luks2ChecksumAlgorithm, copyBytes: Uint8Array): Buffer {
  const zeroed = Buffer.from(copyBytes.subarray(0, LUKS2_BINARY_HEADER_BYTES));
  zeroed.fill(0, OFFSET.csum, OFFSET.csum + LUKS2_CHECKSUM_FIELD_BYTES);
  return createHash(algorithm).update(zeroed).update(copyBytes.subarray(LUKS2_BINARY_HEADER_BYTES)).digest();
}

/** Throws a ParseError unless the stored checksum matches `copyBytes` (exactly hdrSize bytes of one copy). */
export function verifyLuks2Checksum(header: Luks2BinaryHeader, copyBytes: Uint8Array): void {
  const stored = copyBytes.subarray(OFFSET.csum, OFFSET.csum + LUKS2_CHECKSUM_ALGORITHMS[header.checksumAlg]);
  if (!bytesEqual(stored, luks2Checksum(header.checksumAlg, copyBytes))) {
    fail(header.copy, 'checksum', header.hdrOffset + OFFSET.csum, `${header.checksumAlg} checksum does not match the header and JSON area`);
  }
}

/** Serializes one copy: binary header, the JSON text NUL-padded to the JSON area, and the checksum over both. */
export function serializeLuks2Copy(header: Luks2BinaryHeader, jsonText: Uint8Array): Buffer {
  const out = Buffer.alloc(header.hdrSize);
  out.set(header.copy === 'primary' ? LUKS2_MAGIC_PRIMARY : LUKS2_MAGIC_SECONDARY, OFFSET.magic);
  out.writeUInt16BE(LUKS2_VERSION, OFFSET.version);
  out.writeBigUInt64BE(BigInt(header.hdrSize), OFFSET.hdrSize);
  out.writeBigUInt64BE(header.seqid, OFFSET.seqid);
  writeCString(out, OFFSET.label, FIELD_BYTES.label, header.label);
  writeCString(out, OFFSET.checksumAlg, FIELD_BYTES.checksumAlg, header.checksumAlg);
  out.set(header.salt, OFFSET.salt);
  writeCString(out, OFFSET.uuid, FIELD_BYTES.uuid, header.uuid);
  writeCString(out, OFFSET.subsystem, FIELD_BYTES.subsystem, header.subsystem);
  out.writeBigUInt64BE(BigInt(header.hdrOffset), OFFSET.hdrOffset);
  out.set(jsonText, LUKS2_BINARY_HEADER_BYTES);
  luks2Checksum(header.checksumAlg, out).copy(out, OFFSET.csum);
  return out;
}
