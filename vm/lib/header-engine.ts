// The header DisposableVM's one view of a header area of either LUKS version: which version the bytes are, whether its data
// segment can be mapped by the device VM, unlocking, and a printable summary. The type asked for by dom0 (--type) only sets how
// many bytes travel; the version is read here, where parsing is allowed, so a LUKS1 volume also works under the LUKS2 default.
import { UnsupportedError } from '../../shared/errors.ts';
import { LUKS1_HEADER_AREA_BYTES, LUKS1_MAGIC, LUKS1_PHDR_BYTES, SECTOR_BYTES } from '../../shared/luks1/constants.ts';
import { parseLuks1Header, type Luks1Header } from '../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../shared/luks1/unlock.ts';
import { availableParallelism, totalmem } from 'node:os';
import { detectLuksType, LUKS2_BINARY_HEADER_BYTES, luks2BytesNeeded, luks2Mapping, parseLuks2Header, unlockLuks2, type Luks2Header, type UnlockConcurrency } from '../../shared/luks2/index.ts';
import type { LuksType } from '../../shared/protocol/contract.ts';
import { MAX_HEADER_TRANSFER_BYTES, type HeaderParsed, type KeyslotSummary } from '../../shared/protocol/messages.ts';

export type ParsedHeaderArea =
  | { readonly version: 'luks1'; readonly header: Luks1Header; readonly area: Uint8Array }
  | { readonly version: 'luks2'; readonly header: Luks2Header; readonly area: Uint8Array };

/** What the device VM needs besides the key; only AES-XTS segments the device VM validates are described. */
export interface MappableSegment {
  readonly keyBytes: 32 | 64;
  /** Start of the data, in 512-byte sectors. */
  readonly payloadOffset: number;
  readonly sectorSize: 512 | 4096;
}

/** Parses `area` (the bytes dom0 sent for `requested`) as the LUKS version it really is. */
export function parseHeaderArea(requested: LuksType, area: Uint8Array): ParsedHeaderArea {
  const version = detectLuksType(area);
  if (version === 'luks2') {
    if (requested === 'luks1') throw new UnsupportedError('this is a LUKS2 volume, but only a LUKS1 header area was sent: use --type=luks2 (the default)');
    return { version, header: parseLuks2Header(area), area };
  }
  // A LUKS1 header inside a larger (LUKS2-sized) transfer: the LUKS1 area is its first 2068480 bytes.
  return { version, header: parseLuks1Header(area), area: area.subarray(0, LUKS1_HEADER_AREA_BYTES) };
}

function refuse(what: string): never {
  throw new UnsupportedError(`the volume uses ${what}; only aes-xts-plain64 with 256- or 512-bit keys is mapped (the device VM validates exactly that kind of key)`);
}

/** The data segment as the device VM will map it, or a refusal saying why not (checked before any passphrase is asked). */
export function mappableSegment(parsed: ParsedHeaderArea): MappableSegment {
  if (parsed.version === 'luks1') {
    const { header } = parsed;
    if (header.cipherMode !== 'xts-plain64' || (header.keyBytes !== 32 && header.keyBytes !== 64)) {
      refuse(`${header.cipherName}-${header.cipherMode} with a ${header.keyBytes * 8}-bit key`);
    }
    return { keyBytes: header.keyBytes, payloadOffset: header.payloadOffset, sectorSize: 512 };
  }
  const { segment, keyslots } = parsed.header.metadata;
  const keyBytes = keyslots[0]?.keyBytes;
  if (keyBytes === undefined) throw new UnsupportedError('the LUKS2 header has no key slot');
  const mapping = luks2Mapping(parsed.header, keyBytes);
  if (!mapping.mappable || (keyBytes !== 32 && keyBytes !== 64)) refuse(`${mapping.cipher} with a ${keyBytes * 8}-bit key`);
  if (mapping.sectorSize !== 512 && mapping.sectorSize !== 4096) throw new UnsupportedError(`the data segment uses ${mapping.sectorSize}-byte sectors; only 512 and 4096 are mapped`);
  if (mapping.ivTweak !== 0) throw new UnsupportedError(`the data segment has iv_tweak ${mapping.ivTweak} (left by an interrupted re-encryption?); only 0 is mapped`);
  if (mapping.size !== 'dynamic') throw new UnsupportedError('the data segment has a fixed size; only a segment running to the end of the device is mapped');
  return { keyBytes, payloadOffset: mapping.offsetSectors, sectorSize: mapping.sectorSize };
}

/**
 * Key slots derived at once in this VM: Argon2 memory together within half of the VM's memory (the rest for Node and the
 * kernel), at most one per CPU. A 1 GiB slot in a 2 GiB DisposableVM is then tried alone; three 256 MiB slots in parallel.
 */
function unlockConcurrency(): UnlockConcurrency {
  const cpus = typeof availableParallelism === 'function' ? availableParallelism() : 1;
  return { memoryBudgetKiB: Math.floor(totalmem() / 1024 / 2), maxConcurrent: Math.max(1, cpus) };
}

/**
 * The volume key for `secret`; throws WrongPassphraseError when no key slot opens. The caller zeroes the key. `onSlot` hears of
 * each key slot (or, for LUKS1, whose slots are tried all at once, of the slowest) before its derivation starts.
 */
export async function unlockHeaderArea(parsed: ParsedHeaderArea, secret: Uint8Array, onSlot: (slot: KeyslotSummary) => void = () => undefined): Promise<{ keyslot: number; volumeKey: Buffer }> {
  const summaries = keyslotSummaries(parsed);
  if (parsed.version === 'luks1') {
    const slowest = [...summaries].sort((a, b) => b.iterations - a.iterations)[0];
    if (slowest) onSlot(slowest);
    return unlockLuks1(parsed.header, parsed.area, secret);
  }
  const { keyslot, volumeKey } = await unlockLuks2(parsed.header, parsed.area, secret, {
    onSlot: (slot) => {
      const summary = summaries.find((candidate) => candidate.id === slot.id);
      if (summary) onSlot(summary);
    },
    concurrency: unlockConcurrency(),
  });
  return { keyslot, volumeKey };
}

/** Whether the bytes start with a LUKS1 header (magic and version 1): the one case where the payload offset bounds the transfer. */
function isLuks1Start(prefix: Uint8Array): boolean {
  return prefix.length >= LUKS1_PHDR_BYTES && LUKS1_MAGIC.every((byte, i) => prefix[i] === byte) && prefix[6] === 0 && prefix[7] === 1;
}

/** Whether the bytes start with a LUKS magic at all (a damaged LUKS2 primary aside, whose secondary the parser looks for). */
export function hasLuksMagic(prefix: Uint8Array): boolean {
  return prefix.length >= LUKS1_MAGIC.length && LUKS1_MAGIC.every((byte, i) => prefix[i] === byte);
}

/**
 * How many bytes from the start of the disk the parser needs, given the `prefix` it has (<= prefix.length: enough, or nothing
 * more would help and the parse that follows says why). LUKS1: up to its payload, at most the 2068480-byte area (key material must
 * lie inside it). LUKS2 (or no primary header): luks2BytesNeeded, both copies and the key-slot area, or the secondary's search.
 */
export function headerBytesNeeded(prefix: Uint8Array): number {
  if (prefix.length < LUKS1_PHDR_BYTES) return LUKS2_BINARY_HEADER_BYTES;
  if (isLuks1Start(prefix)) {
    const payloadOffset = new DataView(prefix.buffer, prefix.byteOffset, LUKS1_PHDR_BYTES).getUint32(104);
    return Math.min(payloadOffset * SECTOR_BYTES, LUKS1_HEADER_AREA_BYTES);
  }
  return luks2BytesNeeded(prefix);
}

function keyslotSummaries(parsed: ParsedHeaderArea): KeyslotSummary[] {
  if (parsed.version === 'luks1') {
    return parsed.header.keyslots
      .filter((slot) => slot.active)
      .map((slot) => ({ id: slot.index, kdf: 'pbkdf2' as const, iterations: slot.iterations, memoryKiB: 0, parallel: 0, hash: parsed.header.hashSpec }));
  }
  return parsed.header.metadata.keyslots
    .map((slot): KeyslotSummary => {
      const { kdf } = slot;
      return kdf.type === 'pbkdf2'
        ? { id: slot.id, kdf: 'pbkdf2', iterations: kdf.iterations, memoryKiB: 0, parallel: 0, hash: kdf.hash }
        : { id: slot.id, kdf: kdf.type, iterations: kdf.time, memoryKiB: kdf.memoryKiB, parallel: kdf.cpus, hash: slot.af.hash };
    })
    .sort((a, b) => a.id - b.id);
}

/**
 * What a header VM tells dom0 of a parsed header: enough to recognise and map the volume, nothing secret. `headerBytes` is the
 * header's own extent, the most a header write may replace: LUKS1 up to its payload (at most its 2068480-byte area), LUKS2 up to
 * its data offset (at most 16 MiB).
 */
export function describeHeader(parsed: ParsedHeaderArea): HeaderParsed {
  if (parsed.version === 'luks1') {
    const { header } = parsed;
    return {
      type: 'header-parsed',
      luksType: 'luks1',
      uuid: header.uuid.toLowerCase(),
      cipher: `${header.cipherName}-${header.cipherMode}`,
      keyBytes: header.keyBytes,
      dataOffset: header.payloadOffset,
      sectorSize: 512,
      headerBytes: Math.min(header.payloadOffset * SECTOR_BYTES, LUKS1_HEADER_AREA_BYTES),
      keyslots: keyslotSummaries(parsed),
      copy: 'primary',
      warnings: [],
    };
  }
  const { metadata, binary, warnings } = parsed.header;
  return {
    type: 'header-parsed',
    luksType: 'luks2',
    uuid: binary.uuid.toLowerCase(),
    cipher: metadata.segment.encryption,
    keyBytes: metadata.keyslots[0]?.keyBytes ?? 0,
    dataOffset: metadata.segment.offset / SECTOR_BYTES,
    sectorSize: metadata.segment.sectorSize,
    headerBytes: Math.min(metadata.segment.offset, MAX_HEADER_TRANSFER_BYTES),
    keyslots: keyslotSummaries(parsed),
    copy: parsed.header.copyUsed,
    warnings: warnings.map((warning) => warning.slice(0, 200)).slice(0, 8),
  };
}
