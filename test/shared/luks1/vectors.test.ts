// The LUKS1 vectors (test/vectors/luks1): for each volume cryptsetup made, our parser reads the fields cryptsetup's luksDump
// printed, writes the header back byte for byte, and each slot's passphrase unlocks that slot to the volume key cryptsetup dumped;
// a disabled slot's passphrase opens nothing.
import { describe, expect, it } from 'vitest';
import { WrongPassphraseError } from '../../../shared/errors.ts';
import { LUKS1_PHDR_BYTES } from '../../../shared/luks1/constants.ts';
import { parseLuks1Header, serializeLuks1Header } from '../../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../../shared/luks1/unlock.ts';
import { luks1Area, LUKS1_VECTORS } from './fixture.ts';

const rows = LUKS1_VECTORS.map((vector) => [vector.file, vector] as const);

describe('LUKS1 vectors', () => {
  it('are there (the loader fails on an empty corpus) and cover the hashes, key sizes and slot states asked of them', () => {
    expect(LUKS1_VECTORS.length).toBeGreaterThanOrEqual(4);
    expect(new Set(LUKS1_VECTORS.map((v) => v.header.hashSpec))).toEqual(new Set(['sha1', 'sha256', 'sha512']));
    expect(new Set(LUKS1_VECTORS.map((v) => v.header.keyBytes))).toEqual(new Set([32, 64]));
    expect(LUKS1_VECTORS.some((v) => Object.keys(v.passphrases).length > 1 && (v.refused?.length ?? 0) > 0)).toBe(true);
  });

  it.each(rows)('%s: our parse gives the fields luksDump printed, and serializes back to the same bytes', (_file, vector) => {
    const area = luks1Area(vector);
    const header = parseLuks1Header(area);
    const { keyslots, ...fields } = vector.header;
    expect(header).toMatchObject(fields);
    expect(header.keyslots.map((slot) => (slot.active ? { active: true, iterations: slot.iterations, keyMaterialOffset: slot.keyMaterialOffset, stripes: slot.stripes } : { active: false }))).toEqual(keyslots);
    expect(Buffer.from(serializeLuks1Header(header))).toEqual(area.subarray(0, LUKS1_PHDR_BYTES));
  });

  it.each(rows)('%s: each slot opens with its passphrase to the volume key cryptsetup dumped', async (_file, vector) => {
    const area = luks1Area(vector);
    const header = parseLuks1Header(area);
    for (const [slot, passphrase] of Object.entries(vector.passphrases)) {
      const unlocked = await unlockLuks1(header, area, Buffer.from(passphrase));
      expect({ keyslot: unlocked.keyslot, volumeKey: unlocked.volumeKey.toString('hex') }).toEqual({ keyslot: Number(slot), volumeKey: vector.volumeKey });
      // Restricted to its own slot it still opens; restricted to another, it does not.
      expect((await unlockLuks1(header, area, Buffer.from(passphrase), Number(slot))).keyslot).toBe(Number(slot));
      const other = header.keyslots.find((s) => s.active && s.index !== Number(slot));
      if (other) await expect(unlockLuks1(header, area, Buffer.from(passphrase), other.index)).rejects.toThrow(WrongPassphraseError);
    }
    for (const passphrase of [...(vector.refused ?? []), 'not the passphrase']) {
      await expect(unlockLuks1(header, area, Buffer.from(passphrase))).rejects.toThrow(WrongPassphraseError);
    }
  });
});
