// The two waits that failure injection does not reach: a service that replies and then never ends its call, and a user who
// takes longer to type the passphrase than any reply timeout (which must not count: only waits for a VM are bounded).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, vi } from 'vitest';
import { readCalls } from '../sim/faults.ts';
import { simulatedDom0Environment } from '../sim/inspect.ts';
import { encodeFrame } from '../../shared/protocol/frame.ts';
import { makeVolume, newSim, runningVms, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from './harness.ts';

const tmp = useTmpDir();

async function setUp(name: string, config: string) {
  const dir = newSim();
  const volume = await makeVolume(tmp, `${name}.img`, 'pass', 3 * 1024 * 1024);
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), config);
  return { dir, volume, before: runningVms(dir) };
}

describe('time limits', () => {
  it('a service that replies but keeps its call open ends the command with exit 3 after REPLY_TIMEOUT_S, cleaned up', async () => {
    const context = await setUp('linger', 'REPLY_TIMEOUT_S=8\n');
    // qrexec looks in /usr/local first: a DevicePrepare that answers at once (no Node.js start, so a loaded machine cannot make
    // it miss the reply timeout), then keeps stdout open for ever.
    const folder = join(context.dir, 'vms', 'sim-dvm', 'root', 'usr', 'local', 'etc', 'qubes-rpc');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'prepared.frame'), encodeFrame({ type: 'device-prepared', publicKey: new Uint8Array(32).fill(9), partitionScan: 'disabled' }));
    writeFileSync(join(folder, 'splitdmcrypt.DevicePrepare'), '#!/bin/sh\ncat "$(dirname "$0")/prepared.frame"\nexec sleep 1000\n');
    chmodSync(join(folder, 'splitdmcrypt.DevicePrepare'), 0o755);
    const started = Date.now();
    const run = await runSplit(context.dir, ['attach', '--type=luks1', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(3);
    expect(run.stderr.split('\n').filter((line) => line.includes('error:'))).toEqual([
      expect.stringMatching(/^qvm-block-split: error: splitdmcrypt\.DevicePrepare in dm-device-disp\d{8} did not end within 8 s after its reply$/),
    ]);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(runningVms(context.dir)).toEqual(context.before);
  });

  it('a passphrase typed more than REPLY_TIMEOUT_S after the header VM asked is still accepted: the user is not timed', async () => {
    const context = await setUp('slow-user', 'REPLY_TIMEOUT_S=3\n');
    const env = { ...simulatedDom0Environment(context.dir), PATH: `${join(context.dir, 'bin')}:${process.env.PATH}` };
    const child = execa(join(context.dir, 'bin', 'qvm-block-split'), ['attach', '--type=luks1', 'work', 'sys-usb:sda'], { env, reject: false, stdin: 'pipe', timeout: 60_000 });
    // Without a terminal there is no prompt to wait for: wait until the header VM's service runs, then be slow (7 s > 3 s).
    await vi.waitFor(() => expect(readCalls(context.dir).some((call) => call.key === 'service:splitdmcrypt.HeaderUnlock')).toBe(true), { timeout: 30_000, interval: 100 });
    await new Promise((resolve) => setTimeout(resolve, 7000));
    child.stdin!.end(`${context.volume.passphrase}\n`);
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await runSplit(context.dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
  });
});
