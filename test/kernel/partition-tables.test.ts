// The hostile disks of the partition-scan tests, checked on the host: a LUKS2 volume whose first sector is also an MBR still
// opens in cryptsetup and in our tool with the same volume key, and its first sector carries what the msdos parser accepts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cryptsetupVolumeKey } from '../helpers/cryptsetup.ts';
import { runLuksTool } from '../helpers/luks-tool.ts';
import { makeLuks2Volume } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { embedMbrInLuks2 } from '../helpers/partition-tables.ts';

const tmp = useTmpDir();

describe('a LUKS2 header that is also an MBR', () => {
  it('opens in cryptsetup and in split-dm-crypt-luks with the volume key it had, and carries a valid MBR', async () => {
    const volume = await makeLuks2Volume(tmp, 'mbr-luks2.img', 'pass', { sectorSize: 512 });
    const before = readFileSync(volume.path);
    const draws = embedMbrInLuks2(volume.path);
    const after = readFileSync(volume.path);
    expect(after.subarray(0, 512).equals(before.subarray(0, 512))).toBe(false);
    expect(after.subarray(512).equals(before.subarray(512))).toBe(true);
    // The msdos parser's conditions: the signature, every boot indicator 0 or 0x80, our entry 4 (Linux, sectors 2048-4095).
    expect(after.readUInt16LE(510)).toBe(0xaa55);
    for (let slot = 0; slot < 4; slot++) expect([0, 0x80]).toContain(after[446 + slot * 16]);
    expect([after[446 + 48 + 4], after.readUInt32LE(446 + 48 + 8), after.readUInt32LE(446 + 48 + 12)]).toEqual([0x83, 2048, 2048]);
    expect(await cryptsetupVolumeKey(volume.path, 'pass')).toBe(volume.volumeKey.toString('hex'));
    const ours = await runLuksTool(['unlock', volume.path, '--dump-volume-key'], 'pass\n');
    expect(ours.exitCode, ours.stderr).toBe(0);
    expect(ours.stdout).toContain(volume.volumeKey.toString('hex'));
    process.stdout.write(`mbr-luks2: ${draws} salts drawn\n`);
  });
});
