// LUKS2, the default type: volumes made by the real cryptsetup (argon2id at a small cost, 512- and 4096-byte sectors, a
// non-default data offset) attach end to end on the simulator and the destination reads their plaintext; formats made by us open
// in cryptsetup.
import { createCipheriv } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupFormatLuks2, cryptsetupTestPassphrase, cryptsetupVolumeKey } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeLuks2Volume, newSim, runningVms, runSplit, sim, type Luks2VolumeOptions } from '../helpers/sim.ts';

const tmp = useTmpDir();
const PASSPHRASE = 'luks2 passphrase';

const luks2Volume = async (name: string, options: Luks2VolumeOptions) => {
  const volume = await makeLuks2Volume(tmp, name, PASSPHRASE, options);
  return { ...volume, key: volume.volumeKey, offset: volume.payloadOffset * 512 };
};

describe('LUKS2 on the simulator', { timeout: 180_000 }, () => {
  it.each([
    ['512-byte sectors at the default 16 MiB offset', { sectorSize: 512 as const }],
    ['4096-byte sectors', { sectorSize: 4096 as const }],
    ['a 4 MiB data offset (the original accepted only 16 MiB)', { sectorSize: 512 as const, offsetSectors: 8192 }],
  ] as [string, { sectorSize: 512 | 4096; offsetSectors?: number }][])('a cryptsetup argon2id volume with %s attaches by default and work reads its plaintext', async (_what, options) => {
    const dir = newSim();
    const volume = await luks2Volume(`v-${options.sectorSize}-${options.offsetSectors ?? 0}.img`, options);
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const before = runningVms(dir);
    const original = readFileSync(volume.path);
    // A data offset other than cryptsetup's default is accepted when the user names it (else it would need a confirmation).
    const offsetArgs = options.offsetSectors === undefined ? [] : [`--data-offset=${options.offsetSectors}`];
    const attach = await runSplit(dir, ['attach', ...offsetArgs, 'work', 'sys-usb:sda'], `${PASSPHRASE}\n`);
    expect(attach.stderr).toMatch(/attached sys-usb:sda to work/);
    expect(attach.exitCode).toBe(0);
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.length).toBe(original.length - volume.offset);
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    const transcript = sim('transcript', dir);
    for (const secret of [volume.key, Buffer.from(volume.key.toString('hex')), Buffer.from(PASSPHRASE)]) expect(transcript.includes(secret)).toBe(false);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
  });

  it('--type=luks1 refuses a LUKS2 volume, naming the type to use', async () => {
    const dir = newSim();
    const volume = await luks2Volume('typed.img', { sectorSize: 512 });
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const before = runningVms(dir);
    const run = await runSplit(dir, ['attach', '--type=luks1', 'work', 'sys-usb:sda'], `${PASSPHRASE}\n`);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/LUKS2 volume.*--type=luks2/);
    expect(runningVms(dir)).toEqual(before);
  });

  it('overwrite-header-with-format makes a LUKS2 argon2id header that cryptsetup opens and attach maps', async () => {
    const dir = newSim();
    const volume = await luks2Volume('format2.img', { sectorSize: 512 });
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const format = await runSplit(
      dir,
      ['overwrite-header-with-format', '--yes', '--pbkdf=argon2id', '--pbkdf-memory=8192', '--pbkdf-force-iterations=4', '--sector-size=4096', 'sys-usb:sda'],
      'new luks2 pass\nnew luks2 pass\n',
    );
    expect(format.stderr).toMatch(/formatted sys-usb:sda as luks2/);
    expect(format.exitCode).toBe(0);
    expect(await cryptsetupTestPassphrase(volume.path, 'new luks2 pass')).toBe(0);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'new luks2 pass\n');
    expect(attach.exitCode).toBe(0);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });
});
