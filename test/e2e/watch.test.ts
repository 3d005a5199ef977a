// `watch` on the simulator with its qubesd: a known volume marked auto-attach (key file in a vault qube) is attached when its
// drive is plugged and torn down when it is unplugged; an unknown drive is ignored; a substituted volume is refused by its pin
// and said so; watch follows qubesd through a restart; SIGTERM ends it cleanly.
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cryptsetupAddKey } from '../helpers/cryptsetup.ts';
import { startQubesd } from '../helpers/qubesd.ts';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim, startSplit } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const attachedSources = async (dir: string) => (await runSplit(dir, ['status'])).stdout;

describe('watch', { timeout: 300_000 }, () => {
  it('attaches a known volume when plugged, tears it down when unplugged, ignores others, refuses a substitute, survives a qubesd restart', async () => {
    const dir = newSim();
    let qubesd = await startQubesd(dir);
    sim('add-vm', dir, 'vault', '--running');
    const home = join(dir, 'vms', 'vault', 'root', 'home', 'user');
    mkdirSync(home, { recursive: true });
    const volume = await makeVolume(tmp, 'auto.img');
    const passFile = join(tmp, 'pass');
    writeFileSync(passFile, volume.passphrase);
    const keyFile = join(tmp, 'disk.key');
    writeFileSync(keyFile, 'key file bytes for watch');
    await cryptsetupAddKey(volume.path, passFile, keyFile);
    writeFileSync(join(home, 'disk.key'), 'key file bytes for watch');

    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const remember = await runSplit(dir, ['remember', 'auto', '--auto-attach', '--key-file=vault:disk.key', 'sys-usb:sda']);
    expect(remember.exitCode, remember.stderr).toBe(0);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    sim('remove-block', dir, 'sys-usb', 'sda');
    const baseline = runningVms(dir);

    const watch = startSplit(dir, ['watch']);
    let log = '';
    watch.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await waitFor('watch to follow qubesd', () => log.includes('following qubesd events'));
      await new Promise((resolve) => setTimeout(resolve, 500));

      // Plugged: attached, to a new DisposableVM, which reads the plaintext.
      sim('add-block', dir, 'sys-usb', 'sda', volume.path);
      await waitFor('the attach', async () => /state=ok/.test(await attachedSources(dir)));
      expect(log).toMatch(/watch: attached volume auto \(sys-usb:sda, luks1 /);
      const destination = /destination=(dm-destination-disp\d{8})/.exec(await attachedSources(dir))?.[1];
      expect(destination).toBeDefined();
      expect(sim('read-block', dir, destination!, 'xvdi').subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);

      // Unplugged: torn down; the destination DisposableVM stays (it may hold work), as with detach.
      sim('remove-block', dir, 'sys-usb', 'sda');
      await waitFor('the teardown', async () => (await attachedSources(dir)) === '');
      expect(log).toMatch(/watch: detached volume auto \(sys-usb:sda\): its drive went away/);
      expect(runningVms(dir).filter((vm) => !baseline.includes(vm) && vm !== destination)).toEqual([]);
      expect(attachments(dir)).toEqual([]);

      // An unknown drive: nothing happens.
      const other = await makeVolume(tmp, 'other.img');
      const before = runningVms(dir);
      sim('add-block', dir, 'sys-usb', 'sdb', other.path);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(runningVms(dir)).toEqual(before);
      expect(await attachedSources(dir)).toBe('');
      sim('remove-block', dir, 'sys-usb', 'sdb');

      // qubesd restarts: watch reconnects and the next plug still attaches.
      await qubesd.stop();
      qubesd = await startQubesd(dir);
      sim('add-block', dir, 'sys-usb', 'sda', volume.path);
      await waitFor('the attach after a qubesd restart', async () => /state=ok/.test(await attachedSources(dir)), 90_000);
      sim('remove-block', dir, 'sys-usb', 'sda');
      await waitFor('the second teardown', async () => (await attachedSources(dir)) === '');

      // A substitute: same UUID, same key file, another volume key. Refused by the pin, said, nothing left, not retried.
      const uuid = (await execa('cryptsetup', ['luksUUID', volume.path])).stdout.trim();
      await execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', '--pbkdf-force-iterations', '1000', '--uuid', uuid, '--key-file', keyFile, volume.path]);
      const vmsBefore = runningVms(dir);
      sim('add-block', dir, 'sys-usb', 'sda', volume.path);
      await waitFor('the refusal', () => /volume auto was not attached: sys-usb:sda is not volume auto: its key or layout differs/.test(log));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(runningVms(dir)).toEqual(vmsBefore);
      expect(attachments(dir)).toEqual([]);
      expect(log.match(/was not attached/g)).toHaveLength(1);
    } finally {
      watch.kill('SIGTERM');
      const ended = await watch;
      await qubesd.stop();
      expect(ended.exitCode, log).toBe(0);
      expect(log).toMatch(/watch: stopped/);
    }
    expect(runningVms(dir).filter((vm) => vm.startsWith('dm-device') || vm.startsWith('dm-header'))).toEqual([]);
  });
});
