// The kernel tier, partition scanning on Debian's stock kernel, which has no /sys/module/block/parameters/no_part_scan: the
// device VM refuses before the source disk is attached; with the template's opt-out the disk is attached, the real kernel
// parses its MBR or GPT (vdX1 appears), and the defence-in-depth check reports the partitions it made, which dom0 shows as a
// warning. The same LUKS2-header-that-is-an-MBR volume the no_part_scan tests attach cleanly gets a partition here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, makeLuks2Volume, runningVms, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { embedMbrInLuks2, writeGptDisk, writeMbrDisk } from '../helpers/partition-tables.ts';
import { allowPartitionScan, KERNEL_TEST_TIMEOUT_MS, kernelDuring, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();
const T = KERNEL_TEST_TIMEOUT_MS;

/** A 4 MiB disk holding only a partition table (an MBR or a GPT) with one Linux partition at sectors 2048-4095. */
function tableDisk(name: string, write: (path: string, mib: number) => void): string {
  const path = join(tmp, name);
  write(path, 4);
  return path;
}

describe('kernel tier: a kernel without no_part_scan', () => {
  const dir = newQemuSim({ kernel: 'debian', optOut: false });
  const path = tableDisk('mbr.img', writeMbrDisk);
  sim('add-block', dir, 'sys-usb', 'sda', path);
  const before = runningVms(dir);

  it('attach is refused before the source disk is attached', async () => {
    const running = split(dir, ['attach', 'work', 'sys-usb:sda'], 'x\n');
    const [kernel, run] = await Promise.all([kernelDuring(dir, running), running]);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/error:.*no no_part_scan parameter/);
    const transcript = sim('transcript', dir).toString('latin1');
    expect(transcript).toMatch(/service splitdmcrypt\.DevicePrepare/);
    // Nothing after DevicePrepare read the disk, and it was never attached (the calls log holds every dom0 tool call).
    // DeviceSendHeader is opened ahead, beside DevicePrepare, but no request for it (the frame's type) ever crossed dom0.
    expect(transcript).not.toMatch(/send-header/);
    const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"qvm-block"') && l.includes('"attach"'));
    expect(calls).toEqual([]);
    expect(runningVms(dir)).toEqual(before);
    logScenario(kernel, 'MBR disk, no opt-out', `ok: refused before attach (${run.stderr.trim().split('\n').at(-1)?.slice(0, 120)})`);
  }, T);

  it('with the template\'s opt-out, the kernel parses the MBR and dom0 warns with the partitions it made', async () => {
    allowPartitionScan(dir);
    const running = split(dir, ['attach', 'work', 'sys-usb:sda'], 'x\n');
    const [kernel, run] = await Promise.all([kernelDuring(dir, running), running]);
    expect(run.stderr).toMatch(/warning:.*no no_part_scan kernel parameter/);
    expect(run.stderr).toMatch(/parsed the source disk's partition table and made xvds1/);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/error:.*not a LUKS header/);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
    logScenario(kernel, 'MBR disk, opt-out', 'ok: the real kernel made a partition (reported as xvds1), dom0 warned, the non-LUKS disk was refused');
  }, T);

  it('with the opt-out, a GPT disk: the kernel parses it and dom0 warns with the partition it made', async () => {
    sim('add-block', dir, 'sys-usb', 'sdb', tableDisk('gpt.img', writeGptDisk));
    const running = split(dir, ['attach', 'work', 'sys-usb:sdb'], 'x\n');
    const [kernel, run] = await Promise.all([kernelDuring(dir, running), running]);
    expect(run.stderr).toMatch(/parsed the source disk's partition table and made xvds1/);
    expect(run.stderr).toMatch(/error:.*not a LUKS header/);
    expect(run.exitCode).not.toBe(0);
    expect(runningVms(dir)).toEqual(before);
    logScenario(kernel, 'GPT disk, opt-out', 'ok: the real kernel made a partition from the GPT (reported as xvds1), the non-LUKS disk was refused');
  }, T);

  it('with the opt-out, a LUKS2 volume whose header is also an MBR: the kernel makes its partition, and the volume still attaches', async () => {
    const volume = await makeLuks2Volume(tmp, 'mbr-luks2.img', 'mbr luks2', { sectorSize: 512 });
    embedMbrInLuks2(volume.path);
    sim('add-block', dir, 'sys-usb', 'sdc', volume.path);
    const running = split(dir, ['attach', 'work', 'sys-usb:sdc'], `${volume.passphrase}\n`);
    const [kernel, run] = await Promise.all([kernelDuring(dir, running), running]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/parsed the source disk's partition table and made [a-z0-9, ]*xvds4/);
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await split(dir, ['detach', 'sys-usb:sdc'])).exitCode).toBe(0);
    expect(attachments(dir)).toEqual([]);
    logScenario(kernel, 'LUKS2 header that is also an MBR, opt-out', 'ok: the real kernel made xvds4 from the LUKS2 header, dom0 warned, the volume attached');
  }, T);
});
