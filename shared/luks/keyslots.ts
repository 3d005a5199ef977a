// Key-slot changes on a volume of either version: add, change, remove. Each returns the byte ranges to write back (the version's
// own safe order); the caller writes them. A new slot's KDF is chosen by kdf.ts for the volume's version.
import { InternalError } from '../errors.ts';
import type { AreaWrite } from '../luks-common/area-write.ts';
import type { LuksHash } from '../luks-common/constants.ts';
import { addKey, changeKey, removeKey } from '../luks1/manage.ts';
import { addKeyLuks2, changeKeyLuks2, removeKeyLuks2 } from '../luks2/index.ts';
import { chooseKdf, luks1Iterations, type KdfRequest } from './kdf.ts';
import type { LuksVolume } from './volume.ts';

export interface KeyslotChange {
  readonly keyslot: number;
  readonly writes: readonly AreaWrite[];
}

/** The hash a new key slot's AF splitter and PBKDF2 use, and the volume key's length: the volume's own. */
function slotShape(volume: LuksVolume): { hash: LuksHash; keyBytes: number } {
  if (volume.type === 'luks1') return { hash: volume.header.hashSpec, keyBytes: volume.header.keyBytes };
  const { metadata } = volume.header;
  return { hash: metadata.digests[0]?.hash ?? 'sha256', keyBytes: metadata.keyslots[0]?.keyBytes ?? 64 };
}

async function kdfFor(volume: LuksVolume, request: KdfRequest) {
  const { hash, keyBytes } = slotShape(volume);
  return chooseKdf(volume.type, request, hash, keyBytes);
}

/** Adds `newSecret` in a free key slot (`slot`, or the lowest free one), authorized by `existingSecret`. */
export async function addKeyslot(volume: LuksVolume, existingSecret: Uint8Array, newSecret: Uint8Array, request: KdfRequest, slot?: number): Promise<KeyslotChange> {
  const kdf = await kdfFor(volume, request);
  if (volume.type === 'luks2') return addKeyLuks2(volume.header, volume.area, existingSecret, newSecret, kdf, slot);
  return addKey(volume.header, volume.area, existingSecret, newSecret, luks1Iterations(kdf), slot);
}

/** Replaces the secret of the key slot `oldSecret` opens with `newSecret`. */
export async function changeKeyslot(volume: LuksVolume, oldSecret: Uint8Array, newSecret: Uint8Array, request: KdfRequest): Promise<KeyslotChange> {
  const kdf = await kdfFor(volume, request);
  if (volume.type === 'luks2') return changeKeyLuks2(volume.header, volume.area, oldSecret, newSecret, kdf);
  return changeKey(volume.header, volume.area, oldSecret, newSecret, luks1Iterations(kdf));
}

/** The header area after a change: a copy of `area` with every write applied (each lies inside it, or this throws). */
export function applyWrites(area: Uint8Array, writes: readonly AreaWrite[]): Buffer {
  const changed = Buffer.from(area);
  for (const { offset, bytes } of writes) {
    if (offset < 0 || offset + bytes.length > changed.length) throw new InternalError(`a key-slot change writes bytes ${offset}..${offset + bytes.length}, outside the ${changed.length}-byte area`);
    changed.set(bytes, offset);
  }
  return changed;
}

/** Removes the key slot `secret` opens; the last one only with `force` (the data becomes unreachable). */
export async function removeKeyslot(volume: LuksVolume, secret: Uint8Array, force: boolean): Promise<KeyslotChange> {
  if (volume.type === 'luks2') return removeKeyLuks2(volume.header, volume.area, secret, force);
  return removeKey(volume.header, volume.area, secret, force);
}
