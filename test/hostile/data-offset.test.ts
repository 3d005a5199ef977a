// Finding 4, a covert channel through the data offset: a compromised header VM declaring a data offset of its choosing makes the
// destination read the header area (which it saw) as data, or shifts the volume. dom0 refuses a data offset below the bytes it
// sent to the header VM, and one other than cryptsetup's default (LUKS1 4096 sectors) unless the user chose it (--data-offset=N);
// even then only when no byte it sent lies at or past it.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, runSplit } from '../helpers/sim.ts';
import { expectNothingLeft, expectRefused, installHostile, keyHex, luks1Disk, observations, serviceVms, trace, useHostileScripts } from './kit.ts';
import type { HeaderUnlockArgs } from './services/header-unlock.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

async function forgedOffset(name: string, args: (volumeKeyHex: string) => HeaderUnlockArgs, extra: readonly string[] = []) {
  const context = await luks1Disk(tmp, name);
  installHostile(context.dir, { service: 'splitdmcrypt.HeaderUnlock', script: scripts.path('header-unlock'), args: args(keyHex(context.volume)) });
  const run = await runSplit(context.dir, ['attach', ...extra, 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
  const received = observations(context.dir, 'header-bytes').reduce((sum, o) => sum + Number(o.length), 0);
  // The forged layout reached dom0: what follows is dom0's answer to it.
  expect(observations(context.dir, 'parsed-sent'), trace(context.dir, run)).toHaveLength(1);
  return { context, run, received };
}

describe('a forged data offset', { timeout: 180_000 }, () => {
  it('1 sector, inside the bytes the header VM received: refused', async () => {
    const { context, run } = await forgedOffset('offset-1', (volumeKeyHex) => ({ parsed: { dataOffset: 1 }, volumeKeyHex }));
    expectRefused(run, context, /header/i);
    expect(serviceVms(context.dir, 'splitdmcrypt.DeviceOpen')).toEqual([]);
  });

  it('4097 sectors, past everything sent, but not the default: refused without --data-offset', async () => {
    const { context, run, received } = await forgedOffset('offset-4097', (volumeKeyHex) => ({ needs: [2068480], parsed: { dataOffset: 4097 }, volumeKeyHex }));
    expect(received).toBeLessThanOrEqual(4096 * 512);
    expectRefused(run, context, /header/i);
    expect(serviceVms(context.dir, 'splitdmcrypt.DeviceOpen')).toEqual([]);
  });

  it('4097 sectors chosen by the user with --data-offset=4097, nothing sent at or past it: attached', async () => {
    const { context, run, received } = await forgedOffset('offset-4097-chosen', (volumeKeyHex) => ({ needs: [2068480], parsed: { dataOffset: 4097 }, volumeKeyHex }), ['--data-offset=4097']);
    expect(received).toBeLessThanOrEqual(4097 * 512);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(attachments(context.dir).length).toBeGreaterThan(0);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expectNothingLeft({ ...context, before: [...context.before, 'work'].sort() });
  });

  it('4097 sectors chosen by the user, but the header VM was sent bytes past it: refused', async () => {
    const { context, run } = await forgedOffset(
      'offset-4097-greedy',
      (volumeKeyHex) => ({ needs: [16 * 1024 * 1024], parsed: { dataOffset: 4097 }, volumeKeyHex }),
      ['--data-offset=4097'],
    );
    expectRefused(run, context, /header/i);
    expect(serviceVms(context.dir, 'splitdmcrypt.DeviceOpen')).toEqual([]);
  });
});
