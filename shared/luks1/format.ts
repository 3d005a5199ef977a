// Creating a LUKS1 header area the way cryptsetup 2.x lays it out: slots 4 KiB aligned from sector 8, payload 1 MiB aligned.
import { randomBytes, randomUUID } from 'node:crypto';
import { zeroize } from '../bytes.ts';
import {
  LUKS1_DIGEST_BYTES,
  LUKS1_HEADER_AREA_BYTES,
  LUKS1_KEYSLOT_COUNT,
  LUKS1_SALT_BYTES,
  LUKS1_STRIPES,
  SECTOR_BYTES,
  type Luks1Hash,
} from './constants.ts';
import { keyMaterialSectors, serializeLuks1Header, type Luks1Header, type Luks1Keyslot } from './header.ts';
import { keyMaterialRange, writeKeyslot } from './keyslot.ts';
import { pbkdf2 } from '../luks-common/pbkdf2.ts';

const FIRST_SLOT_SECTOR = 8; // 4 KiB
const SLOT_ALIGN_SECTORS = 8; // 4 KiB
const PAYLOAD_ALIGN_SECTORS = 2048; // 1 MiB

const alignUp = (value: number, alignment: number): number => Math.ceil(value / alignment) * alignment;

/** Key-material offsets of the 8 slots and the payload offset for a key size, as cryptsetup 2.x computes them. */
export function luks1Layout(keyBytes: number): { slotOffsets: number[]; payloadOffset: number } {
  const slotSectors = alignUp(keyMaterialSectors(keyBytes), SLOT_ALIGN_SECTORS);
  const slotOffsets = Array.from({ length: LUKS1_KEYSLOT_COUNT }, (_, i) => FIRST_SLOT_SECTOR + i * slotSectors);
  const end = FIRST_SLOT_SECTOR + LUKS1_KEYSLOT_COUNT * slotSectors;
  return { slotOffsets, payloadOffset: alignUp(end, PAYLOAD_ALIGN_SECTORS) };
}

export interface FormatLuks1Options {
  readonly keyBytes: 32 | 64;
  readonly hash: Luks1Hash;
  readonly slotIterations: number;
  readonly digestIterations: number;
}

export interface Luks1Formatted {
  readonly header: Luks1Header;
  /** LUKS1_HEADER_AREA_BYTES bytes: header, key slots (unused ones random), zeros elsewhere. */
  readonly area: Buffer;
}

/** Formats a new aes-xts-plain64 header area with a fresh volume key and `secret` in key slot 0. */
export async function formatLuks1(secret: Uint8Array, options: FormatLuks1Options): Promise<Luks1Formatted> {
  const { slotOffsets, payloadOffset } = luks1Layout(options.keyBytes);
  const volumeKey = randomBytes(options.keyBytes);
  try {
    const mkDigestSalt = randomBytes(LUKS1_SALT_BYTES);
    const mkDigest = await pbkdf2(volumeKey, mkDigestSalt, options.digestIterations, LUKS1_DIGEST_BYTES, options.hash);
    const inactive: Luks1Keyslot[] = slotOffsets.map((keyMaterialOffset, index) => ({
      index,
      active: false,
      iterations: 0,
      salt: new Uint8Array(LUKS1_SALT_BYTES),
      keyMaterialOffset,
      stripes: LUKS1_STRIPES,
    }));
    const blank: Luks1Header = {
      version: 1,
      cipherName: 'aes',
      cipherMode: 'xts-plain64',
      hashSpec: options.hash,
      payloadOffset,
      keyBytes: options.keyBytes,
      mkDigest,
      mkDigestSalt,
      mkDigestIterations: options.digestIterations,
      uuid: randomUUID(),
      keyslots: inactive,
    };
    const area = Buffer.alloc(LUKS1_HEADER_AREA_BYTES);
    // Unused slot areas hold random bytes, so an active slot's material cannot be told apart from an empty one.
    for (const slot of inactive) {
      const { start, end } = keyMaterialRange(blank, slot);
      randomBytes(alignUp(end - start, SLOT_ALIGN_SECTORS * SECTOR_BYTES)).copy(area, start);
    }
    const sealed = await writeKeyslot(blank, inactive[0]!, volumeKey, secret, options.slotIterations);
    const header: Luks1Header = { ...blank, keyslots: [sealed.slot, ...inactive.slice(1)] };
    sealed.material.copy(area, keyMaterialRange(header, sealed.slot).start);
    Buffer.from(serializeLuks1Header(header)).copy(area, 0);
    return { header, area };
  } finally {
    zeroize(volumeKey);
  }
}
