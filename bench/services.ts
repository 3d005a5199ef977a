// Driving two bundled qrexec services the way dom0 does, outside any VM: splitdmcrypt.HeaderUnlock (unlock of a bench volume) and
// splitdmcrypt.DeviceWipe (over a file standing in for /dev/xvds, in a small SPLIT_DM_CRYPT_SYSROOT tree with a fake blockdev).
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Channel } from '../shared/protocol/channel.ts';
import { DeviceWiped, HEADER_PROBE_BYTES, HeaderNeed, HeaderParsed, Progress, SecretRequest, Unlocked, UnlockProgress } from '../shared/protocol/messages.ts';
import { newBoxKeyPair, sealTo } from '../shared/seal.ts';
import { expectSuccess, timed, type TimedRun } from './measure.ts';

export const HEADER_UNLOCK = 'dist/vm/splitdmcrypt.HeaderUnlock.mjs';
export const DEVICE_WIPE = 'dist/vm/splitdmcrypt.DeviceWipe.mjs';

const qrexecEnv = (argument: string): NodeJS.ProcessEnv => ({
  ...process.env,
  QREXEC_REMOTE_DOMAIN: 'dom0',
  QREXEC_SERVICE_ARGUMENT: argument,
  QREXEC_SERVICE_FULL_NAME: `bench+${argument}`,
});

/**
 * How long the header VM can have held the passphrase: from dom0's sealed reply leaving to the service's `unlocked` message
 * arriving. The service zeroes the passphrase before it seals the key and sends that message, so this bounds its life from above
 * (by the pipe's latency, well under a millisecond).
 */
export interface SecretWindow {
  passphraseMs?: number;
}

/** One unlock through splitdmcrypt.HeaderUnlock+luks1, under GNU time when `rss`; `window` receives the passphrase's window. */
export async function runHeaderUnlock(volume: string, passphrase: string, rss: boolean, window?: SecretWindow): Promise<TimedRun> {
  const disk = readFileSync(volume);
  const run = await timed(process.execPath, [HEADER_UNLOCK], {
    env: qrexecEnv('luks1'),
    rss,
    converse: async (stdin, stdout) => {
      const channel = new Channel(stdout as AsyncIterable<Buffer>, stdin as unknown as { write(chunk: Uint8Array): boolean }, 'header service');
      channel.send({ type: 'unlock-request', luksType: 'luks1', devicePublicKey: newBoxKeyPair().publicKey, secretKind: 'passphrase' });
      // The stepped transfer as dom0 serves it: the probe, then what the header VM asks for.
      let sent = HEADER_PROBE_BYTES;
      channel.sendBytes(disk.subarray(0, sent));
      for (let message = await channel.receive(HeaderNeed.or(HeaderParsed)); message.type === 'header-need'; message = await channel.receive(HeaderNeed.or(HeaderParsed))) {
        channel.sendBytes(disk.subarray(sent, message.bytes));
        sent = message.bytes;
      }
      const request = await channel.receive(SecretRequest);
      channel.send({ type: 'secret', sealed: sealTo(request.publicKey, Buffer.from(passphrase)) });
      const sentAt = performance.now();
      // A keep-alive per key slot comes first; the passphrase's window ends with the unlocked message.
      while ((await channel.receive(UnlockProgress.or(Unlocked))).type !== 'unlocked');
      if (window) window.passphraseMs = performance.now() - sentAt;
      stdin.end();
    },
  });
  return expectSuccess('splitdmcrypt.HeaderUnlock', run);
}

/** A device VM's view of `target` as /dev/xvds: sysfs facts, no_part_scan on, and a blockdev that reports its size. */
export function makeDeviceSysroot(dir: string, target: string, sizeBytes: number): { root: string; path: string } {
  const root = join(dir, 'sysroot');
  const bin = join(dir, 'bin');
  for (const sub of ['dev', 'sys/block/xvds', 'sys/module/block/parameters', 'run', 'etc']) mkdirSync(join(root, sub), { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(root, 'sys/block/xvds/size'), `${sizeBytes / 512}\n`);
  writeFileSync(join(root, 'sys/block/xvds/ro'), '0\n');
  writeFileSync(join(root, 'sys/module/block/parameters/no_part_scan'), 'Y\n');
  try {
    symlinkSync(target, join(root, 'dev/xvds'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  writeFileSync(join(bin, 'blockdev'), `#!/bin/sh\necho ${sizeBytes / 512}\n`);
  chmodSync(join(bin, 'blockdev'), 0o755);
  return { root, path: `${bin}:${process.env.PATH ?? ''}` };
}

/** One whole wipe through splitdmcrypt.DeviceWipe, under GNU time when `rss`; checks every byte was reported written. */
export async function runDeviceWipe(sysroot: { root: string; path: string }, sizeBytes: number, rss: boolean): Promise<TimedRun> {
  const run = await timed(process.execPath, [DEVICE_WIPE], {
    env: { ...qrexecEnv(''), SPLIT_DM_CRYPT_SYSROOT: sysroot.root, PATH: sysroot.path },
    rss,
    converse: async (stdin, stdout) => {
      const channel = new Channel(stdout as AsyncIterable<Buffer>, stdin as unknown as { write(chunk: Uint8Array): boolean }, 'device service');
      channel.send({ type: 'device-wipe', expectedBytes: sizeBytes });
      for (;;) {
        const message = await channel.receive(Progress.or(DeviceWiped));
        if (message.type === 'device-wiped') {
          if (message.bytes !== sizeBytes) throw new Error(`DeviceWipe wrote ${message.bytes} bytes, expected ${sizeBytes}`);
          break;
        }
      }
      stdin.end();
    },
  });
  return expectSuccess('splitdmcrypt.DeviceWipe', run);
}
