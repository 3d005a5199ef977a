// Creating a LUKS2 header area the way cryptsetup 2.x lays it out: 16 KiB headers, key-slot area from 32 KiB, data at 16 MiB.
import { randomBytes, randomUUID } from 'node:crypto';
import { zeroize } from '../bytes.ts';
import type { MappedCipherKey } from '../luks-common/ciphers.ts';
import { pbkdf2 } from '../luks-common/pbkdf2.ts';
import {
  LUKS2_BINARY_HEADER_BYTES,
  LUKS2_DEFAULT_DATA_OFFSET,
  LUKS2_DEFAULT_HEADER_SIZE,
  LUKS2_HASHES,
  LUKS2_MAX_KEYSLOTS_SIZE,
  LUKS2_SALT_BYTES,
  LUKS2_STRIPES,
  type Luks2Hash,
  type Luks2SectorSize,
} from './constants.ts';
import type { Luks2Header } from './header.ts';
import { serializeLuks2Headers } from './header.ts';
import { kdfWithFreshSalt, sealLuks2Keyslot, type Luks2KdfChoice } from './keyslot.ts';
import { areaSizeFor } from './layout.ts';
import type { Luks2Keyslot, Luks2Metadata } from './metadata.ts';

export interface FormatLuks2Options {
  /** The data segment's cipher and key size; key slot 0's area uses the same (as cryptsetup's luksFormat does). */
  readonly key: MappedCipherKey;
  readonly sectorSize: Luks2SectorSize;
  readonly kdf: Luks2KdfChoice;
  /** Hash of the AF splitter and the volume-key digest (cryptsetup: the --hash option, sha256 by default). */
  readonly hash: Luks2Hash;
  readonly digestIterations: number;
  /** Data offset in bytes (default 16 MiB); a multiple of 1 MiB keeps the data aligned like cryptsetup. */
  readonly dataOffset?: number;
}

export interface Luks2Formatted {
  readonly header: Luks2Header;
  /** Exactly dataOffset bytes: both headers, key slot 0, the rest of the key-slot area random, zeros elsewhere. */
  readonly area: Buffer;
}

const salt = (): Uint8Array => new Uint8Array(randomBytes(64));

function metadataFor(options: FormatLuks2Options, slot: Luks2Keyslot, digest: Uint8Array, digestSalt: Uint8Array, dataOffset: number): Luks2Metadata {
  return {
    keyslots: [slot],
    tokens: [],
    segment: { id: 0, type: 'crypt', offset: dataOffset, size: 'dynamic', ivTweak: 0, encryption: options.key.cipher, sectorSize: options.sectorSize },
    digests: [{ id: 0, type: 'pbkdf2', keyslots: [0], segments: [0], hash: options.hash, iterations: options.digestIterations, salt: digestSalt, digest }],
    config: {
      jsonSize: LUKS2_DEFAULT_HEADER_SIZE - LUKS2_BINARY_HEADER_BYTES,
      keyslotsSize: Math.min(LUKS2_MAX_KEYSLOTS_SIZE, dataOffset - 2 * LUKS2_DEFAULT_HEADER_SIZE),
    },
  };
}

/** Formats a new LUKS2 header area of `options.key`'s cipher with a fresh volume key and `secret` in key slot 0. */
export async function formatLuks2(secret: Uint8Array, options: FormatLuks2Options): Promise<Luks2Formatted> {
  const dataOffset = options.dataOffset ?? LUKS2_DEFAULT_DATA_OFFSET;
  const { cipher, keyBytes } = options.key;
  const volumeKey = randomBytes(keyBytes);
  try {
    const digestSalt = new Uint8Array(randomBytes(LUKS2_SALT_BYTES));
    const digest = await pbkdf2(volumeKey, digestSalt, options.digestIterations, LUKS2_HASHES[options.hash], options.hash);
    const firstArea = 2 * LUKS2_DEFAULT_HEADER_SIZE;
    const unsealed: Luks2Keyslot = {
      id: 0,
      type: 'luks2',
      keyBytes,
      af: { type: 'luks1', stripes: LUKS2_STRIPES, hash: options.hash },
      area: { type: 'raw', offset: firstArea, size: areaSizeFor(keyBytes), encryption: cipher, keyBytes },
      kdf: kdfWithFreshSalt(options.kdf),
    };
    const { slot, material } = await sealLuks2Keyslot(unsealed, volumeKey, secret);
    const metadata = metadataFor(options, slot, new Uint8Array(digest), digestSalt, dataOffset);
    const header: Luks2Header = {
      version: 2,
      binary: { copy: 'primary', hdrSize: LUKS2_DEFAULT_HEADER_SIZE, seqid: 1n, label: '', checksumAlg: 'sha256', salt: salt(), uuid: randomUUID(), subsystem: '', hdrOffset: 0 },
      metadata,
      salts: { primary: salt(), secondary: salt() },
      copyUsed: 'primary',
      warnings: [],
    };
    const area = Buffer.alloc(dataOffset);
    // Like cryptsetup's LUKS2_wipe_header_areas: the key-slot area is random, so unused areas do not stand out from used ones.
    randomBytes(metadata.config.keyslotsSize).copy(area, firstArea);
    for (const { offset, bytes } of serializeLuks2Headers(header, metadata, 1n, salt)) bytes.copy(area, offset);
    material.copy(area, slot.area.offset);
    return { header: { ...header, binary: { ...header.binary, salt: header.salts.primary! } }, area };
  } finally {
    zeroize(volumeKey);
  }
}
