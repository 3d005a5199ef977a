// What a real Qubes does that a naive simulator hides, each able to break or stall an attach: the mapping exported to dom0 only
// after `dmsetup create` has returned (or never, when something in the qube hides it), the source disk appearing in the device
// VM only after `qvm-block attach` has returned, and qvm-run waiting for a GUI session that never starts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCalls } from '../sim/faults.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();

async function world(name: string, ...initOptions: string[]) {
  const dir = newSim(...initOptions);
  const volume = await makeVolume(tmp, name);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  return { dir, volume, before: runningVms(dir) };
}

async function readWhenPresent(dir: string, vm: string, device: string): Promise<Buffer> {
  for (const end = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
    try {
      return sim('read-block', dir, vm, device);
    } catch (error) {
      if (Date.now() > end) throw error;
    }
  }
}

/** Attaches to `work`, reads the plaintext there, detaches; nothing left but `work` running. */
async function attachReadDetach(dir: string, volume: Awaited<ReturnType<typeof makeVolume>>, before: readonly string[]) {
  const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
  expect(attach.stderr).toMatch(/attached sys-usb:sda to work/);
  expect(attach.exitCode).toBe(0);
  // The disk shows up in `work` as a hot-plug does, a moment after qvm-block returned: read it once it is there.
  expect((await readWhenPresent(dir, 'work', 'xvdi')).subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
  expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  expect(runningVms(dir)).toEqual([...before, 'work'].sort());
  expect(attachments(dir)).toEqual([]);
}

describe('first contact with a real Qubes', { timeout: 120_000 }, () => {
  it('waits for the mapping to be exposed to dom0 (exported 2 s after dmsetup create) before attaching it', async () => {
    const { dir, volume, before } = await world('late-export.img', '--export-delay-ms=2000');
    await attachReadDetach(dir, volume, before);
    // The refusal came and was waited out: more than one attach of the mapping was needed.
    const mappingAttaches = readCalls(dir).filter((call) => call.key === 'qvm-block' && call.argv[0] === 'attach' && /:dm-\d+$/.test(call.argv.at(-1) ?? ''));
    expect(mappingAttaches.length).toBeGreaterThan(1);
  });

  it('waits for the source disk to appear in the device VM (2 s after qvm-block attach returned)', async () => {
    const { dir, volume, before } = await world('late-disk.img', '--disk-delay-ms=2000');
    await attachReadDetach(dir, volume, before);
  });

  it('a mapping Qubes never exports (R4.3 and a rule in the template setting UDISKS_IGNORE on dm-*): the error names the device, nothing is left', async () => {
    const { dir, volume, before } = await world('hidden.img', '--qubes-release=4.3');
    const rules = join(dir, 'vms', 'sim-dvm', 'root', 'etc/udev/rules.d');
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, '70-hide.rules'), 'KERNEL=="dm-*", ENV{UDISKS_IGNORE}="1"\n');
    writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), 'TOOL_TIMEOUT_S=3\n');
    const original = readFileSync(volume.path);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.stderr).toMatch(/error: dm-device-disp\d{8} never exposed the mapping dm-device-disp\d{8}:dm-0 \(split-dm-crypt-[0-9a-f]{12}\) to dom0 within 3 s/);
    expect(attach.exitCode).toBe(3);
    // `work` was started for the attach (a named destination starts only once the mapping exists); nothing else is left.
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expect((await runSplit(dir, ['status'])).stdout).toBe('');
  });

  it('with DISPLAY set and a template whose qubes never get a GUI session, no call waits for one', async () => {
    const { dir, volume, before } = await world('no-session.img');
    sim('set', dir, 'gui-session', 'sim-dvm', 'never');
    sim('set', dir, 'gui-session', 'work', 'never');
    await attachReadDetach(dir, volume, before);
    expect(readCalls(dir).filter((call) => call.key === 'service:qubes.WaitForSession')).toEqual([]);
  });
});
