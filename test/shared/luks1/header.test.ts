import { describe, expect, it } from 'vitest';
import { ParseError, UnsupportedError } from '../../../shared/errors.ts';
import { parseLuks1Header, serializeLuks1Header } from '../../../shared/luks1/header.ts';
import { luks1Area, luks1Vector } from './fixture.ts';

// The header cryptsetup makes by default (512-bit xts key, sha256, slot 0); vectors.test.ts checks its fields against luksDump.
const valid = luks1Area(luks1Vector('xts-512-sha256'));

const setU32 = (offset: number, value: number) => (b: Buffer) => void b.writeUInt32BE(value >>> 0, offset);
const setU16 = (offset: number, value: number) => (b: Buffer) => void b.writeUInt16BE(value, offset);
const setText = (offset: number, text: string | number[], size = 32) => (b: Buffer) => {
  b.fill(0, offset, offset + size);
  (typeof text === 'string' ? Buffer.from(text, 'latin1') : Buffer.from(text)).copy(b, offset);
};
const slot = (i: number, field: number) => 208 + 48 * i + field;

// Each row: why the header is invalid, how to make it from a valid one, and the error class expected.
const INVALID: readonly [string, (b: Buffer) => void, typeof ParseError | typeof UnsupportedError][] = [
  ['wrong magic', (b) => void (b[4] = 0), ParseError],
  ['version 0', setU16(6, 0), ParseError],
  ['version 3', setU16(6, 3), ParseError],
  ['version 2 is LUKS2, not yet supported', setU16(6, 2), UnsupportedError],
  ['cipher serpent is a real cipher we do not implement', setText(8, 'serpent'), UnsupportedError],
  ['cipher xchacha12,aes (LUKS1 Adiantum, as cryptsetup makes it on request) is supported in LUKS2 only', setText(8, 'xchacha12,aes'), UnsupportedError],
  ['cipher name nobody uses', setText(8, 'rot13'), ParseError],
  ['cipher name not UTF-8', setText(8, [0xc3, 0x28, 0x61]), ParseError],
  ['cipher name not NUL-terminated', setText(8, 'a'.repeat(32)), ParseError],
  ['cipher name empty', setText(8, ''), ParseError],
  ['garbage after the NUL of the cipher name', setText(8, [0x61, 0x65, 0x73, 0, 0x41]), ParseError],
  ['cipher mode ecb is not supported', setText(40, 'ecb'), UnsupportedError],
  ['hash whirlpool is not supported', setText(72, 'whirlpool'), UnsupportedError],
  ['hash name nobody uses', setText(72, 'md5x'), ParseError],
  ['key-bytes 0', setU32(108, 0), ParseError],
  ['key-bytes 1 GiB', setU32(108, 2 ** 30), ParseError],
  ['key-bytes 48 is not an xts key size', setU32(108, 48), ParseError],
  ['payload offset 0 (detached header layout)', setU32(104, 0), ParseError],
  ['payload offset inside key material', setU32(104, 100), ParseError],
  ['mk-digest iterations 0', setU32(164, 0), ParseError],
  ['mk-digest iterations 4 billion', setU32(164, 4_000_000_000), ParseError],
  ['uuid not a uuid', setText(168, 'not-a-uuid', 40), ParseError],
  ['slot 0 active flag neither on nor off', setU32(slot(0, 0), 0x12345678), ParseError],
  ['slot 0 with 4 billion iterations', setU32(slot(0, 4), 4_000_000_000), ParseError],
  ['active slot 0 with zero iterations', setU32(slot(0, 4), 0), ParseError],
  ['slot 3 stripes 3999', setU32(slot(3, 44), 3999), ParseError],
  ['slot 2 key material inside the 592-byte header', setU32(slot(2, 40), 1), ParseError],
  ['slot 1 overlapping slot 0', setU32(slot(1, 40), 9), ParseError],
  ['slot 7 overlapping slot 6', setU32(slot(7, 40), 3100), ParseError],
];

describe('parseLuks1Header', () => {
  it('reads every slot\'s key material offset of a 512-bit layout', () => {
    expect(parseLuks1Header(valid).keyslots.map((s) => s.keyMaterialOffset)).toEqual([8, 512, 1016, 1520, 2024, 2528, 3032, 3536]);
  });

  it('serializes back to the exact bytes it parsed', () => {
    expect(Buffer.from(serializeLuks1Header(parseLuks1Header(valid)))).toEqual(valid.subarray(0, 592));
  });

  it('refuses a truncated header', () => {
    expect(() => parseLuks1Header(valid.subarray(0, 591))).toThrow(ParseError);
    expect(() => parseLuks1Header(new Uint8Array(0))).toThrow(ParseError);
  });

  it.each(INVALID)('refuses: %s', (_why, mutate, errorClass) => {
    const bytes = Buffer.from(valid.subarray(0, 592));
    mutate(bytes);
    expect(() => parseLuks1Header(bytes)).toThrow(errorClass);
  });

  it('names the field and offset in a parse error', () => {
    const bytes = Buffer.from(valid.subarray(0, 592));
    setU32(slot(3, 44), 3999)(bytes);
    try {
      parseLuks1Header(bytes);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).field).toBe('key slot 3 stripes');
      expect((error as ParseError).offset).toBe(slot(3, 44));
    }
  });
});
