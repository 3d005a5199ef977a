// The version-agnostic LUKS facade: the same calls on a LUKS1 and a LUKS2 volume made by its own format, with the version read
// from the bytes; the KDF choice's refusals as rows; key-slot changes applied and unlocked again.
import { describe, expect, it } from 'vitest';
import { UnsupportedError, UsageError, WrongPassphraseError } from '../../../shared/errors.ts';
import {
  addKeyslot,
  changeKeyslot,
  chooseKdf,
  dataOffsetBytes,
  formatVolume,
  headerBytesNeeded,
  mappableSegment,
  parseVolume,
  removeKeyslot,
  summarizeVolume,
  unlockVolume,
  type AreaWrite,
  type KdfRequest,
  type LuksVolume,
} from '../../../shared/luks/index.ts';
import type { LuksType } from '../../../shared/protocol/contract.ts';

const SECRET = Buffer.from('first passphrase');
const OTHER = Buffer.from('second passphrase');
/** The cheapest costs each version allows, so the tests measure behaviour and not PBKDF2 or Argon2. */
const FAST = { luks1: { forcedIterations: 1000 }, luks2: { pbkdf: 'pbkdf2', forcedIterations: 1000 } } as const;

async function fresh(type: LuksType, keyBytes: 32 | 64 = 64): Promise<LuksVolume> {
  const { volume } = await formatVolume(SECRET, { type, keyBytes, hash: 'sha256', ...FAST[type] });
  return volume;
}

function applied(volume: LuksVolume, writes: readonly AreaWrite[]): LuksVolume {
  const area = Buffer.from(volume.area);
  for (const { offset, bytes } of writes) area.set(bytes, offset);
  return parseVolume(area);
}

describe.each(['luks1', 'luks2'] as const)('the facade on a %s volume', (type) => {
  it('formats an area that parses back as the same version, with the data where the summary says', async () => {
    const volume = await fresh(type);
    const parsed = parseVolume(volume.area);
    expect(parsed.type).toBe(type);
    const summary = summarizeVolume(parsed);
    expect(summary).toMatchObject({ luksType: type, cipher: 'aes-xts-plain64', keyBytes: 64, keyslots: [{ id: 0, kdf: 'pbkdf2', iterations: 1000 }] });
    expect(summary.dataOffset * 512).toBe(dataOffsetBytes(parsed));
    expect(mappableSegment(parsed)).toEqual({ cipher: 'aes-xts-plain64', keyBytes: 64, payloadOffset: summary.dataOffset, sectorSize: 512 });
    // The stepped transfer asks for exactly the header's extent, never the data.
    expect(headerBytesNeeded(volume.area)).toBeLessThanOrEqual(dataOffsetBytes(parsed));
  });

  it('unlocks with the secret, tells of the slot first, and refuses another secret', async () => {
    const volume = await fresh(type, 32);
    const heard: number[] = [];
    const { keyslot, volumeKey } = await unlockVolume(volume, SECRET, { onSlot: (slot) => heard.push(slot.id) });
    expect([keyslot, volumeKey.length, heard]).toEqual([0, 32, [0]]);
    await expect(unlockVolume(volume, OTHER)).rejects.toBeInstanceOf(WrongPassphraseError);
  });

  it('adds, changes and removes key slots, each change reaching the same volume key', async () => {
    const volume = await fresh(type, 32);
    const { volumeKey } = await unlockVolume(volume, SECRET);
    const added = await addKeyslot(volume, SECRET, OTHER, FAST[type], 3);
    const withTwo = applied(volume, added.writes);
    expect(added.keyslot).toBe(3);
    expect((await unlockVolume(withTwo, OTHER)).volumeKey).toEqual(volumeKey);
    const third = Buffer.from('third passphrase');
    const changed = await changeKeyslot(withTwo, OTHER, third, FAST[type]);
    const afterChange = applied(withTwo, changed.writes);
    expect((await unlockVolume(afterChange, third)).keyslot).toBe(3);
    await expect(unlockVolume(afterChange, OTHER)).rejects.toBeInstanceOf(WrongPassphraseError);
    const removed = applied(afterChange, (await removeKeyslot(afterChange, SECRET, false)).writes);
    expect(summarizeVolume(removed).keyslots.map((slot) => slot.id)).toEqual([3]);
    // The last key slot goes only when forced: without it the data would be unreachable.
    await expect(removeKeyslot(removed, third, false)).rejects.toThrow(/last/);
  });
});

describe('parseVolume', () => {
  it('refuses a LUKS2 volume sent in a LUKS1-sized area, and reads a LUKS1 volume in a LUKS2-sized one', async () => {
    const luks2 = await fresh('luks2');
    expect(() => parseVolume(luks2.area, 'luks1')).toThrow(UnsupportedError);
    const luks1 = await fresh('luks1');
    const padded = Buffer.concat([luks1.area, Buffer.alloc(1024 * 1024)]);
    expect(parseVolume(padded, 'luks2').area.length).toBe(luks1.area.length);
  });
});

describe('chooseKdf', () => {
  // Each row is a request that must be refused, with the reason; the type the volume has decides what is allowed.
  it.each([
    ['luks1', { pbkdf: 'argon2id' }, 'LUKS1 key slots are PBKDF2 only'],
    ['luks1', { memoryKiB: 65536 }, 'LUKS1 has no Argon2 memory'],
    ['luks1', { forcedIterations: 999 }, 'fewer PBKDF2 iterations than cryptsetup ever writes'],
    ['luks2', { forcedIterations: 3 }, 'fewer Argon2 passes than cryptsetup writes'],
    ['luks2', { forcedIterations: 33 }, 'more Argon2 passes than our cap'],
    ['luks2', { pbkdf: 'pbkdf2', forcedIterations: 999 }, 'fewer PBKDF2 iterations'],
    ['luks2', { memoryKiB: 24, parallel: 4, forcedIterations: 4 }, 'less than 8 KiB per Argon2 lane'],
  ] as [LuksType, KdfRequest, string][])('%s %j is refused (%s)', async (type, request) => {
    await expect(chooseKdf(type, request, 'sha256', 32)).rejects.toBeInstanceOf(UsageError);
  });

  it('takes forced counts as given and fills the version defaults', async () => {
    expect(await chooseKdf('luks1', { forcedIterations: 2000 }, 'sha512', 64)).toEqual({ type: 'pbkdf2', hash: 'sha512', iterations: 2000 });
    expect(await chooseKdf('luks2', { forcedIterations: 4 }, 'sha256', 64)).toEqual({ type: 'argon2id', time: 4, memoryKiB: 256 * 1024, cpus: 4 });
    expect(await chooseKdf('luks2', { pbkdf: 'argon2i', memoryKiB: 65536, parallel: 2, forcedIterations: 5 }, 'sha256', 64)).toEqual({ type: 'argon2i', time: 5, memoryKiB: 65536, cpus: 2 });
  });

  it('measures PBKDF2 for a target time when nothing is forced', async () => {
    const choice = await chooseKdf('luks1', { iterTimeMs: 50 }, 'sha256', 32);
    expect(choice.type === 'pbkdf2' && choice.iterations).toBeGreaterThanOrEqual(1000);
  });
});
