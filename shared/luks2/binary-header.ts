// The 4096-byte LUKS2 binary header in front of each JSON area: parse and serialize, and the checksum over header plus JSON area.
import { createHash } from 'node:crypto';
import { ParseError } from '../errors.ts';
import { bytesEqual } from '../bytes.ts';
import {
  LUKS2_BINARY_HEADER_BYTES,
  LUKS2_CHECKSUM_FIELD_BYTES,
  LUKS2_HASHES,
  LUKS2_HEADER_SIZES,
  LUKS2_MAGIC_PRIMARY,
  LUKS2_MAGIC_SECONDARY,
  LUKS2_VERSION,
  type Luks2Hash,
} from './constants.ts';

export type Luks2Copy = 'primary' | 'secondary';

export interface Luks2BinaryHeader {
  readonly copy: Luks2Copy;
  /** Binary header plus JSON area, in bytes; one of LUKS2_HEADER_SIZES. */
  readonly hdrSize: number;
  /** Increased on every update; the valid copy with the higher one wins. */
  readonly seqid: bigint;
  readonly label: string;
  readonly checksumAlg: Luks2Hash;
  /** 64 random bytes, unique per copy. */
  readonly salt: Uint8Array;
  readonly uuid: string;
  readonly subsystem: string;
  /** Where this copy starts on the device (0 for the primary, hdrSize for the secondary). */
  readonly hdrOffset: number;
}

/** The checksum field ends the first 512 bytes; padding follows up to 4096. */
const LUKS2_SECTOR_BYTES = 512;
const OFFSET = { magic: 0, version: 6, hdrSize: 8, seqid: 16, label: 24, checksumAlg: 72, salt: 104, uuid: 168, subsystem: 208, hdrOffset: 256, csum: 448 } as const;
const FIELD_BYTES = { label: 48, checksumAlg: 32, salt: 64, uuid: 40, subsystem: 48 } as const;

function fail(copy: Luks2Copy, field: string, offset: number, reason: string): never {
  throw new ParseError(`luks2 ${copy} header`, field, offset, reason);
}

/** A NUL-terminated, NUL-padded printable ASCII field (may be empty). */
function readCString(bytes: Uint8Array, copy: Luks2Copy, field: string, offset: number, size: number): string {
  const raw = bytes.subarray(offset, offset + size);
  const end = raw.indexOf(0);
  if (end < 0) fail(copy, field, offset, 'not NUL-terminated');
  for (let i = 0; i < end; i++) {
    const c = raw[i]!;
    if (c < 0x20 || c > 0x7e) fail(copy, field, offset + i, `byte 0x${c.toString(16).padStart(2, '0')} is not printable ASCII`);
  }
  for (let i = end; i < size; i++) if (raw[i] !== 0) fail(copy, field, offset + i, 'padding after the terminating NUL is not zero');
  return String.fromCharCode(...raw.subarray(0, end));
}

/** A NUL-terminated, NUL-padded UTF-8 text field without control characters (labels may be UTF-8: cryptsetup config --label). */
function readLabel(bytes: Uint8Array, copy: Luks2Copy, field: string, offset: number, size: number): string {
  const raw = bytes.subarray(offset, offset + size);
  const end = raw.indexOf(0);
  if (end < 0) fail(copy, field, offset, 'not NUL-terminated');
  for (let i = end; i < size; i++) if (raw[i] !== 0) fail(copy, field, offset + i, 'padding after the terminating NUL is not zero');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw.subarray(0, end));
  } catch {
    return fail(copy, field, offset, 'not valid UTF-8');
  }
  if (/[\u0000-\u001f\u007f]/.test(text)) fail(copy, field, offset, 'contains a control character');
  return text;
}

function writeCString(out: Buffer, offset: number, value: string): void {
  out.write(value, offset, 'utf8');
}

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Parses the binary header of one copy found at `offset` of the volume (`bytes` starts there). Checks magic, version, hdr_size and
 * hdr_offset; the checksum is checked separately, once the JSON area is known to be present.
 */
export function parseLuks2BinaryHeader(bytes: Uint8Array, copy: Luks2Copy, offset: number): Luks2BinaryHeader {
  if (bytes.length < LUKS2_BINARY_HEADER_BYTES) fail(copy, 'binary header', offset, `only ${bytes.length} of ${LUKS2_BINARY_HEADER_BYTES} bytes present`);
  const magic = copy === 'primary' ? LUKS2_MAGIC_PRIMARY : LUKS2_MAGIC_SECONDARY;
  if (!bytesEqual(bytes.subarray(0, magic.length), magic)) fail(copy, 'magic', offset, 'not a LUKS2 header magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, LUKS2_BINARY_HEADER_BYTES);
  const version = view.getUint16(OFFSET.version);
  if (version !== LUKS2_VERSION) fail(copy, 'version', offset + OFFSET.version, `version ${version} (must be ${LUKS2_VERSION})`);
  const rawSize = view.getBigUint64(OFFSET.hdrSize);
  const hdrSize = LUKS2_HEADER_SIZES.find((size) => BigInt(size) === rawSize);
  if (hdrSize === undefined) fail(copy, 'hdr_size', offset + OFFSET.hdrSize, `${rawSize} is not a LUKS2 header size (16 KiB to 4 MiB, powers of two)`);
  const hdrOffset = view.getBigUint64(OFFSET.hdrOffset);
  if (hdrOffset !== BigInt(offset)) fail(copy, 'hdr_offset', offset + OFFSET.hdrOffset, `says ${hdrOffset}, found at ${offset}`);
  if (copy === 'secondary' && offset !== hdrSize) fail(copy, 'hdr_size', offset + OFFSET.hdrSize, `${hdrSize} does not match the secondary header's offset ${offset}`);
  const checksumName = readCString(bytes, copy, 'checksum_alg', OFFSET.checksumAlg, FIELD_BYTES.checksumAlg);
  if (!Object.hasOwn(LUKS2_HASHES, checksumName)) fail(copy, 'checksum_alg', offset + OFFSET.checksumAlg, `unsupported checksum algorithm '${checksumName}'`);
  const uuid = readCString(bytes, copy, 'uuid', OFFSET.uuid, FIELD_BYTES.uuid);
  if (!UUID_PATTERN.test(uuid)) fail(copy, 'uuid', offset + OFFSET.uuid, 'not a UUID');
  for (const [i, b] of bytes.subarray(OFFSET.hdrOffset + 8, OFFSET.csum).entries()) if (b !== 0) fail(copy, 'padding', offset + OFFSET.hdrOffset + 8 + i, 'not zero');
  const checksumAlg = checksumName as Luks2Hash;
  // The checksum field's tail past the digest (bytes 480-511 with sha256) is left alone: the checksum is computed with the
  // whole field zeroed, so it covers nothing, and cryptsetup ignores it. A header whose tail holds MBR partition entries and
  // the 0x55AA signature is still a valid LUKS2 header (keeping the kernel from parsing those is no_part_scan's job).
  // The padding after the field is covered by the checksum and must be zero.
  for (const [i, b] of bytes.subarray(LUKS2_SECTOR_BYTES, LUKS2_BINARY_HEADER_BYTES).entries()) if (b !== 0) fail(copy, 'padding', offset + LUKS2_SECTOR_BYTES + i, 'not zero');
  return {
    copy,
    hdrSize,
    seqid: view.getBigUint64(OFFSET.seqid),
    label: readLabel(bytes, copy, 'label', OFFSET.label, FIELD_BYTES.label),
    checksumAlg,
    salt: bytes.slice(OFFSET.salt, OFFSET.salt + FIELD_BYTES.salt),
    uuid,
    subsystem: readLabel(bytes, copy, 'subsystem', OFFSET.subsystem, FIELD_BYTES.subsystem),
    hdrOffset: offset,
  };
}

/** The checksum of binary header (checksum field zeroed) || JSON area, with the header's algorithm. */
export function luks2Checksum(algorithm: Luks2Hash, copyBytes: Uint8Array): Buffer {
  const zeroed = Buffer.from(copyBytes.subarray(0, LUKS2_BINARY_HEADER_BYTES));
  zeroed.fill(0, OFFSET.csum, OFFSET.csum + LUKS2_CHECKSUM_FIELD_BYTES);
  return createHash(algorithm).update(zeroed).update(copyBytes.subarray(LUKS2_BINARY_HEADER_BYTES)).digest();
}

/** Throws a ParseError unless the stored checksum matches `copyBytes` (exactly hdrSize bytes of one copy). */
export function verifyLuks2Checksum(header: Luks2BinaryHeader, copyBytes: Uint8Array): void {
  const stored = copyBytes.subarray(OFFSET.csum, OFFSET.csum + LUKS2_HASHES[header.checksumAlg]);
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
  writeCString(out, OFFSET.label, header.label);
  writeCString(out, OFFSET.checksumAlg, header.checksumAlg);
  out.set(header.salt, OFFSET.salt);
  writeCString(out, OFFSET.uuid, header.uuid);
  writeCString(out, OFFSET.subsystem, header.subsystem);
  out.writeBigUInt64BE(BigInt(header.hdrOffset), OFFSET.hdrOffset);
  out.set(jsonText, LUKS2_BINARY_HEADER_BYTES);
  luks2Checksum(header.checksumAlg, out).copy(out, OFFSET.csum);
  return out;
}
