// LUKS1 -> LUKS2 in place, the way `cryptsetup convert` does it (cryptsetup lib/luks2/luks2_luks1_convert.c, LUKS2_luks1_to_luks2):
// the key slots keep their PBKDF2 KDF, salt and material, which moves from sector 8 (4 KiB) to 32 KiB, after the two 16 KiB LUKS2
// headers; the volume-key digest is LUKS1's (20 bytes, its salt and iterations); the one segment starts at the payload offset. The
// volume key and the data are untouched. Refused, as cryptsetup refuses, where the moved key-slot area would not end before the data.
import { randomBytes } from 'node:crypto';
import { OperationError, UnsupportedError } from '../errors.ts';
import { cipherSpec, cipherKeyBytes } from '../luks-common/ciphers.ts';
import { keyMaterialSectors, type Luks1Header } from '../luks1/header.ts';
import { LUKS1_STRIPES } from '../luks1/constants.ts';
import { LUKS2_AREA_ALIGN, LUKS2_BINARY_HEADER_BYTES, LUKS2_DEFAULT_HEADER_SIZE, LUKS2_MAX_KEYSLOTS_SIZE, SECTOR_BYTES } from './constants.ts';
import { parseLuks2Header, serializeLuks2Headers, type Luks2Header } from './header.ts';
import type { Luks2Keyslot, Luks2Metadata } from './metadata.ts';

/** cryptsetup's LUKS_ALIGN_KEYSLOTS: LUKS1 key material starts at 4 KiB (sector 8); convert refuses any other start. */
const LUKS1_KEYSLOTS_OFFSET = 4096;
/** cryptsetup's luks1_shift: the key-slot area moves from 4 KiB to after both 16 KiB LUKS2 headers. */
export const LUKS1_TO_LUKS2_SHIFT = 2 * LUKS2_DEFAULT_HEADER_SIZE - LUKS1_KEYSLOTS_OFFSET;
/** luksmeta's magic at the end of the LUKS1 key-slot area (Clevis' LUKS1 bindings): cryptsetup refuses to convert over it. */
const LUKSMETA_MAGIC = Buffer.from('LUKSMETA', 'latin1');

const roundUp = (value: number, unit: number): number => Math.ceil(value / unit) * unit;

/** What a conversion needs from the LUKS1 layout, or the reason it is refused (cryptsetup's conditions, in its order). */
export interface Luks1ConversionPlan {
  /** The end of the last key slot's material, rounded to 4 KiB (cryptsetup's luks1_size). */
  readonly luks1Bytes: number;
  /** The data offset in bytes: the new header area ends there. */
  readonly dataOffset: number;
}

/** Checks that the LUKS1 header converts; throws OperationError/UnsupportedError naming cryptsetup's reason otherwise. */
export function planLuks1Conversion(header: Luks1Header): Luks1ConversionPlan {
  const offsets = header.keyslots.map((slot) => slot.keyMaterialOffset * SECTOR_BYTES);
  const luks1Bytes = roundUp(Math.max(...offsets) + keyMaterialSectors(header.keyBytes) * SECTOR_BYTES, LUKS1_KEYSLOTS_OFFSET);
  if (Math.min(...offsets) !== LUKS1_KEYSLOTS_OFFSET) throw new UnsupportedError(`the luks1 key material starts at byte ${Math.min(...offsets)}, not at ${LUKS1_KEYSLOTS_OFFSET}: cryptsetup convert refuses such a header too`);
  const spec = cipherSpec(`${header.cipherName}-${header.cipherMode}`);
  if (!spec || !cipherKeyBytes(spec).includes(header.keyBytes)) throw new UnsupportedError(`${header.cipherName}-${header.cipherMode} with a ${header.keyBytes * 8}-bit key cannot be a luks2 key-slot cipher`);
  const dataOffset = header.payloadOffset * SECTOR_BYTES;
  const required = luks1Bytes + LUKS1_TO_LUKS2_SHIFT;
  if (dataOffset < required) {
    throw new OperationError(`the luks2 header would not fit before the data: it needs ${required} bytes, the data starts at byte ${dataOffset} (cryptsetup convert refuses this too); nothing was changed`);
  }
  if (dataOffset - 2 * LUKS2_DEFAULT_HEADER_SIZE > LUKS2_MAX_KEYSLOTS_SIZE) throw new UnsupportedError(`a luks1 payload offset of ${header.payloadOffset} sectors would give a luks2 key-slot area above 128 MiB`);
  return { luks1Bytes, dataOffset };
}

function keyslotsOf(header: Luks1Header): Luks2Keyslot[] {
  const encryption = cipherSpec(`${header.cipherName}-${header.cipherMode}`)!;
  return header.keyslots
    .filter((slot) => slot.active)
    .map((slot) => ({
      id: slot.index,
      type: 'luks2' as const,
      keyBytes: header.keyBytes,
      af: { type: 'luks1' as const, stripes: LUKS1_STRIPES, hash: header.hashSpec },
      area: {
        type: 'raw' as const,
        offset: slot.keyMaterialOffset * SECTOR_BYTES + LUKS1_TO_LUKS2_SHIFT,
        size: roundUp(keyMaterialSectors(header.keyBytes) * SECTOR_BYTES, LUKS2_AREA_ALIGN),
        encryption,
        keyBytes: header.keyBytes,
      },
      kdf: { type: 'pbkdf2' as const, hash: header.hashSpec, iterations: slot.iterations, salt: slot.salt },
    }));
}

function metadataOf(header: Luks1Header, plan: Luks1ConversionPlan): Luks2Metadata {
  const keyslots = keyslotsOf(header);
  return {
    keyslots,
    tokens: [],
    segment: { id: 0, type: 'crypt', offset: plan.dataOffset, size: 'dynamic', ivTweak: 0, encryption: `${header.cipherName}-${header.cipherMode}`, sectorSize: 512 },
    digests: [
      {
        id: 0,
        type: 'pbkdf2',
        keyslots: keyslots.map((slot) => slot.id),
        segments: [0],
        hash: header.hashSpec,
        iterations: header.mkDigestIterations,
        salt: header.mkDigestSalt,
        digest: header.mkDigest,
      },
    ],
    config: {
      jsonSize: LUKS2_DEFAULT_HEADER_SIZE - LUKS2_BINARY_HEADER_BYTES,
      keyslotsSize: Math.floor((plan.dataOffset - 2 * LUKS2_DEFAULT_HEADER_SIZE) / LUKS2_AREA_ALIGN) * LUKS2_AREA_ALIGN,
    },
  };
}

/**
 * The LUKS2 header area of a LUKS1 volume: `area` holds the volume's first bytes up to its data offset (the bytes between the
 * LUKS1 key material and the data are kept, as cryptsetup leaves them). Returns the new area, exactly as long, and its header
 * as our parser reads it back.
 */
export function convertLuks1ToLuks2(header: Luks1Header, area: Uint8Array): { header: Luks2Header; area: Buffer } {
  const plan = planLuks1Conversion(header);
  if (area.length !== plan.dataOffset) throw new OperationError(`a conversion needs the ${plan.dataOffset} bytes up to the data, not ${area.length}`);
  if (Buffer.from(area.subarray(plan.luks1Bytes, plan.luks1Bytes + LUKSMETA_MAGIC.length)).equals(LUKSMETA_MAGIC)) {
    throw new UnsupportedError('the volume carries luksmeta metadata (Clevis) after its key slots: cryptsetup convert refuses it too');
  }
  const metadata = metadataOf(header, plan);
  const salt = (): Uint8Array => new Uint8Array(randomBytes(64));
  const draft: Luks2Header = {
    version: 2,
    binary: { copy: 'primary', hdrSize: LUKS2_DEFAULT_HEADER_SIZE, seqid: 1n, label: '', checksumAlg: 'sha256', salt: salt(), uuid: header.uuid, subsystem: '', hdrOffset: 0 },
    metadata,
    salts: { primary: salt(), secondary: salt() },
    copyUsed: 'primary',
    warnings: [],
  };
  const converted = Buffer.from(area);
  // cryptsetup's move_keyslot_areas: the whole LUKS1 key-slot area, inactive slots' bytes included.
  converted.set(area.subarray(LUKS1_KEYSLOTS_OFFSET, plan.luks1Bytes), 2 * LUKS2_DEFAULT_HEADER_SIZE);
  for (const { offset, bytes } of serializeLuks2Headers(draft, metadata, 1n, salt)) converted.set(bytes, offset);
  // Read back by the same parser every header VM uses: a conversion that would not load is never returned.
  return { header: parseLuks2Header(converted), area: converted };
}
