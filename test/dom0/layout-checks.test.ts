// dom0's checks on a header VM's report, before any secret is asked: a table of reports a compromised header VM could send, each
// with what dom0 must do. The honest rows are what our header VM reports for cryptsetup's defaults.
import { describe, expect, it } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import type { HeaderParsed } from '../../shared/protocol/messages.ts';
import type { HeaderFacts } from '../../dom0/header-steps.ts';
import { approveLayout, checkReportedLayout, DEFAULT_DATA_OFFSET, mappingLayout } from '../../dom0/layout-checks.ts';

const MIB = 1024 * 1024;
const luks2: HeaderParsed = {
  type: 'header-parsed',
  luksType: 'luks2',
  uuid: '0d6f1a52-5b5e-4a8e-9a53-2b7b4b1c7f10',
  cipher: 'aes-xts-plain64',
  keyBytes: 64,
  dataOffset: 32768,
  sectorSize: 512,
  headerBytes: 16 * MIB,
  keyslots: [{ id: 0, kdf: 'argon2id', iterations: 4, memoryKiB: 65536, parallel: 4, hash: 'sha256', areaCipher: 'aes-xts-plain64' }],
  copy: 'primary',
  warnings: [],
};
const luks1: HeaderParsed = { ...luks2, luksType: 'luks1', dataOffset: 4096, headerBytes: 2068480, keyslots: [{ id: 0, kdf: 'pbkdf2', iterations: 1000, memoryKiB: 0, parallel: 0, hash: 'sha256', areaCipher: 'aes-xts-plain64' }] };
const facts = (parsed: Partial<HeaderParsed>, sentBytes: number, base = luks2, diskBytes = 64 * MIB): HeaderFacts => ({ parsed: { ...base, ...parsed }, sentBytes, diskBytes });

describe('checkReportedLayout', () => {
  it.each([
    ['honest LUKS2 with cryptsetup defaults, 16 MiB sent', facts({}, 16 * MIB)],
    ['honest LUKS1, 2068480 bytes sent', facts({}, 2068480, luks1)],
    ['LUKS2 with 4096-byte sectors', facts({ sectorSize: 4096 }, 16 * MIB)],
    ['a LUKS1 volume under the luks2 default', facts({}, 2068480, luks1)],
    ['LUKS2 with Adiantum and its 256-bit key', facts({ cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, 16 * MIB)],
  ])('accepts %s', (_what, reported) => {
    expect(() => checkReportedLayout(reported, 'luks2', 'header VM x')).not.toThrow();
  });

  it.each([
    // The covert channel of the attack: the mapping would start inside the header the VM saw (and the source sees reads there).
    ['data at sector 1', facts({ dataOffset: 1 }, 16 * MIB)],
    ['data inside what was sent (the VM asked for 4 MiB)', facts({ dataOffset: 4097 }, 4 * MIB, luks1)],
    ['a cipher our header VM refuses to report', facts({ cipher: 'cipher_null-ecb' }, 16 * MIB)],
    ['a key size that is not AES-XTS', facts({ keyBytes: 16 }, 16 * MIB)],
    ['Adiantum with a 512-bit key (its key is 256 bits)', facts({ cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 64 }, 16 * MIB)],
    ['a key-slot cipher the device VM never maps', facts({ cipher: 'aes-cbc-essiv:sha256', keyBytes: 32 }, 16 * MIB)],
    ['4096-byte sectors on LUKS1', facts({ sectorSize: 4096 }, 2068480, luks1)],
    ['1024-byte sectors (valid LUKS2, not mapped)', facts({ sectorSize: 1024 }, 16 * MIB)],
    ['a data offset not a multiple of the sector size', facts({ sectorSize: 4096, dataOffset: 32769 }, 16 * MIB)],
    ['a header extent past its data', facts({ headerBytes: 16 * MIB, dataOffset: 8192 }, 4 * MIB)],
  ])('refuses %s, naming the VM as misbehaving', (_what, reported) => {
    expect(() => checkReportedLayout(reported, 'luks2', 'header VM dm-header-disp00000001')).toThrow(/header VM dm-header-disp00000001 misbehaved/);
  });

  it('refuses a LUKS2 report where only luks1 was asked for', () => {
    expect(() => checkReportedLayout(facts({}, 16 * MIB), 'luks1', 'header VM x')).toThrow(/misbehaved/);
  });

  it('refuses data at or past the disk end (a plain error: the disk is smaller than the header says)', () => {
    const error = (() => {
      try {
        checkReportedLayout(facts({}, 16 * MIB, luks2, 16 * MIB), 'luks2', 'header VM x');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toMatch(/past the end/);
  });
});

describe('approveLayout (no terminal)', () => {
  it('accepts cryptsetup default offsets without asking', async () => {
    await expect(approveLayout(facts({}, 16 * MIB), { luksType: 'luks2', acceptedDataOffset: undefined }, 'x')).resolves.toBeUndefined();
    await expect(approveLayout(facts({}, 2068480, luks1), { luksType: 'luks2', acceptedDataOffset: undefined }, 'x')).resolves.toBeUndefined();
    expect(DEFAULT_DATA_OFFSET).toEqual({ luks1: 4096, luks2: 32768 });
  });

  it("accepts LUKS1's offset in a LUKS2 header (a converted volume keeps it), and no other", async () => {
    const converted = facts({ dataOffset: 4096, headerBytes: 2 * MIB }, 2 * MIB);
    await expect(approveLayout(converted, { luksType: 'luks2', acceptedDataOffset: undefined }, 'x')).resolves.toBeUndefined();
    const near = facts({ dataOffset: 4095, headerBytes: 2 * MIB - 512 }, 2 * MIB - 512);
    await expect(approveLayout(near, { luksType: 'luks2', acceptedDataOffset: undefined }, 'x')).rejects.toThrow(/--data-offset=4095/);
  });

  it('refuses another offset unless --data-offset names exactly it', async () => {
    const reported = facts({ dataOffset: 8192, headerBytes: 4 * MIB }, 4 * MIB);
    await expect(approveLayout(reported, { luksType: 'luks2', acceptedDataOffset: undefined }, 'x')).rejects.toThrow(/--data-offset=8192/);
    await expect(approveLayout(reported, { luksType: 'luks2', acceptedDataOffset: 8193 }, 'x')).rejects.toThrow(/--data-offset=8192/);
    await expect(approveLayout(reported, { luksType: 'luks2', acceptedDataOffset: 8192 }, 'x')).resolves.toBeUndefined();
  });
});

describe('mappingLayout', () => {
  it('is the reported key size, offset and sector size', () => {
    expect(mappingLayout(luks2)).toEqual({ key: { cipher: 'aes-xts-plain64', keyBytes: 64 }, dataOffset: 32768, sectorSize: 512 });
    expect(mappingLayout({ ...luks2, cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 })).toEqual({ key: { cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 }, dataOffset: 32768, sectorSize: 512 });
    expect(() => mappingLayout({ ...luks2, cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 64 })).toThrow(/cannot be mapped/);
  });
});
