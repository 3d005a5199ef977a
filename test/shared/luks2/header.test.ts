// The LUKS2 header parser: a cryptsetup-made header read field by field and written back identically; both copies checked, the
// newer valid one used, disagreements reported; every refusal a typed error naming its reason. Invalid inputs are rows with a why.
import { beforeAll, describe, expect, it } from 'vitest';
import { ParseError, UnsupportedError } from '../../../shared/errors.ts';
import { luks2JsonText } from '../../../shared/luks2/metadata-encode.ts';
import { parseLuks2Header, serializeLuks2Headers } from '../../../shared/luks2/header.ts';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTmpDir } from '../../helpers/tmp.ts';
import { cryptsetupLuks2Area, fastLuks2Area, jsonOf, reseal, withJson, withJsonText } from './fixture.ts';

const dir = useTmpDir();
let cryptsetupArea: Buffer;
let ours: Buffer;
beforeAll(async () => {
  cryptsetupArea = await cryptsetupLuks2Area(dir, 'base.img', { kdf: 'pbkdf2', keySize: 512, sectorSize: 4096 });
  ours = await fastLuks2Area(32, 1024 * 1024); // 1 MiB of header and key slots keeps the many copies below cheap
});

describe('a header made by cryptsetup', () => {
  it('parses to its fields', () => {
    const header = parseLuks2Header(cryptsetupArea);
    expect(header.warnings).toEqual([]);
    expect(header.binary).toMatchObject({ copy: 'primary', hdrSize: 16384, checksumAlg: 'sha256', label: '', hdrOffset: 0 });
    const { segment, keyslots, digests, config } = header.metadata;
    expect(segment).toMatchObject({ type: 'crypt', offset: 16 * 1024 * 1024, size: 'dynamic', ivTweak: 0, encryption: 'aes-xts-plain64', sectorSize: 4096 });
    expect(keyslots).toHaveLength(1);
    expect(keyslots[0]).toMatchObject({ id: 0, keyBytes: 64, af: { stripes: 4000, hash: 'sha256' }, area: { offset: 32768, size: 258048, encryption: 'aes-xts-plain64', keyBytes: 64 } });
    expect(keyslots[0]!.kdf).toMatchObject({ type: 'pbkdf2', hash: 'sha256', iterations: 1000 });
    expect(digests[0]).toMatchObject({ keyslots: [0], segments: [0], hash: 'sha256' });
    expect(config).toEqual({ jsonSize: 12288, keyslotsSize: 16744448 });
  });

  it('serializes back to the JSON text cryptsetup wrote', () => {
    const header = parseLuks2Header(cryptsetupArea);
    expect(luks2JsonText(header.metadata).toString('utf8')).toBe(jsonOf(cryptsetupArea));
  });
});

describe('labels', () => {
  it('a UTF-8 label set by cryptsetup config is read and written back as is', async () => {
    const path = join(dir, 'label.img');
    writeFileSync(path, cryptsetupArea);
    await execa('cryptsetup', ['config', '--batch-mode', '--label', 'Café disk', '--subsystem', 'backup', path]);
    const area = readFileSync(path);
    const header = parseLuks2Header(area);
    expect(header.binary).toMatchObject({ label: 'Café disk', subsystem: 'backup' });
    const [primary] = serializeLuks2Headers(header, header.metadata, header.binary.seqid, () => new Uint8Array(64));
    expect(primary!.bytes.equals(area.subarray(0, 16384))).toBe(true);
  });
});

describe('the two copies', () => {
  it('a corrupt primary falls back to the secondary, with a warning', () => {
    const area = Buffer.from(ours);
    area[5000]! ^= 1; // inside the primary's JSON area: its checksum fails
    const header = parseLuks2Header(area);
    expect(header.binary.copy).toBe('secondary');
    expect(header.copyUsed).toBe('secondary');
    expect(header.warnings.join()).toMatch(/primary header is unusable.*checksum/);
  });

  it('a corrupt secondary is reported and the primary used', () => {
    const area = Buffer.from(ours);
    area[16384 + 6]! ^= 1; // the secondary's version
    const header = parseLuks2Header(area);
    expect(header.copyUsed).toBe('primary');
    expect(header.warnings.join()).toMatch(/secondary header is unusable/);
  });

  it('the copy with the higher seqid wins, and the disagreement is reported', () => {
    const area = withJson(ours, (json) => (json.keyslots['0'].priority = 2));
    area.writeBigUInt64BE(7n, 16384 + 16); // secondary seqid 7 > primary 1
    reseal(area, 16384);
    const header = parseLuks2Header(withJsonText(area, jsonOf(ours), [0]));
    expect(header.binary.copy).toBe('secondary');
    expect(header.metadata.keyslots[0]!.priority).toBe(2);
    expect(header.warnings.join()).toMatch(/seqid 1 and 7/);
  });

  it('same seqid with different metadata: the primary, with a warning', () => {
    const area = withJsonText(ours, jsonOf(withJson(ours, (json) => (json.keyslots['0'].priority = 0))), [16384]);
    const header = parseLuks2Header(area);
    expect(header.binary.copy).toBe('primary');
    expect(header.warnings.join()).toMatch(/different metadata/);
  });

  it('with the primary wholly gone, the secondary is found at its offset', () => {
    const area = Buffer.from(ours);
    area.fill(0, 0, 16384);
    const header = parseLuks2Header(area);
    expect(header.copyUsed).toBe('secondary');
    expect(header.warnings.join()).toMatch(/primary header is unusable.*magic.*using the secondary header at byte 16384/);
  });

  it('a newer copy we refuse is refused, never replaced by the older one', () => {
    const area = withJson(ours, (json) => (json.segments['0'].sector_size = 8192));
    area.writeBigUInt64BE(5n, 16); // primary seqid 5 > secondary 1
    reseal(area, 0);
    const older = withJsonText(area, jsonOf(ours), [16384]);
    expect(() => parseLuks2Header(older)).toThrow(UnsupportedError);
  });

  it('both copies corrupt: a ParseError', () => {
    const area = Buffer.from(ours);
    area[5000]! ^= 1;
    area[16384 + 5000]! ^= 1;
    expect(() => parseLuks2Header(area)).toThrow(ParseError);
  });
});

describe('what cryptsetup tolerates', () => {
  // Each row: what cryptsetup ignores or repairs, the change, and a check of what we made of it. Nothing ignored is written back.
  const rows: [string, (json: any) => void, (text: string, header: ReturnType<typeof parseLuks2Header>) => void][] = [
    ['an unknown key in config', (j) => (j.config.future = { a: 1 }), (text) => expect(text).not.toMatch(/future/)],
    ['an unknown top-level section', (j) => (j.more = {}), (text) => expect(text).not.toMatch(/more/)],
    ['an unknown key in a key slot', (j) => (j.keyslots['0'].extra = 1), (text) => expect(text).not.toMatch(/extra/)],
    ['argon2 leftovers in a pbkdf2 kdf', (j) => Object.assign(j.keyslots['0'].kdf, { time: 4, memory: 1024, cpus: 1 }), (text, h) => {
      expect(Object.keys(h.metadata.keyslots[0]!.kdf).sort()).toEqual(['hash', 'iterations', 'salt', 'type']);
      expect(text).not.toMatch(/"memory"/);
    }],
    ['pbkdf2 leftovers in an argon2id kdf', (j) => (j.keyslots['0'].kdf = { type: 'argon2id', time: 4, memory: 1024, cpus: 1, hash: 'sha256', iterations: 1000, salt: j.keyslots['0'].kdf.salt }), (_t, h) => {
      expect(Object.keys(h.metadata.keyslots[0]!.kdf).sort()).toEqual(['cpus', 'memoryKiB', 'salt', 'time', 'type']);
    }],
    ['argon2id at 64 MiB and 40 passes', (j) => (j.keyslots['0'].kdf = { type: 'argon2id', time: 40, memory: 65536, cpus: 4, salt: j.keyslots['0'].kdf.salt }), (_t, h) => {
      expect(h.metadata.keyslots[0]!.kdf).toMatchObject({ time: 40, memoryKiB: 65536 });
    }],
    ['4001 stripes: 4000 used, with a warning', (j) => (j.keyslots['0'].af.stripes = 4001), (text, h) => {
      expect(h.metadata.keyslots[0]!.af.stripes).toBe(4000);
      expect(h.warnings.join()).toMatch(/4001 AF stripes/);
      expect(text).toMatch(/"stripes":4000/);
    }],
    ['json_size with a sign (strtoull)', (j) => (j.config.json_size = '+12288'), (_t, h) => expect(h.metadata.config.jsonSize).toBe(12288)],
  ];
  it.each(rows)('%s', (_why, mutate, check) => {
    const header = parseLuks2Header(withJson(ours, mutate));
    check(luks2JsonText(header.metadata).toString('utf8'), header);
  });

  it('non-zero padding and bytes after the NUL of a text field are ignored, and zeros written back', () => {
    const area = Buffer.from(ours);
    for (const at of [0, 16384]) {
      area[at + 300] = 1;
      area.write('disk\0junk', at + 24, 'latin1');
      reseal(area, at);
    }
    const header = parseLuks2Header(area);
    expect(header.binary.label).toBe('disk');
    const [primary] = serializeLuks2Headers(header, header.metadata, header.binary.seqid, () => new Uint8Array(64));
    expect(primary!.bytes[300]).toBe(0);
    expect(primary!.bytes.subarray(24, 40).toString('latin1')).toBe('disk\0\0\0\0\0\0\0\0\0\0\0\0');
  });
});

type Row = readonly [string, (json: any) => void, typeof ParseError | typeof UnsupportedError];

describe('metadata refusals', () => {
  // Each row: what is wrong, the change to a valid JSON area, and the error class it must give.
  const rows: Row[] = [
    ['unknown key-slot type (cryptsetup loads it)', (j) => (j.keyslots['0'].type = 'luks3'), UnsupportedError],
    ['unknown kdf type (cryptsetup loads it)', (j) => (j.keyslots['0'].kdf.type = 'scrypt'), UnsupportedError],
    ['prototype key smuggled in', (j) => Object.defineProperty(j.keyslots, '__proto__', { value: { type: 'luks2' }, enumerable: true }), ParseError],
    ['key-slot id not numbered', (j) => ((j.keyslots.a = j.keyslots['0']), delete j.keyslots['0']), ParseError],
    ['33 key slots', (j) => { for (let i = 1; i < 33; i++) j.keyslots[String(i)] = j.keyslots['0']; }, ParseError],
    ['unknown mandatory requirement', (j) => (j.config.requirements = { mandatory: ['x-future-feature'] }), UnsupportedError],
    ['online reencryption required but not in progress', (j) => (j.config.requirements = { mandatory: ['online-reencrypt-v2'] }), ParseError],
    ['reencrypt key slot without its members and requirement', (j) => (j.keyslots['1'] = { type: 'reencrypt', mode: 'reencrypt' }), ParseError],
    ['segment in reencryption', (j) => (j.segments['0'].flags = ['in-reencryption']), UnsupportedError],
    ['two dynamic segments', (j) => ((j.segments['1'] = { ...j.segments['0'], offset: '2097152' }), j.digests['0'].segments.push('1')), ParseError],
    ['two segments, one after the other', (j) => ((j.segments['0'].size = '65536'), (j.segments['1'] = { ...j.segments['0'], offset: '1114112', size: 'dynamic' }), j.digests['0'].segments.push('1')), UnsupportedError],
    ['integrity', (j) => (j.segments['0'].integrity = { type: 'hmac(sha256)', journal_encryption: 'none', journal_integrity: 'none' }), UnsupportedError],
    ['OPAL segment without its members', (j) => (j.segments['0'] = { type: 'hw-opal', offset: '1048576', size: '4096' }), ParseError],
    ['OPAL segment', (j) => (j.segments['0'] = { type: 'hw-opal', offset: '1048576', size: '4096', opal_segment_number: 1, opal_key_size: 32, opal_segment_size: '4096' }), UnsupportedError],
    ['unknown segment type', (j) => (j.segments['0'].type = 'verity'), UnsupportedError],
    ['sector size 1000', (j) => (j.segments['0'].sector_size = 1000), ParseError],
    ['sector size 8192 (dm-crypt lacks it)', (j) => (j.segments['0'].sector_size = 8192), UnsupportedError],
    ['data offset inside the key-slot area', (j) => (j.segments['0'].offset = '65536'), ParseError],
    ['data offset 0 (detached header)', (j) => (j.segments['0'].offset = '0'), UnsupportedError],
    ['offset beyond 2^64', (j) => (j.segments['0'].offset = '99999999999999999999'), ParseError],
    ['size beyond 2^53', (j) => (j.segments['0'].size = '18446744073709551104'), UnsupportedError],
    ['argon2 memory over 1 GiB', (j) => (j.keyslots['0'].kdf = { type: 'argon2id', time: 4, memory: 1048577, cpus: 1, salt: j.keyslots['0'].kdf.salt }), ParseError],
    ['argon2 work over the cap', (j) => (j.keyslots['0'].kdf = { type: 'argon2id', time: 33, memory: 1048576, cpus: 1, salt: j.keyslots['0'].kdf.salt }), ParseError],
    ['argon2 less than 8 KiB per lane', (j) => (j.keyslots['0'].kdf = { type: 'argon2i', time: 4, memory: 32, cpus: 5, salt: j.keyslots['0'].kdf.salt }), ParseError],
    ['pbkdf2 over 2^26 iterations', (j) => (j.keyslots['0'].kdf.iterations = 2 ** 26 + 1), ParseError],
    ['digest over 2^26 iterations', (j) => (j.digests['0'].iterations = 2 ** 26 + 1), ParseError],
    ['salt not base64', (j) => (j.keyslots['0'].kdf.salt = 'not*base64'), ParseError],
    ['salt of 31 bytes', (j) => (j.keyslots['0'].kdf.salt = Buffer.alloc(31).toString('base64')), ParseError],
    ['stripes not an integer', (j) => (j.keyslots['0'].af.stripes = '4000'), ParseError],
    ['key size 65', (j) => (j.keyslots['0'].key_size = 65), UnsupportedError],
    ['key slot no digest names', (j) => (j.keyslots['1'] = { ...j.keyslots['0'], area: { ...j.keyslots['0'].area, offset: '163840' } }), ParseError],
    ['key slot two digests name', (j) => (j.digests['1'] = { ...j.digests['0'] }), ParseError],
    ['area outside the key-slot area', (j) => (j.keyslots['0'].area.offset = '16777216'), ParseError],
    ['area too small for its material', (j) => (j.keyslots['0'].area.size = '4096'), ParseError],
    ['overlapping areas', (j) => (j.keyslots['1'] = { ...j.keyslots['0'], area: { ...j.keyslots['0'].area, offset: '40960' } }), ParseError],
    ['digest naming a missing slot', (j) => j.digests['0'].keyslots.push('5'), ParseError],
    ['no digest for the segment', (j) => (j.digests['0'].segments = []), ParseError],
    ['json_size not matching hdr_size', (j) => (j.config.json_size = '28672'), ParseError],
    ['unsupported key-slot cipher', (j) => (j.keyslots['0'].area.encryption = 'serpent-xts-plain64'), UnsupportedError],
    ['unsupported AF hash', (j) => (j.keyslots['0'].af.hash = 'whirlpool'), UnsupportedError],
    ['data cipher with a shell character', (j) => (j.segments['0'].encryption = 'aes-xts-plain64;reboot'), UnsupportedError],
  ];
  it.each(rows)('%s', (_why, mutate, errorClass) => {
    expect(() => parseLuks2Header(withJson(ours, mutate))).toThrow(errorClass);
  });

  // CVE-2025-59054 / CVE-2025-58356 class: a key slot (or segment) with the null cipher opens with any passphrase the attacker
  // chose to a key the attacker knows. Refused by name while parsing, so before any key derivation could run.
  it.each([
    ['key-slot area', (j: Parameters<Row[1]>[0]) => (j.keyslots['0'].area.encryption = 'cipher_null-ecb'), /unsupported key-slot cipher 'cipher_null-ecb'/],
    ['key-slot area (bare)', (j: Parameters<Row[1]>[0]) => (j.keyslots['0'].area.encryption = 'cipher_null'), /unsupported key-slot cipher 'cipher_null'/],
    ['data segment', (j: Parameters<Row[1]>[0]) => (j.segments['0'].encryption = 'cipher_null-ecb'), /cipher_null-ecb/],
  ])('a null cipher in the %s is refused by name', (_where, mutate, message) => {
    expect(() => parseLuks2Header(withJson(ours, mutate))).toThrow(UnsupportedError);
    expect(() => parseLuks2Header(withJson(ours, mutate))).toThrow(message);
  });

  it.each([
    ['no terminating NUL', Buffer.alloc(12288, 0x20).fill(0x7b, 0, 1)],
    ['not valid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
    ['not JSON', Buffer.from('{"keyslots":')],
    ['an array, not an object', Buffer.from('[]')],
    ['deeply nested', Buffer.from(`{"tokens":${'['.repeat(5000)}${']'.repeat(5000)}}`)],
    ['garbage after the JSON', Buffer.concat([Buffer.from('{}'), Buffer.from([0, 0, 1])])],
  ])('JSON area %s: ParseError', (_why, text) => {
    expect(() => parseLuks2Header(withJsonText(ours, text))).toThrow(ParseError);
  });

  it.each([
    ['hdr_size 12 KiB', (a: Buffer) => a.writeBigUInt64BE(12288n, 8)],
    ['hdr_size 8 MiB', (a: Buffer) => a.writeBigUInt64BE(8n * 1024n * 1024n, 8)],
    ['hdr_offset wrong', (a: Buffer) => a.writeBigUInt64BE(512n, 256)],
    ['version 1 (a LUKS1 header)', (a: Buffer) => a.writeUInt16BE(1, 6)],
  ])('binary header %s in both copies: ParseError', (_why, mutate) => {
    const area = Buffer.from(ours);
    mutate(area);
    mutate(area.subarray(16384));
    reseal(area, 0);
    expect(() => parseLuks2Header(area)).toThrow(ParseError);
  });

  it.each([
    ['version 3', (a: Buffer) => a.writeUInt16BE(3, 6)],
    ['checksum algorithm md5', (a: Buffer) => a.write('md5\0\0\0', 72)],
  ])('binary header %s in both copies: UnsupportedError', (_why, mutate) => {
    const area = Buffer.from(ours);
    mutate(area);
    mutate(area.subarray(16384));
    expect(() => parseLuks2Header(area)).toThrow(UnsupportedError);
  });

  it('a truncated area: ParseError', () => {
    expect(() => parseLuks2Header(ours.subarray(0, 20000))).toThrow(ParseError);
    expect(() => parseLuks2Header(ours.subarray(0, 100))).toThrow(ParseError);
  });
});
