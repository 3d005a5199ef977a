// Format, unlock and key-slot management on LUKS2 header areas in memory: both copies rewritten with seqid + 1, the layout
// cryptsetup uses, nothing but the named ranges written.
import { beforeAll, describe, expect, it } from 'vitest';
import { OperationError, WrongPassphraseError } from '../../../shared/errors.ts';
import { addKeyLuks2, changeKeyLuks2, parseLuks2Header, removeKeyLuks2, unlockLuks2, type AreaWrite, type Luks2KdfChoice } from '../../../shared/luks2/index.ts';
import { fastLuks2Area, jsonOf, PASSPHRASE, withJson } from './fixture.ts';

const FAST: Luks2KdfChoice = { type: 'pbkdf2', hash: 'sha256', iterations: 1000 };
const TWO = Buffer.from('second');
const THREE = Buffer.from('third');

function applied(area: Buffer, writes: readonly AreaWrite[]): Buffer {
  const out = Buffer.from(area);
  for (const { offset, bytes } of writes) out.set(bytes, offset);
  return out;
}

let area: Buffer;
let volumeKey: Buffer;
beforeAll(async () => {
  area = await fastLuks2Area(64, 1024 * 1024);
  volumeKey = (await unlockLuks2(parseLuks2Header(area), area, PASSPHRASE)).volumeKey;
});

describe('format and unlock', () => {
  it('makes the layout cryptsetup makes and unlocks with the passphrase only', async () => {
    const header = parseLuks2Header(area);
    expect(header.binary.seqid).toBe(1n);
    expect(header.metadata.keyslots[0]!.area).toMatchObject({ offset: 32768, size: 258048 });
    expect(jsonOf(area)).toBe(jsonOf(area, 16384));
    const unlocked = await unlockLuks2(header, area, PASSPHRASE);
    expect(unlocked.mapping).toMatchObject({ cipher: 'aes-xts-plain64', keyBytes: 64, mappable: true, offsetBytes: 1048576, offsetSectors: 2048, sectorSize: 512, ivTweak: 0 });
    await expect(unlockLuks2(header, area, Buffer.from('wrong'))).rejects.toThrow(WrongPassphraseError);
    await expect(unlockLuks2(header, area, PASSPHRASE, { onlySlot: 1 })).rejects.toThrow(WrongPassphraseError);
  });
});

describe('key slots', () => {
  it('add: the next free slot and area, joined to the digest, both copies at seqid 2', async () => {
    const header = parseLuks2Header(area);
    const change = await addKeyLuks2(header, area, PASSPHRASE, TWO, FAST);
    expect(change.keyslot).toBe(1);
    const next = applied(area, change.writes);
    const reread = parseLuks2Header(next);
    expect(reread.warnings).toEqual([]);
    expect(reread.binary.seqid).toBe(2n);
    expect(reread.metadata.keyslots[1]!.area.offset).toBe(32768 + 258048);
    expect(reread.metadata.digests[0]!.keyslots).toEqual([0, 1]);
    expect((await unlockLuks2(reread, next, TWO)).volumeKey.equals(volumeKey)).toBe(true);
    // Only the headers and the new slot's area were written.
    expect(change.writes.map((w) => [w.offset, w.bytes.length])).toEqual([[290816, 256000], [0, 16384], [16384, 16384]]);
  });

  it('add: a chosen slot number, and refusals', async () => {
    const header = parseLuks2Header(area);
    expect((await addKeyLuks2(header, area, PASSPHRASE, TWO, FAST, 9)).keyslot).toBe(9);
    await expect(addKeyLuks2(header, area, PASSPHRASE, TWO, FAST, 0)).rejects.toThrow(OperationError);
    await expect(addKeyLuks2(header, area, Buffer.from('wrong'), TWO, FAST)).rejects.toThrow(WrongPassphraseError);
  });

  it('change: same slot number, new area, old area wiped', async () => {
    const header = parseLuks2Header(area);
    const change = await changeKeyLuks2(header, area, PASSPHRASE, THREE, FAST);
    expect(change.keyslot).toBe(0);
    const next = applied(area, change.writes);
    const reread = parseLuks2Header(next);
    expect(reread.metadata.keyslots.map((s) => [s.id, s.area.offset])).toEqual([[0, 290816]]);
    expect(next.subarray(32768, 32768 + 256000).equals(area.subarray(32768, 32768 + 256000))).toBe(false);
    await expect(unlockLuks2(reread, next, PASSPHRASE)).rejects.toThrow(WrongPassphraseError);
    expect((await unlockLuks2(reread, next, THREE)).volumeKey.equals(volumeKey)).toBe(true);
  });

  it('change: in place when the key-slot area has no free room', async () => {
    const tight = await fastLuks2Area(64, 32768 + 258048 + 4096); // room for exactly one slot
    const header = parseLuks2Header(tight);
    const change = await changeKeyLuks2(header, tight, PASSPHRASE, THREE, FAST);
    const reread = parseLuks2Header(applied(tight, change.writes));
    expect(reread.metadata.keyslots[0]!.area.offset).toBe(32768);
    await expect(addKeyLuks2(reread, applied(tight, change.writes), THREE, TWO, FAST)).rejects.toThrow(/no room/);
  });

  it('remove: out of the slots and digests, area wiped; the last one needs force', async () => {
    const added = applied(area, (await addKeyLuks2(parseLuks2Header(area), area, PASSPHRASE, TWO, FAST)).writes);
    const change = await removeKeyLuks2(parseLuks2Header(added), added, PASSPHRASE, false);
    expect(change.keyslot).toBe(0);
    const next = applied(added, change.writes);
    const reread = parseLuks2Header(next);
    expect(reread.binary.seqid).toBe(3n);
    expect(reread.metadata.keyslots.map((s) => s.id)).toEqual([1]);
    expect(reread.metadata.digests[0]!.keyslots).toEqual([1]);
    await expect(removeKeyLuks2(reread, next, TWO, false)).rejects.toThrow(/last one/);
    const forced = await removeKeyLuks2(reread, next, TWO, true);
    expect(parseLuks2Header(applied(next, forced.writes)).metadata.keyslots).toEqual([]);
  });

  it('remove: tokens lose the slot and keep every other field; priorities order the trial', async () => {
    const added = applied(area, (await addKeyLuks2(parseLuks2Header(area), area, PASSPHRASE, TWO, FAST)).writes);
    const withToken = withJson(added, (json) => (json.tokens['0'] = { type: 'luks2-keyring', keyslots: ['0', '1'], key_description: 'd' }));
    const change = await removeKeyLuks2(parseLuks2Header(withToken), withToken, PASSPHRASE, false);
    const token = parseLuks2Header(applied(withToken, change.writes)).metadata.tokens[0]!.json;
    expect(token).toEqual({ type: 'luks2-keyring', keyslots: ['1'], key_description: 'd' });
    // Priority 0 ("ignore") is tried only when asked for by number, as cryptsetup does.
    const ignored = withJson(added, (json) => (json.keyslots['1'].priority = 0));
    await expect(unlockLuks2(parseLuks2Header(ignored), ignored, TWO)).rejects.toThrow(WrongPassphraseError);
    expect((await unlockLuks2(parseLuks2Header(ignored), ignored, TWO, { onlySlot: 1 })).keyslot).toBe(1);
  });
});
