// luks2BytesNeeded: what a header VM receiving the disk in steps asks for next, and that the parser works on exactly that much.
import { beforeAll, describe, expect, it } from 'vitest';
import { LUKS1_HEADER_AREA_BYTES } from '../../../shared/luks1/constants.ts';
import { luks2BytesNeeded, parseLuks2Header } from '../../../shared/luks2/index.ts';
import { useTmpDir } from '../../helpers/tmp.ts';
import { cryptsetupLuks2Area, fastLuks2Area } from './fixture.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const dir = useTmpDir();
let ours: Buffer; // 16 KiB headers, data (and the end of the key-slot area) at 1 MiB
let cryptsetupDefault: Buffer; // cryptsetup's default layout: key-slot area up to 16 MiB
beforeAll(async () => {
  ours = await fastLuks2Area(32, MIB);
  cryptsetupDefault = await cryptsetupLuks2Area(dir, 'default.img');
});

const withVersion = (version: number): Buffer => {
  const bytes = Buffer.from(ours.subarray(0, 4096));
  bytes.writeUInt16BE(version, 6);
  return bytes;
};

describe('luks2BytesNeeded', () => {
  // Each row: the prefix received so far, and what must be asked for next (or, at most the prefix, that it is enough).
  it.each([
    ['nothing yet: the primary binary header', () => Buffer.alloc(0), 4096],
    ['part of the binary header', () => ours.subarray(0, 100), 4096],
    ['the primary binary header: both copies (2 x hdr_size)', () => ours.subarray(0, 4096), 32 * KIB],
    ['both copies: the end of the key-slot area', () => ours.subarray(0, 32 * KIB), MIB],
    ['everything: no more', () => ours, MIB],
    ['no primary magic: the first place a secondary may start', () => Buffer.alloc(4096), 16 * KIB + 4096],
    ['no secondary at 16 KiB either: the next place', () => Buffer.alloc(16 * KIB + 4096), 32 * KIB + 4096],
    ['no header anywhere: nothing more would help', () => Buffer.alloc(4 * MIB + 4096), 4 * MIB + 4096],
    ['a LUKS1 primary: the LUKS1 header area', () => withVersion(1), LUKS1_HEADER_AREA_BYTES],
    ['LUKS version 3: refused whatever follows', () => withVersion(3), 4096],
  ])('%s', (_why, prefix, needed) => {
    expect(luks2BytesNeeded(prefix())).toBe(needed);
  });

  it("cryptsetup's default layout: capped at 16 MiB", () => {
    expect(luks2BytesNeeded(cryptsetupDefault.subarray(0, 32 * KIB))).toBe(16 * MIB);
  });

  it('the parser works on exactly the bytes asked for', () => {
    const area = ours.subarray(0, luks2BytesNeeded(ours.subarray(0, 32 * KIB)));
    expect(area.length).toBe(MIB);
    expect(parseLuks2Header(area).metadata.keyslots).toHaveLength(1);
    expect(() => parseLuks2Header(area.subarray(0, area.length - 1))).toThrow(/cut off/);
  });

  it('a destroyed primary: the secondary is found in steps, then its own needs', () => {
    const area = Buffer.from(ours);
    area.fill(0, 0, 16 * KIB);
    const asked: number[] = [];
    let have = 0;
    for (let needed = luks2BytesNeeded(area.subarray(0, 0)); needed > have; needed = luks2BytesNeeded(area.subarray(0, have))) {
      asked.push(needed);
      have = needed;
    }
    expect(asked).toEqual([4096, 16 * KIB + 4096, 32 * KIB, MIB]);
    expect(parseLuks2Header(area.subarray(0, have)).copyUsed).toBe('secondary');
  });
});
