// Key-slot management on a LUKS1 header area: add, remove and change a key. Each returns the byte ranges to write back.
import { randomBytes } from 'node:crypto';
import { OperationError, UsageError } from '../errors.ts';
import { zeroize } from '../bytes.ts';
import type { AreaWrite } from '../luks-common/area-write.ts';
import { serializeLuks1Header, type Luks1Header, type Luks1Keyslot } from './header.ts';
import { keyMaterialRange, writeKeyslot } from './keyslot.ts';
import { unlockLuks1 } from './unlock.ts';

export type { AreaWrite };

export interface KeyslotChange {
  readonly header: Luks1Header;
  readonly keyslot: number;
  /** The header bytes and the changed slot's material: nothing else of the volume is touched. */
  readonly writes: readonly AreaWrite[];
}

function withSlot(header: Luks1Header, slot: Luks1Keyslot): Luks1Header {
  return { ...header, keyslots: header.keyslots.map((s) => (s.index === slot.index ? slot : s)) };
}

function changeOf(header: Luks1Header, slot: Luks1Keyslot, material: Uint8Array): KeyslotChange {
  return {
    header,
    keyslot: slot.index,
    writes: [
      { offset: 0, bytes: serializeLuks1Header(header) },
      { offset: keyMaterialRange(header, slot).start, bytes: material },
    ],
  };
}

function pickFreeSlot(header: Luks1Header, wanted: number | undefined): Luks1Keyslot {
  if (wanted !== undefined) {
    const slot = header.keyslots[wanted];
    if (!slot) throw new UsageError(`--key-slot expects 0-7, received ${wanted}`);
    if (slot.active) throw new OperationError(`key slot ${wanted} is already in use`);
    return slot;
  }
  const free = header.keyslots.find((slot) => !slot.active);
  if (!free) throw new OperationError('all 8 key slots are in use');
  return free;
}

/** Adds `newSecret` in a free slot, authorized by `existingSecret`. */
export async function addKey(header: Luks1Header, area: Uint8Array, existingSecret: Uint8Array, newSecret: Uint8Array, iterations: number, slotIndex?: number): Promise<KeyslotChange> {
  const target = pickFreeSlot(header, slotIndex);
  const { volumeKey } = await unlockLuks1(header, area, existingSecret);
  try {
    const sealed = await writeKeyslot(header, target, volumeKey, newSecret, iterations);
    return changeOf(withSlot(header, sealed.slot), sealed.slot, sealed.material);
  } finally {
    zeroize(volumeKey);
  }
}

/** Replaces the key in the slot `oldSecret` opens with `newSecret` (same slot, fresh salt). */
export async function changeKey(header: Luks1Header, area: Uint8Array, oldSecret: Uint8Array, newSecret: Uint8Array, iterations: number): Promise<KeyslotChange> {
  const { volumeKey, keyslot } = await unlockLuks1(header, area, oldSecret);
  try {
    const sealed = await writeKeyslot(header, header.keyslots[keyslot]!, volumeKey, newSecret, iterations);
    return changeOf(withSlot(header, sealed.slot), sealed.slot, sealed.material);
  } finally {
    zeroize(volumeKey);
  }
}

/**
 * Removes the slot `secret` opens: marks it inactive and overwrites its material with random bytes.
 * Removing the last active slot makes the volume undecryptable, so it needs `force`.
 */
export async function removeKey(header: Luks1Header, area: Uint8Array, secret: Uint8Array, force: boolean): Promise<KeyslotChange> {
  const { volumeKey, keyslot } = await unlockLuks1(header, area, secret);
  zeroize(volumeKey);
  const activeCount = header.keyslots.filter((slot) => slot.active).length;
  if (activeCount === 1 && !force) {
    throw new OperationError(`key slot ${keyslot} is the last one: removing it destroys access to the data (use --force to do it anyway)`);
  }
  const slot: Luks1Keyslot = { ...header.keyslots[keyslot]!, active: false, iterations: 0, salt: new Uint8Array(32) };
  const { start, end } = keyMaterialRange(header, slot);
  return changeOf(withSlot(header, slot), slot, randomBytes(end - start));
}
