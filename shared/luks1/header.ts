// The LUKS1 partition header (the first 592 bytes): the single parser of untrusted LUKS1 headers, and its serializer.
import { ParseError, UnsupportedError } from '../errors.ts';
import { cipherKeyBytes } from '../luks-common/ciphers.ts';
import {
  KNOWN_UNSUPPORTED_CIPHERS,
  KNOWN_UNSUPPORTED_HASHES,
  LUKS1_CIPHER_MODES,
  LUKS1_CIPHER_NAMES,
  LUKS1_DIGEST_BYTES,
  LUKS1_HASHES,
  LUKS1_KEYSLOT_COUNT,
  LUKS1_MAGIC,
  LUKS1_PHDR_BYTES,
  LUKS1_SALT_BYTES,
  LUKS1_SLOT_ACTIVE,
  LUKS1_SLOT_INACTIVE,
  LUKS1_STRIPES,
  LUKS1_UUID_FIELD_BYTES,
  LUKS1_VERSION,
  MAX_PBKDF2_ITERATIONS,
  SECTOR_BYTES,
  type Luks1CipherMode,
  type Luks1CipherName,
  type Luks1Hash,
} from './constants.ts';

export interface Luks1Keyslot {
  readonly index: number;
  readonly active: boolean;
  /** PBKDF2 iterations; meaningful only when active (kept as read for inactive slots so serialization round-trips). */
  readonly iterations: number;
  readonly salt: Uint8Array;
  /** Start of the slot's AF material, in 512-byte sectors from the start of the volume. */
  readonly keyMaterialOffset: number;
  readonly stripes: number;
}

export interface Luks1Header {
  readonly version: 1;
  readonly cipherName: Luks1CipherName;
  readonly cipherMode: Luks1CipherMode;
  readonly hashSpec: Luks1Hash;
  /** Start of the encrypted data, in 512-byte sectors. */
  readonly payloadOffset: number;
  readonly keyBytes: number;
  readonly mkDigest: Uint8Array;
  readonly mkDigestSalt: Uint8Array;
  readonly mkDigestIterations: number;
  readonly uuid: string;
  readonly keyslots: readonly Luks1Keyslot[];
}

const OFFSET = {
  magic: 0,
  version: 6,
  cipherName: 8,
  cipherMode: 40,
  hashSpec: 72,
  payloadOffset: 104,
  keyBytes: 108,
  mkDigest: 112,
  mkDigestSalt: 132,
  mkDigestIterations: 164,
  uuid: 168,
  keyslots: 208,
} as const;
const NAME_FIELD_BYTES = 32;
const KEYSLOT_BYTES = 48;
const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function fail(field: string, offset: number, reason: string): never {
  throw new ParseError('luks1 header', field, offset, reason);
}

/** Sectors of AF material one key slot occupies: key-bytes * stripes rounded up to whole sectors. */
export function keyMaterialSectors(keyBytes: number, stripes = LUKS1_STRIPES): number {
  return Math.ceil((keyBytes * stripes) / SECTOR_BYTES);
}

/** Reads a NUL-terminated, NUL-padded printable ASCII field. */
function readCString(bytes: Uint8Array, field: string, offset: number, size: number): string {
  const raw = bytes.subarray(offset, offset + size);
  const end = raw.indexOf(0);
  if (end < 0) fail(field, offset, 'not NUL-terminated');
  if (end === 0) fail(field, offset, 'empty');
  for (let i = 0; i < end; i++) {
    const c = raw[i]!;
    if (c < 0x21 || c > 0x7e) fail(field, offset + i, `byte 0x${c.toString(16).padStart(2, '0')} is not printable ASCII`);
  }
  for (let i = end; i < size; i++) if (raw[i] !== 0) fail(field, offset + i, 'padding after the terminating NUL is not zero');
  return String.fromCharCode(...raw.subarray(0, end));
}

function parseCipherName(value: string): Luks1CipherName {
  const known = LUKS1_CIPHER_NAMES.find((name) => name === value);
  if (known) return known;
  // Adiantum is implemented for LUKS2 only: cryptsetup makes a LUKS1 Adiantum volume only when asked for both.
  if (value.startsWith('xchacha')) throw new UnsupportedError(`unsupported cipher '${value}' in a LUKS1 header (Adiantum is supported in LUKS2 volumes only)`);
  if (KNOWN_UNSUPPORTED_CIPHERS.includes(value)) throw new UnsupportedError(`unsupported cipher '${value}' (only aes is implemented)`);
  return fail('cipher-name', OFFSET.cipherName, `unknown cipher '${value}'`);
}

function parseCipherMode(value: string): Luks1CipherMode {
  const known = LUKS1_CIPHER_MODES.find((mode) => mode === value);
  if (known) return known;
  throw new UnsupportedError(`unsupported cipher mode '${value}' (supported: ${LUKS1_CIPHER_MODES.join(', ')})`);
}

function parseHash(value: string): Luks1Hash {
  if (Object.hasOwn(LUKS1_HASHES, value)) return value as Luks1Hash;
  if (KNOWN_UNSUPPORTED_HASHES.includes(value)) throw new UnsupportedError(`unsupported hash '${value}' (supported: sha1, sha256, sha512)`);
  return fail('hash-spec', OFFSET.hashSpec, `unknown hash '${value}'`);
}

function parseKeyBytes(view: DataView, mode: Luks1CipherMode): number {
  const keyBytes = view.getUint32(OFFSET.keyBytes);
  const allowed = cipherKeyBytes(`aes-${mode}`);
  if (!allowed.includes(keyBytes)) fail('key-bytes', OFFSET.keyBytes, `${keyBytes} is not a key size for aes-${mode} (${allowed.join(', ')})`);
  return keyBytes;
}

function parseIterations(view: DataView, field: string, offset: number): number {
  const iterations = view.getUint32(offset);
  if (iterations === 0) fail(field, offset, 'zero iterations');
  if (iterations > MAX_PBKDF2_ITERATIONS) fail(field, offset, `${iterations} iterations exceed the cap of ${MAX_PBKDF2_ITERATIONS}`);
  return iterations;
}

function parseKeyslot(bytes: Uint8Array, view: DataView, index: number): Luks1Keyslot {
  const base = OFFSET.keyslots + index * KEYSLOT_BYTES;
  const field = `key slot ${index}`;
  const state = view.getUint32(base);
  if (state !== LUKS1_SLOT_ACTIVE && state !== LUKS1_SLOT_INACTIVE) fail(`${field} active flag`, base, `0x${state.toString(16)} is neither active nor inactive`);
  const active = state === LUKS1_SLOT_ACTIVE;
  const iterations = active ? parseIterations(view, `${field} iterations`, base + 4) : view.getUint32(base + 4);
  const salt = bytes.slice(base + 8, base + 8 + LUKS1_SALT_BYTES);
  const keyMaterialOffset = view.getUint32(base + 40);
  const stripes = view.getUint32(base + 44);
  if (stripes !== LUKS1_STRIPES) fail(`${field} stripes`, base + 44, `${stripes} stripes (must be ${LUKS1_STRIPES})`);
  if (keyMaterialOffset * SECTOR_BYTES < LUKS1_PHDR_BYTES) fail(`${field} key-material-offset`, base + 40, `sector ${keyMaterialOffset} overlaps the header`);
  return { index, active, iterations, salt, keyMaterialOffset, stripes };
}

/** cryptsetup's layout rules: slots never overlap each other, and the payload starts after every slot's material. */
function checkLayout(keyslots: readonly Luks1Keyslot[], keyBytes: number, payloadOffset: number): void {
  const sectors = keyMaterialSectors(keyBytes);
  const sorted = [...keyslots].sort((a, b) => a.keyMaterialOffset - b.keyMaterialOffset);
  for (let i = 0; i < sorted.length; i++) {
    const slot = sorted[i]!;
    const end = slot.keyMaterialOffset + sectors;
    const slotOffset = OFFSET.keyslots + slot.index * KEYSLOT_BYTES + 40;
    const next = sorted[i + 1];
    if (next && next.keyMaterialOffset < end) fail(`key slot ${slot.index} key-material-offset`, slotOffset, `overlaps key slot ${next.index}`);
    if (payloadOffset < end) fail('payload-offset', OFFSET.payloadOffset, `sector ${payloadOffset} lies inside key slot ${slot.index}'s material (ends at sector ${end})`);
  }
}

/** Parses the 592-byte LUKS1 header at the start of `bytes` into a typed value, or throws ParseError/UnsupportedError. */
export function parseLuks1Header(bytes: Uint8Array): Luks1Header {
  if (bytes.length < LUKS1_PHDR_BYTES) fail('header', bytes.length, `truncated: ${bytes.length} of ${LUKS1_PHDR_BYTES} bytes`);
  for (let i = 0; i < LUKS1_MAGIC.length; i++) if (bytes[i] !== LUKS1_MAGIC[i]) fail('magic', 0, 'not a LUKS header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, LUKS1_PHDR_BYTES);
  const version = view.getUint16(OFFSET.version);
  // A LUKS2 header reaches this parser only when a caller skipped shared/luks, which reads the version first.
  if (version === 2) throw new UnsupportedError('this is a LUKS2 header: parse it with the LUKS2 parser (shared/luks parseVolume)');
  if (version !== LUKS1_VERSION) fail('version', OFFSET.version, `version ${version} (must be 1)`);
  const cipherName = parseCipherName(readCString(bytes, 'cipher-name', OFFSET.cipherName, NAME_FIELD_BYTES));
  const cipherMode = parseCipherMode(readCString(bytes, 'cipher-mode', OFFSET.cipherMode, NAME_FIELD_BYTES));
  const hashSpec = parseHash(readCString(bytes, 'hash-spec', OFFSET.hashSpec, NAME_FIELD_BYTES));
  const keyBytes = parseKeyBytes(view, cipherMode);
  const payloadOffset = view.getUint32(OFFSET.payloadOffset);
  if (payloadOffset === 0) fail('payload-offset', OFFSET.payloadOffset, 'zero (a detached-header layout, which a device never has)');
  const mkDigestIterations = parseIterations(view, 'mk-digest-iter', OFFSET.mkDigestIterations);
  const uuid = readCString(bytes, 'uuid', OFFSET.uuid, LUKS1_UUID_FIELD_BYTES);
  if (!UUID_PATTERN.test(uuid)) fail('uuid', OFFSET.uuid, 'not a UUID');
  const keyslots = Array.from({ length: LUKS1_KEYSLOT_COUNT }, (_, index) => parseKeyslot(bytes, view, index));
  checkLayout(keyslots, keyBytes, payloadOffset);
  return {
    version: LUKS1_VERSION,
    cipherName,
    cipherMode,
    hashSpec,
    payloadOffset,
    keyBytes,
    mkDigest: bytes.slice(OFFSET.mkDigest, OFFSET.mkDigest + LUKS1_DIGEST_BYTES),
    mkDigestSalt: bytes.slice(OFFSET.mkDigestSalt, OFFSET.mkDigestSalt + LUKS1_SALT_BYTES),
    mkDigestIterations,
    uuid,
    keyslots,
  };
}

function writeCString(out: Uint8Array, offset: number, size: number, value: string): void {
  if (value.length >= size) throw new RangeError(`'${value}' does not fit a ${size}-byte field`);
  for (let i = 0; i < value.length; i++) out[offset + i] = value.charCodeAt(i);
}

/** Serializes a header into its 592 bytes; for any header parseLuks1Header accepted, returns the bytes it parsed. */
export function serializeLuks1Header(header: Luks1Header): Uint8Array {
  const out = new Uint8Array(LUKS1_PHDR_BYTES);
  const view = new DataView(out.buffer);
  out.set(LUKS1_MAGIC, OFFSET.magic);
  view.setUint16(OFFSET.version, header.version);
  writeCString(out, OFFSET.cipherName, NAME_FIELD_BYTES, header.cipherName);
  writeCString(out, OFFSET.cipherMode, NAME_FIELD_BYTES, header.cipherMode);
  writeCString(out, OFFSET.hashSpec, NAME_FIELD_BYTES, header.hashSpec);
  view.setUint32(OFFSET.payloadOffset, header.payloadOffset);
  view.setUint32(OFFSET.keyBytes, header.keyBytes);
  out.set(header.mkDigest, OFFSET.mkDigest);
  out.set(header.mkDigestSalt, OFFSET.mkDigestSalt);
  view.setUint32(OFFSET.mkDigestIterations, header.mkDigestIterations);
  writeCString(out, OFFSET.uuid, LUKS1_UUID_FIELD_BYTES, header.uuid);
  for (const slot of header.keyslots) {
    const base = OFFSET.keyslots + slot.index * KEYSLOT_BYTES;
    view.setUint32(base, slot.active ? LUKS1_SLOT_ACTIVE : LUKS1_SLOT_INACTIVE);
    view.setUint32(base + 4, slot.iterations);
    out.set(slot.salt, base + 8);
    view.setUint32(base + 40, slot.keyMaterialOffset);
    view.setUint32(base + 44, slot.stripes);
  }
  return out;
}
