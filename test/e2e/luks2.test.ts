// LUKS2, the default type: volumes made by the real cryptsetup (argon2id at a small cost, 512- and 4096-byte sectors, a
// non-default data offset) attach end to end on the simulator and the destination reads their plaintext; formats made by us open
// in cryptsetup.
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupTestPassphrase } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeLuks2Volume, newSim, runningVms, runSplit, sim, SIM, type Luks2VolumeOptions } from '../helpers/sim.ts';
import { unlockWithTool } from '../helpers/luks-tool.ts';
import { cryptSectors } from '../../shared/luks-common/sector-cipher.ts';
import { execFileSync } from 'node:child_process';

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

  it('a volume whose primary header is destroyed attaches through its secondary copy, and the user is told so', async () => {
    const dir = newSim();
    const volume = await luks2Volume('secondary.img', { sectorSize: 512 });
    // The primary binary header (magic, sizes, checksum) gone, as after a partial overwrite: cryptsetup still opens the volume.
    const fd = openSync(volume.path, 'r+');
    writeSync(fd, Buffer.alloc(4096), 0, 4096, 0);
    closeSync(fd);
    // cryptsetup opens it too; on a copy, since cryptsetup repairs the primary from the secondary when it may write.
    const copy = join(tmp, 'secondary-copy.img');
    copyFileSync(volume.path, copy);
    expect(await cryptsetupTestPassphrase(copy, PASSPHRASE)).toBe(0);
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${PASSPHRASE}\n`);
    expect(attach.exitCode, attach.stderr).toBe(0);
    expect(attach.stderr).toMatch(/warning: the primary LUKS2 header is unusable: header VM dm-header-disp\d{8} used the secondary copy/);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });

  it('a non-default data offset is refused without a terminal unless --data-offset names it, before any passphrase', async () => {
    const dir = newSim();
    const volume = await luks2Volume('offset-refused.img', { sectorSize: 512, offsetSectors: 8192 });
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const before = runningVms(dir);
    const run = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], '');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/error: the luks2 header places the data at sector 8192 \(4 MiB\).*--data-offset=8192/);
    expect(run.stderr).not.toMatch(/passphrase/);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
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

  it('overwrite-header-with-format --cipher=xchacha12,aes-adiantum-plain64 makes an Adiantum volume: what the destination writes is Adiantum ciphertext on the disk, and reads back', async () => {
    const dir = newSim();
    const volume = await luks2Volume('adiantum.img', { sectorSize: 512 });
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const format = await runSplit(dir, ['overwrite-header-with-format', '--yes', '--cipher=xchacha12,aes-adiantum-plain64', '--pbkdf=pbkdf2', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], 'adiantum pass\nadiantum pass\n');
    expect(format.exitCode, format.stderr).toBe(0);
    expect(format.stderr).toMatch(/formatted sys-usb:sda as luks2 \(xchacha12,aes-adiantum-plain64, 256-bit key, sha512\)/);
    const { volumeKey, cipher } = await unlockWithTool(volume.path, 'adiantum pass');
    expect(cipher).toBe('xchacha12,aes-adiantum-plain64');
    expect((await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'adiantum pass\n')).exitCode).toBe(0);
    const plaintext = Buffer.alloc(8192);
    for (let i = 0; i < plaintext.length; i += 16) plaintext.write(`adiantum ${String(i).padStart(6, '0')}`, i, 'latin1');
    execFileSync(SIM, ['write-block', dir, 'work', 'xvdi', '0'], { input: plaintext });
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    // On the disk: each 512-byte sector under Adiantum with its plain64 sector number as the tweak.
    const raw = readFileSync(volume.path).subarray(32768 * 512, 32768 * 512 + plaintext.length);
    expect(raw.equals(plaintext)).toBe(false);
    expect(cryptSectors('decrypt', 'adiantum-plain64', Buffer.from(volumeKey, 'hex'), raw).equals(plaintext)).toBe(true);
    expect((await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'adiantum pass\n')).exitCode).toBe(0);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, plaintext.length).equals(plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });
});
