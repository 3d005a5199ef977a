// Finding 3, the header VM receives only the header: it once got 16 MiB or the whole disk (data sectors included) whatever the
// header said. Now it gets the first bytes and asks for more as the header requires; an honest unlock of a LUKS1 volume (under the
// default --type) receives nothing at or past the payload, a LUKS2 one nothing at or past its data offset. A hostile header VM
// that asks for more and then declares a data offset inside what it received is refused before anything is mapped.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LUKS1_HEADER_AREA_BYTES } from '../../shared/luks1/constants.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeLuks2Volume, runSplit, sim, type TestVolume } from '../helpers/sim.ts';
import { expectNothingLeft, expectRefused, installHostile, keyHex, luks1Disk, observations, serviceVms, trace, useHostileScripts, withDisk, type Baseline } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

/** Attaches with a spy around HeaderUnlock; returns the bytes the header VM received (checked to be the disk's own first bytes). */
async function attachWithSpy(context: Baseline, volume: TestVolume): Promise<number> {
  installHostile(context.dir, { service: 'splitdmcrypt.HeaderUnlock', script: scripts.path('proxy') });
  const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
  expect(run.exitCode, run.stderr).toBe(0);
  expect(observations(context.dir, 'out').map((o) => o.type)).toContain('unlocked');
  const chunks = observations(context.dir, 'in-bytes');
  const files = [...new Set(chunks.map((o) => String(o.file)))];
  expect(files).toHaveLength(1);
  const received = readFileSync(files[0]!);
  expect(received.equals(context.original.subarray(0, received.length))).toBe(true);
  expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  return received.length;
}

describe('the header VM receives only the header', { timeout: 180_000 }, () => {
  it('LUKS1 on an 8 MiB disk, default --type: nothing at or past the payload offset', async () => {
    const context = await luks1Disk(tmp, 'spy-luks1');
    expect(context.volume.payloadOffset).toBe(4096);
    const received = await attachWithSpy(context, context.volume);
    expect(received).toBeLessThanOrEqual(LUKS1_HEADER_AREA_BYTES);
    expect(received).toBeLessThanOrEqual(context.volume.payloadOffset * 512);
  });

  it('LUKS2 on a 24 MiB disk: nothing at or past the 16 MiB data offset', async () => {
    const volume = await makeLuks2Volume(tmp, 'spy-luks2.img', 'luks2 passphrase', { sectorSize: 512 });
    const context = withDisk(volume);
    const received = await attachWithSpy(context, volume);
    expect(received).toBeLessThanOrEqual(volume.payloadOffset * 512);
  });

  it('a header VM that asks for 16 MiB and declares data offset 1 is refused; nothing is mapped', async () => {
    const context = await luks1Disk(tmp, 'greedy');
    installHostile(context.dir, {
      service: 'splitdmcrypt.HeaderUnlock',
      script: scripts.path('header-unlock'),
      args: { needs: [16 * 1024 * 1024], parsed: { dataOffset: 1 }, volumeKeyHex: keyHex(context.volume) },
    });
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    // dom0 caps what it serves at the disk's size.
    const received = observations(context.dir, 'header-bytes').reduce((sum, o) => sum + Number(o.length), 0);
    expect(received).toBeLessThanOrEqual(context.original.length);
    expect(observations(context.dir, 'parsed-sent'), trace(context.dir, run)).toHaveLength(1);
    expectRefused(run, context, /header/i);
    expect(serviceVms(context.dir, 'splitdmcrypt.DeviceOpen')).toEqual([]);
    expectNothingLeft(context);
  });
});

// The header VM is served each range as soon as it has arrived from the device VM; a device VM that stops half-way through the
// fixed read must still fail the attach with its own error, whether the header VM was still waiting for bytes or already had
// all it needed (and unlocked): nothing is mapped or attached, nothing is left.
describe('a device VM that stops half-way through the header read', { timeout: 180_000 }, () => {
  it.each([
    ['before the header VM has the key material (64 KiB of 8 MiB)', 64 * 1024],
    ['after the header VM has all it needs (3 MiB of 8 MiB)', 3 * 1024 * 1024],
  ])('%s: refused, naming the device VM', async (_when, cutBytesAfter) => {
    const context = await luks1Disk(tmp, `cut-${cutBytesAfter}`);
    installHostile(context.dir, { service: 'splitdmcrypt.DeviceSendHeader', script: scripts.path('proxy'), args: { cutBytesAfter } });
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    expect(observations(context.dir, 'cut')).toHaveLength(1);
    expectRefused(run, context, /device VM dm-device-disp\d{8}/);
    expect(sim('mappings', context.dir).toString().trim()).toBe('');
  });
});
