// The header DisposableVM's one view of a header area of either LUKS version: which version the bytes are, whether its data
// segment can be mapped by the device VM, unlocking, and a printable summary. The type asked for by dom0 (--type) only sets how
// many bytes travel; the version is read here, where parsing is allowed, so a LUKS1 volume also works under the LUKS2 default.
import { UnsupportedError } from '../../shared/errors.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../../shared/luks1/constants.ts';
import { parseLuks1Header, type Luks1Header } from '../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../shared/luks1/unlock.ts';
import { detectLuksType, luks2Mapping, parseLuks2Header, unlockLuks2, type Luks2Header } from '../../shared/luks2/index.ts';
import type { HeaderSummary, LuksType } from '../../shared/protocol/messages.ts';

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
  const version = detectLuksType(area.subarray(0, 8));
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

/** The volume key for `secret`; throws WrongPassphraseError when no key slot opens. The caller zeroes the key. */
export async function unlockHeaderArea(parsed: ParsedHeaderArea, secret: Uint8Array): Promise<{ keyslot: number; volumeKey: Buffer }> {
  if (parsed.version === 'luks1') return unlockLuks1(parsed.header, parsed.area, secret);
  const { keyslot, volumeKey } = await unlockLuks2(parsed.header, parsed.area, secret);
  return { keyslot, volumeKey };
}

/** What dom0 shows of a header: enough to recognise the volume, nothing secret. */
export function summarizeHeader(parsed: ParsedHeaderArea): HeaderSummary {
  if (parsed.version === 'luks1') {
    const { header } = parsed;
    return {
      type: 'header-summary',
      luksType: 'luks1',
      uuid: header.uuid.toLowerCase(),
      cipher: `${header.cipherName}-${header.cipherMode}`,
      keyBytes: header.keyBytes,
      hash: header.hashSpec,
      activeKeyslots: header.keyslots.filter((slot) => slot.active).map((slot) => slot.index),
    };
  }
  const { metadata, binary } = parsed.header;
  return {
    type: 'header-summary',
    luksType: 'luks2',
    uuid: binary.uuid.toLowerCase(),
    cipher: metadata.segment.encryption,
    keyBytes: metadata.keyslots[0]?.keyBytes ?? 0,
    hash: metadata.digests[0]?.hash ?? 'none',
    activeKeyslots: metadata.keyslots.map((slot) => slot.id).sort((a, b) => a - b),
  };
}
