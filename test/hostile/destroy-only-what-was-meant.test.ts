// Finding 9, destroy only what was meant: the overwrite commands once trusted --type for the header's size (a LUKS2 header
// outlived `overwrite-header-with-random --type=luks1`), wrote back whatever the shell left (bytes past the header, i.e. data),
// and asked before knowing the disk (a 0-byte or too small disk). Each case checks the disk with cryptsetup or byte for byte.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cryptsetupTestPassphrase } from '../helpers/cryptsetup.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeLuks2Volume, runSplit, SIM } from '../helpers/sim.ts';
import { errorLines, expectNothingLeft, expectRefused, luks1Disk, serviceVms, withDisk } from './kit.ts';

const tmp = useTmpDir();
const MiB = 1024 * 1024;

describe('overwrites destroy only what was meant', { timeout: 180_000 }, () => {
  it('overwrite-header-with-random --type=luks1 on a LUKS2 volume leaves no header cryptsetup can find', async () => {
    const volume = await makeLuks2Volume(tmp, 'luks2-random.img', 'luks2 passphrase', { sectorSize: 512 });
    const context = withDisk(volume);
    const run = await runSplit(context.dir, ['overwrite-header-with-random', '--yes', '--type=luks1', 'sys-usb:sda']);
    expect(run.exitCode, run.stderr).toBe(0);
    expectNothingLeft(context, { diskUnchanged: false });
    expect(await cryptsetupTestPassphrase(volume.path, volume.passphrase)).toBeUndefined();
    expect((await execa('cryptsetup', ['luksDump', volume.path], { reject: false })).exitCode).not.toBe(0);
    // The data area (from the 16 MiB data offset on) is untouched.
    const after = readFileSync(volume.path);
    expect(after.subarray(volume.payloadOffset * 512).equals(context.original.subarray(volume.payloadOffset * 512))).toBe(true);
  });

  it('modify-header-with-shell writes back only the header\'s extent, never a byte the shell put past it', async () => {
    const context = await luks1Disk(tmp, 'shell-past-header');
    const script = 'printf XYZ | dd of="$HEADER" bs=1 seek=$((3*1024*1024)) conv=notrunc status=none\nexit 0\n';
    const run = await runSplit(context.dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], script);
    expect([0, 1], run.stderr).toContain(run.exitCode);
    if (run.exitCode !== 0) expect(errorLines(run)).toHaveLength(1);
    const after = readFileSync(context.diskPath);
    expect(after.subarray(2 * MiB).equals(context.original.subarray(2 * MiB))).toBe(true);
    // The header itself was not changed by the shell either: the whole disk is as it was.
    expectNothingLeft(context);
  });

  it('a 0-byte source is refused before anything is asked', async () => {
    const empty = join(tmp, 'empty.img');
    writeFileSync(empty, '');
    const context = withDisk({ path: empty });
    const confirmed = await runSplit(context.dir, ['overwrite-everything-with-random', '--yes', 'sys-usb:sda']);
    expectRefused(confirmed, context, /sys-usb:sda|empty|size|bytes|small/i);
    // On a terminal, with every answer a yes: still refused (nothing to confirm), and nothing is wiped.
    const command = `eval "$(${SIM} env ${context.dir})" && exec qvm-block-split overwrite-everything-with-random sys-usb:sda`;
    const onTerminal = await execa('script', ['-q', '-e', '-c', command, '/dev/null'], { input: 'y\ryes\rYES\r', reject: false, timeout: 120_000 });
    expect(onTerminal.exitCode, String(onTerminal.stdout)).toBe(1);
    expect(String(onTerminal.stdout)).toMatch(/qvm-block-split: error: .*(sys-usb:sda|empty|size|bytes|small)/i);
    expectNothingLeft(context);
    expect(serviceVms(context.dir, 'splitdmcrypt.DeviceWipe')).toEqual([]);
  });

  it('overwrite-header-with-format --type=luks2 on an 8 MiB disk is refused before any passphrase is read', async () => {
    const context = await luks1Disk(tmp, 'small-for-luks2');
    const run = await runSplit(context.dir, ['overwrite-header-with-format', '--yes', '--type=luks2', 'sys-usb:sda'], '');
    expectRefused(run, context, /small/i);
    expect(serviceVms(context.dir, 'splitdmcrypt.HeaderFormat')).toEqual([]);
  });
});
