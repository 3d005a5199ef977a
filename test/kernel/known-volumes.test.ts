// The kernel tier, known volumes: the pin is computed in a real device VM from the key it maps with, real dm-crypt maps the
// remembered volume, and a volume re-made with the same UUID and passphrase but a new key gets no mapping at all.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachments, makeVolume, runningVms, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { deviceVm, guestKernel, KERNEL_TEST_TIMEOUT_MS, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();

describe('kernel tier: known volumes', () => {
  it('remember, then attach by name maps it again; a re-made volume is refused by the pin and nothing is mapped', async () => {
    const dir = newQemuSim({ kernel: 'patched', optOut: false });
    const volume = await makeVolume(tmp, 'pinned.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const remember = await split(dir, ['remember', 'pinned', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(remember.exitCode, remember.stderr).toBe(0);
    const kernel = await guestKernel(dir, deviceVm(dir));
    expect((await split(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);

    const again = await split(dir, ['attach', 'pinned'], `${volume.passphrase}\n`);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/its pin matched/);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await split(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);

    const uuid = (await execa('cryptsetup', ['luksUUID', volume.path])).stdout.trim();
    await execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', '--pbkdf-force-iterations', '1000', '--uuid', uuid, volume.path, '-'], { input: volume.passphrase });
    const remade = readFileSync(volume.path);
    const before = runningVms(dir);
    const refused = await split(dir, ['attach', 'pinned'], `${volume.passphrase}\n`);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/error: sys-usb:sda is not volume pinned: its key or layout differs/);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(volume.path).equals(remade)).toBe(true);
    logScenario(kernel, 'known volume: pin', `ok: matched on re-attach (${again.ms} ms), a re-made volume refused in ${refused.ms} ms with nothing mapped`);
  }, KERNEL_TEST_TIMEOUT_MS * 3);
});
