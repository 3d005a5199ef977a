// Known volumes: remember pins a volume to its key; attach NAME finds it again and maps it only when the key gives the same pin.
// The attack: a hostile source presents another volume that opens with the user's passphrase (here: re-made by cryptsetup with
// the same UUID and passphrase but a new key). It is refused by the pin, in the device VM, before anything is mapped.
import { execa } from 'execa';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();
const volumesDir = (dir: string) => join(dir, 'dom0', 'volumes.d');

async function uuidOf(path: string): Promise<string> {
  return (await execa('cryptsetup', ['luksUUID', path])).stdout.trim();
}

/** The same UUID and passphrase, a new volume key: what an attacker who knows the passphrase (not the key) can make. */
async function remake(path: string, uuid: string, passphrase: string): Promise<void> {
  await execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', '--pbkdf-force-iterations', '1000', '--uuid', uuid, path, '-'], { input: passphrase });
}

describe('known volumes', { timeout: 180_000 }, () => {
  it('remember, detach, attach by name: the pin matches and the destination reads the data; list says where it is; forget', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'known.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const remember = await runSplit(dir, ['remember', 'backup', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`);
    expect(remember.exitCode, remember.stderr).toBe(0);
    expect(remember.stderr).toMatch(/remembered sys-usb:sda as volume backup/);
    const file = readFileSync(join(volumesDir(dir), 'backup.conf'), 'utf8');
    expect(file).toMatch(new RegExp(`^uuid=${await uuidOf(volume.path)}$`, 'm'));
    expect(file).toMatch(/^pin=[0-9a-f]{64}$/m);
    expect(file).toMatch(/^destination=work$/m);
    // The pin is no key: neither the volume key nor the passphrase is in the file, in any encoding.
    for (const secret of [volume.volumeKey.toString('hex'), volume.volumeKey.toString('base64'), volume.passphrase]) expect(file.includes(secret)).toBe(false);

    const listed = await runSplit(dir, ['list']);
    expect(listed.stdout).toMatch(/^backup\s+source=sys-usb:sda\s+luks1=\S+\s+destination=work\s+auto-attach=no\s+now=attached to work$/m);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    expect((await runSplit(dir, ['list'])).stdout).toMatch(/now=present$/m);

    const again = await runSplit(dir, ['attach', 'backup'], `${volume.passphrase}\n`);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/it is known volume backup: its pin matched/);
    expect(sim('read-block', dir, 'work', 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);

    const json = JSON.parse((await runSplit(dir, ['list', '--json'])).stdout) as { name: string; where: string }[];
    expect(json).toEqual([expect.objectContaining({ name: 'backup', where: 'present', destination: 'work', readOnly: false })]);
    expect((await runSplit(dir, ['forget', 'backup'])).exitCode).toBe(0);
    expect(readdirSync(volumesDir(dir))).toEqual([]);
    expect((await runSplit(dir, ['attach', 'backup'])).stderr).toMatch(/error: no known volume 'backup'/);
  });

  it('a volume re-made with the same UUID and passphrase but a new key is refused by the pin, by name and by port: nothing mapped, nothing left', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'swap.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    expect((await runSplit(dir, ['remember', 'photos', 'work', 'sys-usb:sda'], `${volume.passphrase}\n`)).exitCode).toBe(0);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    await remake(volume.path, await uuidOf(volume.path), volume.passphrase);
    const before = runningVms(dir);
    const remade = readFileSync(volume.path);

    for (const args of [['attach', 'photos'], ['attach', 'work', 'sys-usb:sda']]) {
      const run = await runSplit(dir, args, `${volume.passphrase}\n`);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/error: sys-usb:sda is not volume photos: its key or layout differs \(re-formatted\? then 'qvm-block-split forget photos'\)/);
      expect(runningVms(dir)).toEqual(before);
      expect(attachments(dir)).toEqual([]);
      expect(readFileSync(volume.path).equals(remade)).toBe(true);
      expect((await runSplit(dir, ['status'])).stdout).toBe('');
    }
  });

  it('another drive in the port is refused by its UUID before any passphrase is asked', async () => {
    const dir = newSim();
    const first = await makeVolume(tmp, 'first.img');
    sim('add-block', dir, 'sys-usb', 'sda', first.path);
    expect((await runSplit(dir, ['remember', 'first', 'sys-usb:sda'], `${first.passphrase}\n`)).exitCode).toBe(0);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    const other = await makeVolume(tmp, 'other.img');
    writeFileSync(first.path, readFileSync(other.path));
    const before = runningVms(dir);
    // No passphrase on stdin: were one asked for, the error would be about the missing passphrase.
    const run = await runSplit(dir, ['attach', 'first']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/error: sys-usb:sda is not volume first: its header is luks1 \S+, not luks1 \S+ \(another drive in that port\?\)/);
    expect(runningVms(dir)).toEqual(before);
  });

  it('a broken volume file is listed as broken and never half-used; a name already known is refused before any VM starts', async () => {
    const dir = newSim();
    const fields = ['source=sys-usb:sda', 'type=luks3', `uuid=${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`, `pin=${'a'.repeat(64)}`, 'destination=work', 'read-only=no', 'auto-attach=no'];
    writeFileSync(join(volumesDir(dir), 'bad.conf'), `${fields.join('\n')}\n`);
    const listed = await runSplit(dir, ['list']);
    expect(listed.stdout).toMatch(/^bad\s+broken: .*bad\.conf: type expects luks1 or luks2, received 'luks3'/m);
    const before = runningVms(dir);
    const run = await runSplit(dir, ['remember', 'bad', 'sys-usb:sda']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/a known volume 'bad' already exists/);
    expect(runningVms(dir)).toEqual(before);
    expect((await runSplit(dir, ['attach', 'bad'])).stderr).toMatch(/error: .*bad\.conf: type expects luks1 or luks2/);
  });
});
