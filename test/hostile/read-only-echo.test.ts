// Finding 7, believing a peer's echo: dom0 once attached the mapping to the destination with the read-only flag the device VM's
// DeviceOpen reply echoed. A compromised device VM that makes the real (read-only) mapping but answers readOnly: false must not
// get a writable attachment: `attach --ro` attaches read-only whatever the echo says.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, runSplit } from '../helpers/sim.ts';
import { installHostile, luks1Disk, observations, useHostileScripts } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

describe('attach --ro', { timeout: 180_000 }, () => {
  it('stays read-only when DeviceOpen answers readOnly: false', async () => {
    const context = await luks1Disk(tmp, 'ro-echo');
    installHostile(context.dir, {
      service: 'splitdmcrypt.DeviceOpen',
      script: scripts.path('proxy'),
      vmPrefix: 'dm-device-',
      args: { patch: { 'device-opened': { readOnly: false } } },
    });
    const run = await runSplit(context.dir, ['attach', '--ro', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    expect(observations(context.dir, 'out').filter((o) => o.type === 'device-opened' && o.patched)).toHaveLength(1);
    expect(run.exitCode, run.stderr).toBe(0);
    const toWork = attachments(context.dir).filter((line) => / work /.test(line));
    expect(toWork).toHaveLength(1);
    expect(toWork[0]).toMatch(/read-only=yes/);
    expect(attachments(context.dir).every((line) => line.endsWith('read-only=yes'))).toBe(true);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(attachments(context.dir)).toEqual([]);
  });
});
