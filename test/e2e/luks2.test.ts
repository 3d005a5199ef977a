// LUKS2, the default type: volumes made by the real cryptsetup (argon2id at a small cost, 512- and 4096-byte sectors, a
// non-default data offset) attach end to end on the simulator and the destination reads their plaintext; formats made by us open
// in cryptsetup.
import { createCipheriv } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupFormatLuks2, cryptsetupTestPassphrase, cryptsetupVolumeKey } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();
const PASSPHRASE = 'luks2 passphrase';

/** Known plaintext written through the volume key as dm-crypt would (IVs count 512-byte sectors, whatever the sector size). */
async function luks2Volume(name: string, options: { readonly sectorSize: 512 | 4096; readonly offsetSectors?: number }) {
  const path = join(tmp, name);
  await cryptsetupFormatLuks2(path, PASSPHRASE, { kdf: 'argon2id', sectorSize: options.sectorSize, sizeBytes: 24 * 1024 * 1024, ...(options.offsetSectors ? { offsetSectors: options.offsetSectors } : {}) });
  const key = Buffer.from(await cryptsetupVolumeKey(path, PASSPHRASE), 'hex');
  const offset = (options.offsetSectors ?? 32768) * 512;
  const plaintext = Buffer.alloc(64 * 1024);
  for (let i = 0; i < plaintext.length; i += 32) plaintext.write(`luks2 byte ${String(i).padStart(8, '0')} `, i, 'latin1');
  const fd = openSync(path, 'r+');
  for (let unit = 0; unit < plaintext.length / options.sectorSize; unit++) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt((unit * options.sectorSize) / 512));
    const block = plaintext.subarray(unit * options.sectorSize, (unit + 1) * options.sectorSize);
    writeSync(fd, createCipheriv('aes-256-xts', key, iv).update(block), 0, block.length, offset + unit * options.sectorSize);
  }
  closeSync(fd);
  return { path, key, plaintext, offset };
}

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
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${PASSPHRASE}\n`);
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
