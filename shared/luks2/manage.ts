// Key-slot management on a LUKS2 header area: add, change and remove a key. Each returns the new header and the byte ranges to
// write, in a safe order: new key material first, then both headers (seqid + 1, new checksums), then the wipe of an old area.
import { randomBytes } from 'node:crypto';
import { OperationError } from '../errors.ts';
import { zeroize } from '../bytes.ts';
import type { AreaWrite } from '../luks-common/area-write.ts';
import { cipherKeyBytes } from '../luks-common/ciphers.ts';
import { LUKS2_AREA_CIPHERS, type Luks2AreaCipher } from './constants.ts';
import { serializeLuks2Headers, type Luks2Header } from './header.ts';
import { digestsOf, kdfWithFreshSalt, sealLuks2Keyslot, type Luks2KdfChoice } from './keyslot.ts';
import { findAreaGap, pickFreeKeyslot } from './layout.ts';
import type { Luks2Keyslot, Luks2Metadata } from './metadata.ts';
import { unlockLuks2 } from './unlock.ts';

export type { AreaWrite };

export interface Luks2KeyslotChange {
  readonly header: Luks2Header;
  readonly keyslot: number;
  readonly writes: readonly AreaWrite[];
}

const freshSalt = (): Uint8Array => new Uint8Array(randomBytes(64));

/** The new header after a metadata change, and the writes of both copies. */
function rewrite(header: Luks2Header, metadata: Luks2Metadata): { header: Luks2Header; writes: AreaWrite[] } {
  const seqid = header.binary.seqid + 1n;
  const salts = { primary: header.salts.primary ?? freshSalt(), secondary: header.salts.secondary ?? freshSalt() };
  const next: Luks2Header = { version: 2, binary: { ...header.binary, copy: 'primary', hdrOffset: 0, seqid, salt: salts.primary }, metadata, copyUsed: 'primary', salts, warnings: [] };
  return { header: next, writes: serializeLuks2Headers(next, metadata, seqid, freshSalt) };
}

/** A new slot's area cipher: the segment's when our key-slot cipher supports it with this key size, else aes-xts-plain64 (as cryptsetup). */
function areaCipherFor(metadata: Luks2Metadata, keyBytes: number): { encryption: Luks2AreaCipher; keyBytes: number } {
  const segmentCipher = LUKS2_AREA_CIPHERS.find((cipher) => cipher === metadata.segment.encryption);
  if (segmentCipher && cipherKeyBytes(segmentCipher).includes(keyBytes)) return { encryption: segmentCipher, keyBytes };
  return { encryption: 'aes-xts-plain64', keyBytes: 64 };
}

function newSlot(header: Luks2Header, id: number, like: Luks2Keyslot, kdf: Luks2KdfChoice): Luks2Keyslot {
  const { offset, size } = findAreaGap(header.metadata, header.binary.hdrSize, like.keyBytes);
  return { id, type: 'luks2', keyBytes: like.keyBytes, af: like.af, area: { type: 'raw', offset, size, ...areaCipherFor(header.metadata, like.keyBytes) }, kdf: kdfWithFreshSalt(kdf) };
}

const withoutSlot = (metadata: Luks2Metadata, id: number): Luks2Keyslot[] => metadata.keyslots.filter((slot) => slot.id !== id);

/** Adds `newSecret` in a free slot (the lowest, or `slotIndex`), authorized by `existingSecret`; the slot joins the segment's digest. */
export async function addKeyLuks2(header: Luks2Header, area: Uint8Array, existingSecret: Uint8Array, newSecret: Uint8Array, kdf: Luks2KdfChoice, slotIndex?: number): Promise<Luks2KeyslotChange> {
  const id = pickFreeKeyslot(header.metadata, slotIndex);
  const { volumeKey, keyslot } = await unlockLuks2(header, area, existingSecret);
  try {
    const opener = header.metadata.keyslots.find((slot) => slot.id === keyslot)!;
    const { slot, material } = await sealLuks2Keyslot(newSlot(header, id, opener, kdf), volumeKey, newSecret);
    const joined = new Set(digestsOf(header.metadata, opener).map((digest) => digest.id));
    const metadata: Luks2Metadata = {
      ...header.metadata,
      keyslots: [...header.metadata.keyslots, slot],
      digests: header.metadata.digests.map((digest) => (joined.has(digest.id) ? { ...digest, keyslots: [...digest.keyslots, id] } : digest)),
    };
    const result = rewrite(header, metadata);
    return { header: result.header, keyslot: id, writes: [{ offset: slot.area.offset, bytes: material }, ...result.writes] };
  } finally {
    zeroize(volumeKey);
  }
}

/**
 * Replaces the key in the slot `oldSecret` opens with `newSecret`, keeping the slot's number. Like cryptsetup, the new material goes
 * to a free area when there is one (so an interruption never leaves the slot half-written), and the old area is then wiped.
 */
export async function changeKeyLuks2(header: Luks2Header, area: Uint8Array, oldSecret: Uint8Array, newSecret: Uint8Array, kdf: Luks2KdfChoice): Promise<Luks2KeyslotChange> {
  const { volumeKey, keyslot } = await unlockLuks2(header, area, oldSecret);
  try {
    const old = header.metadata.keyslots.find((slot) => slot.id === keyslot)!;
    let target: Luks2Keyslot;
    try {
      target = newSlot(header, keyslot, old, kdf);
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      target = { ...old, kdf: kdfWithFreshSalt(kdf) }; // no free area: in place, as cryptsetup falls back to
    }
    const { slot, material } = await sealLuks2Keyslot(target, volumeKey, newSecret);
    const result = rewrite(header, { ...header.metadata, keyslots: [...withoutSlot(header.metadata, keyslot), slot] });
    const moved = slot.area.offset !== old.area.offset;
    const wipe = moved ? [{ offset: old.area.offset, bytes: randomBytes(old.area.size) }] : [];
    return { header: result.header, keyslot, writes: [{ offset: slot.area.offset, bytes: material }, ...result.writes, ...wipe] };
  } finally {
    zeroize(volumeKey);
  }
}

/**
 * Removes the slot `secret` opens: it leaves the key slots, digests and tokens, and its area is overwritten with random bytes.
 * Removing the last slot makes the volume undecryptable, so it needs `force`.
 */
export async function removeKeyLuks2(header: Luks2Header, area: Uint8Array, secret: Uint8Array, force: boolean): Promise<Luks2KeyslotChange> {
  const { volumeKey, keyslot } = await unlockLuks2(header, area, secret);
  zeroize(volumeKey);
  if (header.metadata.keyslots.length === 1 && !force) {
    throw new OperationError(`key slot ${keyslot} is the last one: removing it destroys access to the data (use --force to do it anyway)`);
  }
  const old = header.metadata.keyslots.find((slot) => slot.id === keyslot)!;
  const metadata: Luks2Metadata = {
    ...header.metadata,
    keyslots: withoutSlot(header.metadata, keyslot),
    digests: header.metadata.digests.map((digest) => ({ ...digest, keyslots: digest.keyslots.filter((id) => id !== keyslot) })),
    tokens: header.metadata.tokens.map((token) => ({ ...token, json: { ...token.json, keyslots: token.json.keyslots.filter((id) => id !== String(keyslot)) } })),
  };
  const result = rewrite(header, metadata);
  return { header: result.header, keyslot, writes: [...result.writes, { offset: old.area.offset, bytes: randomBytes(old.area.size) }] };
}
