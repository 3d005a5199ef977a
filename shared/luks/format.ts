// Formatting a new header area of either version: one PBKDF2 benchmark (unless the cost is forced) sets both the key slot's
// cost and the volume-key digest's, then the version's own format lays the area out as cryptsetup does.
import { UsageError } from '../errors.ts';
import { DEFAULT_CIPHER, newVolumeCipherKey, type MappedCipher, type MappedCipherKey } from '../luks-common/ciphers.ts';
import type { LuksHash } from '../luks-common/constants.ts';
import { benchmarkPbkdf2, digestIterationsFor } from '../luks-common/pbkdf2.ts';
import { formatLuks1 } from '../luks1/format.ts';
import { formatLuks2, type Luks2SectorSize } from '../luks2/index.ts';
import type { LuksType } from '../protocol/contract.ts';
import { chooseKdf, luks1Iterations, type KdfChoice, type KdfRequest } from './kdf.ts';
import type { LuksVolume } from './volume.ts';

export interface FormatRequest extends KdfRequest {
  readonly type: LuksType;
  /** The data cipher (default aes-xts-plain64): one the device VM maps. */
  readonly cipher?: MappedCipher;
  readonly keyBytes: 32 | 64;
  /** The AF splitter's and the digest's hash (and PBKDF2's, for a PBKDF2 key slot). */
  readonly hash: LuksHash;
  /** LUKS2 only (default 512); LUKS1 sectors are 512 bytes. */
  readonly sectorSize?: Luks2SectorSize;
}

export interface VolumeFormatted {
  /** The new volume: its header, and its area (LUKS1 the 2068480-byte area, LUKS2 up to its data offset). */
  readonly volume: LuksVolume & { readonly area: Buffer };
  /** The KDF key slot 0 got. */
  readonly kdf: KdfChoice;
}

/**
 * The cipher and key size of a new volume, typed, or the usage error of a pair that does not go together (Adiantum for LUKS1):
 * a service checks it before it asks for any secret, formatVolume again.
 */
export function newVolumeKey(request: Pick<FormatRequest, 'type' | 'cipher' | 'keyBytes'>): MappedCipherKey {
  return newVolumeCipherKey(request.cipher ?? DEFAULT_CIPHER, String(request.keyBytes * 8), request.type);
}

/** A new header area (aes-xts-plain64 unless another mapped cipher is asked for) with a fresh volume key and `secret` in key slot 0. */
export async function formatVolume(secret: Uint8Array, request: FormatRequest): Promise<VolumeFormatted> {
  if (request.type === 'luks1' && request.sectorSize !== undefined && request.sectorSize !== 512) throw new UsageError(`option --sector-size ${request.sectorSize} needs --type luks2 (LUKS1 sectors are 512 bytes)`);
  const key = newVolumeKey(request);
  const benchmark = request.forcedIterations === undefined ? await benchmarkPbkdf2(request.hash, request.keyBytes) : undefined;
  const kdf = await chooseKdf(request.type, request, request.hash, request.keyBytes, benchmark);
  const digestIterations = digestIterationsFor(benchmark);
  if (request.type === 'luks1') {
    const { header, area } = await formatLuks1(secret, { keyBytes: request.keyBytes, hash: request.hash, slotIterations: luks1Iterations(kdf), digestIterations });
    return { volume: { type: 'luks1', header, area }, kdf };
  }
  const { header, area } = await formatLuks2(secret, { key, sectorSize: request.sectorSize ?? 512, kdf, hash: request.hash, digestIterations });
  return { volume: { type: 'luks2', header, area }, kdf };
}
