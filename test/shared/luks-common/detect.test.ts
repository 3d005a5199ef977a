// Telling LUKS1 from LUKS2 by magic and version alone, and the header's own extent the facade reports.
import { describe, expect, it } from 'vitest';
import { ParseError, UnsupportedError } from '../../../shared/errors.ts';
import { detectLuksType, LUKS_PROBE_BYTES } from '../../../shared/luks-common/detect.ts';
import { parseVolume, summarizeVolume } from '../../../shared/luks/index.ts';
import { fastLuks2Area } from '../luks2/fixture.ts';

const head = (version: number): Buffer => Buffer.concat([Buffer.from('LUKS\xba\xbe', 'latin1'), Buffer.from([version >> 8, version & 0xff])]);

describe('detectLuksType', () => {
  it.each([
    [head(1), 'luks1'],
    [head(2), 'luks2'],
  ] as const)('%j -> %s', (bytes, type) => {
    expect(detectLuksType(bytes)).toBe(type);
  });

  // Each row: bytes that are not a LUKS header we handle, and why.
  it.each([
    [Buffer.alloc(0), ParseError, 'empty'],
    [head(2).subarray(0, 7), ParseError, 'too short for the version'],
    [Buffer.from('SKUL\xba\xbe\x00\x02', 'latin1'), ParseError, 'a secondary magic is not a device start'],
    [Buffer.alloc(8), ParseError, 'zeros'],
    [head(3), UnsupportedError, 'version 3'],
  ])('%j refused (%s)', (bytes, errorClass, _why) => {
    expect(() => detectLuksType(bytes)).toThrow(errorClass);
  });
});

describe('a LUKS2 volume whose primary header is destroyed', () => {
  it('is told by its secondary header, when the bytes given reach it (cryptsetup tries LUKS2 too)', async () => {
    const area = Buffer.from(await fastLuks2Area(32, 1024 * 1024));
    area.fill(0, 0, 16384);
    expect(detectLuksType(area.subarray(0, LUKS_PROBE_BYTES))).toBe('luks2');
    expect(() => detectLuksType(area.subarray(0, 8))).toThrow(ParseError);
    expect(LUKS_PROBE_BYTES).toBe(4 * 1024 * 1024 + 8);
  });
});

describe('header extent', () => {
  it('a parsed LUKS2 header: up to its data offset', async () => {
    const area = await fastLuks2Area(32, 2 * 1024 * 1024);
    expect(summarizeVolume(parseVolume(area)).headerBytes).toBe(2 * 1024 * 1024);
  });
});
