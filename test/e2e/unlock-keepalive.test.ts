// Heavy but legitimate key slots tried one after another: the header VM announces each slot before it derives it, and dom0 waits
// for the answer as long as its own estimate of that declared slot's cost allows, so the attach ends in an answer, not in the
// reply timeout. Here the reply timeout is 4 s and each Argon2 slot takes several seconds: before keep-alives this timed out.
import { execa } from 'execa';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();
const HEAVY = ['--pbkdf', 'argon2id', '--pbkdf-memory', '262144', '--pbkdf-force-iterations', '8', '--pbkdf-parallel', '1'];

describe('unlock keep-alives', () => {
  it('a volume whose passphrase is in its second heavy Argon2 slot attaches under a 4 s reply timeout', async () => {
    const path = join(tmp, 'heavy.img');
    writeFileSync(path, '');
    // A small header (1 MiB of key slots, data at 2 MiB) on a 4 MiB disk: the device VM's fixed read is then 4 MiB, not 16, so
    // under the 4 s reply timeout only the derivations are slow, not the transfer on a loaded machine.
    truncateSync(path, 4 * 1024 * 1024);
    await execa('cryptsetup', ['luksFormat', '--type', 'luks2', '--batch-mode', ...HEAVY, '--luks2-metadata-size', '16k', '--luks2-keyslots-size', '1m', path, '-'], { input: 'first secret' });
    writeFileSync(join(tmp, 'first'), 'first secret');
    writeFileSync(join(tmp, 'second'), 'second secret');
    await execa('cryptsetup', ['luksAddKey', '--batch-mode', ...HEAVY, '--key-file', join(tmp, 'first'), path, join(tmp, 'second')]);
    const dir = newSim();
    // The simulated dom0's configuration (qubes-sim env points SPLIT_DM_CRYPT_CONF at it).
    writeFileSync(join(dir, 'dom0', 'split-dm-crypt.conf'), 'REPLY_TIMEOUT_S=4\n');
    sim('add-block', dir, 'sys-usb', 'sda', path);
    const before = runningVms(dir);
    const started = Date.now();
    const attach = await runSplit(dir, ['attach', 'work', 'sys-usb:sda'], 'second secret\n');
    expect(attach.exitCode, attach.stderr).toBe(0);
    // Two slots derived, each announced: the derivations took longer than the reply timeout allows for one silence.
    expect(sim('transcript', dir).toString('latin1').split('unlock-progress').length - 1).toBe(2);
    expect(Date.now() - started).toBeGreaterThan(4000);
    expect((await runSplit(dir, ['detach', 'sys-usb:sda'])).exitCode).toBe(0);
    // work was started by the attach and keeps running, as a named destination does; nothing of ours is left.
    expect(runningVms(dir)).toEqual([...before, 'work'].sort());
    expect(attachments(dir)).toEqual([]);
  }, 240_000);
});
