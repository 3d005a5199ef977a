// The whole pipeline on the simulator: attach, read the plaintext in the destination, status, detach, nothing left.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();

describe('attach and detach on the simulator', () => {
  it('work reads the plaintext; dom0 never sees the key, the passphrase or a plaintext sector', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'a.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const before = runningVms(dir);
    const original = readFileSync(volume.path);

    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(attach.stderr).toMatch(/attached sys-usb:sda to work/);
    expect(attach.exitCode).toBe(0);
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect(read.length).toBe(original.length - volume.payloadOffset * 512);

    const status = await runSplit(dir, ['status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/^sys-usb:sda\s+device-vm=dm-device-disp\d{8}\s+mapping=dm-device-disp\d{8}:dm-\d+\s+destination=work:xvd[a-z]+\s+read-only=no\s+state=ok$/m);
    // The attachment record names only VMs that still exist: the header VM went as soon as the key was sealed.
    const records = readdirSync(join(dir, 'dom0', 'run', 'attachments'));
    expect(records).toHaveLength(1);
    const record = JSON.parse(readFileSync(join(dir, 'dom0', 'run', 'attachments', records[0]!), 'utf8')) as { createdVms: { name: string; uuid: string }[] };
    expect(record.createdVms.filter((vm) => !runningVms(dir).includes(vm.name))).toEqual([]);
    expect(record.createdVms.some((vm) => vm.name.startsWith('dm-device-'))).toBe(true);
    // Each VM by the identity Qubes gave it, not only by its name.
    for (const vm of record.createdVms) expect(execFileSync(join(dir, 'bin', 'qvm-prefs'), [vm.name, 'uuid']).toString()).toBe(`${vm.uuid}\n`);

    const transcript = sim('transcript', dir);
    for (const secret of [volume.volumeKey, Buffer.from(volume.volumeKey.toString('hex')), Buffer.from(volume.volumeKey.toString('base64')), Buffer.from(volume.passphrase)]) {
      expect(transcript.includes(secret)).toBe(false);
    }
    for (let sector = 0; sector < volume.plaintext.length / 512; sector++) {
      expect(transcript.includes(volume.plaintext.subarray(sector * 512, (sector + 1) * 512))).toBe(false);
    }

    const detach = await runSplit(dir, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode).toBe(0);
    // The destination was started for the attach and, as in the original, detach leaves it running.
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(volume.path).equals(original)).toBe(true);
    expect((await runSplit(dir, ['status'])).stdout).toBe('');
  });

  it('attaches to a new DisposableVM by default, and a read-only source gives a read-only chain with a notice', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'ro.img');
    sim('add-block', dir, 'sys-usb', 'sdb', volume.path, '--ro');
    const attach = await runSplit(dir, ['attach', 'sys-usb:sdb'], `${volume.passphrase}\n`);
    expect(attach.exitCode).toBe(0);
    expect(attach.stderr).toMatch(/only read-only/);
    const destination = /attached sys-usb:sdb to (dm-destination-disp\d{8}) read-only/.exec(attach.stderr)?.[1];
    expect(destination).toBeDefined();
    expect(attachments(dir).every((line) => /read-only=yes/.test(line))).toBe(true);
    expect(sim('read-block', dir, destination!, 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sdb'])).exitCode).toBe(0);
    expect(sim('violations', dir).toString()).toBe('');
  });
});
