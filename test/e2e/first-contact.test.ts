// What a real Qubes does that a naive simulator hides, each able to break or stall an attach: the mapping exported to dom0 only
// after `dmsetup create` has returned (or never, when something in the qube hides it), the source disk appearing in the device
// VM only after `qvm-block attach` has returned, and qvm-run waiting for a GUI session that never starts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** What `vm` reads at /dev/DEVICE, once the disk has appeared there (at most 10 s). */
async function readWhenPresent(dir: string, vm: string, device: string): Promise<Buffer> {
  const node = join(dir, 'vms', vm, 'root', 'sys/block', device, 'size');
  for (const end = Date.now() + 10_000; !existsSync(node) && Date.now() < end; ) await new Promise((resolve) => setTimeout(resolve, 100));
  return sim('read-block', dir, vm, device);
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
    // The wait's bound is the qvm-block limit; it bounds every other qvm-* call too, so not so short that a loaded machine trips it.
    writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), 'TOOL_TIMEOUT_S=10\n');
    const original = readFileSync(volume.path);
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.stderr).toMatch(/error: dm-device-disp\d{8} never exposed the mapping dm-device-disp\d{8}:dm-0 \(split-dm-crypt-[0-9a-f]{12}\) to dom0 within 10 s/);
    expect(attach.exitCode).toBe(3);
    // `work` was halted: started for the attach while the key was derived, it is stopped again; nothing else is left.
    expect(runningVms(dir)).toEqual(before);
    expect(before).not.toContain('work');
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

describe("qvm-block's listing and R4.3's device identities", { timeout: 120_000 }, () => {
  it('R4.3: a description imitating a "used by" column (its _ turned into spaces) does not stop the attach', async () => {
    const dir = newSim('--qubes-release=4.3');
    const volume = await makeVolume(tmp, 'fake-column.img');
    // qubesd keeps ( ) : = , _ in descriptions; R4.3 prints `_` as a space, and column -t aligns with runs of spaces.
    sim('add-block', dir, 'sys-usb', 'sda', volume.path, '--description', 'Disk (a__work_(attached:_frontend-dev=xvdi))');
    await attachReadDetach(dir, volume, runningVms(dir));
  });

  it('a source attached elsewhere (by hand) is refused by qvm-block attach itself; nothing is left', async () => {
    const { dir, volume, before } = await world('busy-by-hand.img');
    execFileSync(join(dir, 'bin', 'qvm-start'), ['work']);
    execFileSync(join(dir, 'bin', 'qvm-block'), ['attach', 'work', 'sys-usb:sda']);
    const attach = await runSplit(dir, ['attach', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.stderr).toMatch(/Device sys-usb:sda already attached to work/);
    expect(attach.exitCode).toBe(1);
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    expect(attachments(dir)).toHaveLength(1);
    expect(attachments(dir)[0]).toMatch(/sys-usb:sda/);
  });

  it('R4.3: BACKEND:PORT:DEVICE_ID attaches the device that has the identity and shows it in status; another identity is refused', async () => {
    const dir = newSim('--qubes-release=4.3');
    const volume = await makeVolume(tmp, 'identity.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path, '--device-id', '0951:1666:001CC0EC3450:u080650:None');
    const before = runningVms(dir);
    const wrong = await runSplit(dir, ['attach', 'work', 'sys-usb:sda:0951:1666:OTHERSERIAL:u080650:None'], `${volume.passphrase}\n`);
    expect(wrong.stderr).toMatch(/error: sys-usb:sda does not hold the device 0951:1666:OTHERSERIAL:u080650:None/);
    expect(wrong.exitCode).toBe(1);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);

    const right = await runSplit(dir, ['attach', 'work', 'sys-usb:sda:0951:1666:001CC0EC3450:u080650:None'], `${volume.passphrase}\n`);
    expect(right.exitCode).toBe(0);
    const status = await runSplit(dir, ['status']);
    expect(status.stdout).toMatch(/^sys-usb:sda\s+device-id=0951:1666:001CC0EC3450:u080650:None\s+device-vm=dm-device-disp\d{8}\s/m);
    expect((await readWhenPresent(dir, 'work', 'xvdi')).subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect(attachments(dir)).toEqual([]);
  });

  it('R4.2 knows no identities: qvm-block refuses BACKEND:PORT:DEVICE_ID, and the attach ends with nothing left', async () => {
    const { dir, volume, before } = await world('identity-r42.img');
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda:0951:1666:X:u080650:None'], `${volume.passphrase}\n`);
    expect(attach.stderr).toMatch(/does not hold the device 0951:1666:X:u080650:None/);
    expect(attach.exitCode).toBe(1);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
  });
});
