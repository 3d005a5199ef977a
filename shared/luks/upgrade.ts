// Upgrading a volume's key slot: LUKS1 is first converted to LUKS2 in place (shared/luks2/convert.ts, cryptsetup convert's
// rules), then the key slot the secret opens is re-wrapped with Argon2id (cryptsetup luksConvertKey): the same volume key under
// a new salt and KDF, in a free area when there is one (the old area is overwritten with random bytes) or in place.
import { UsageError } from '../errors.ts';
import { convertLuks1ToLuks2, planLuks1Conversion } from '../luks2/convert.ts';
import { changeKeyLuks2 } from '../luks2/index.ts';
import { applyWrites } from './keyslots.ts';
import { chooseKdf, type KdfRequest } from './kdf.ts';
import { dataOffsetBytes, headerBytesNeeded, type LuksVolume } from './volume.ts';

export interface VolumeUpgraded {
  /** The new header area, as long as the area given. */
  readonly area: Buffer;
  readonly keyslot: number;
  /** Whether a LUKS1 header became LUKS2. */
  readonly converted: boolean;
}

/**
 * How many bytes from the start an upgrade needs, given the `prefix` received: a LUKS1 conversion rewrites everything up to the
 * data (and looks for luksmeta after the key slots); a LUKS2 re-wrap needs only what unlocking needs.
 */
export const upgradeBytesNeeded = (prefix: Uint8Array): number => headerBytesNeeded(prefix, 'data');

/** Refuses, before any secret is asked, an upgrade that cannot be made: a LUKS1 header whose LUKS2 form would not fit. */
export function checkUpgradable(volume: LuksVolume): void {
  if (volume.type === 'luks1') planLuks1Conversion(volume.header);
}

/**
 * Converts (LUKS1) and re-wraps the key slot `secret` opens with Argon2id; `request` may set its cost, never its type. `received`
 * is what the volume was parsed from, from byte 0: for LUKS1 what upgradeBytesNeeded asks (up to the data), which parseVolume's
 * area (the LUKS1 key material only) does not reach. The new area is as long as the volume's area (LUKS1: up to the data).
 */
export async function upgradeKeyslot(volume: LuksVolume, received: Uint8Array, secret: Uint8Array, request: KdfRequest): Promise<VolumeUpgraded> {
  if (request.pbkdf !== undefined && request.pbkdf !== 'argon2id') throw new UsageError(`an upgrade re-wraps with argon2id, not ${request.pbkdf}`);
  const luks2 = volume.type === 'luks1' ? convertLuks1ToLuks2(volume.header, received.subarray(0, dataOffsetBytes(volume))) : { header: volume.header, area: volume.area };
  const { metadata } = luks2.header;
  const kdf = await chooseKdf('luks2', { ...request, pbkdf: 'argon2id' }, metadata.digests[0]?.hash ?? 'sha256', metadata.keyslots[0]?.keyBytes ?? 64);
  const change = await changeKeyLuks2(luks2.header, luks2.area, secret, secret, kdf);
  return { area: applyWrites(luks2.area, change.writes), keyslot: change.keyslot, converted: volume.type === 'luks1' };
}
