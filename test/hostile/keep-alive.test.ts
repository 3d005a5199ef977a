// Keep-alives from a compromised header VM: it may announce only key slots its header declared, each once per attempt, and dom0
// waits by its own estimate of the declared cost, never by the VM's figure (2^31 ms here). A slot it never declared, or one
// announced twice, ends the attach with the header VM named as misbehaving and nothing left.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectRefused, installHostile, keyHex, luks1Disk, observations, trace, useHostileScripts } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

describe('a header VM abusing keep-alives', { timeout: 180_000 }, () => {
  it.each([
    ['a key slot its header never declared', [5]],
    ['the same key slot twice', [0, 0]],
  ])('announcing %s is refused', async (name, progress) => {
    const context = await luks1Disk(tmp, `keepalive-${progress.join('-')}`);
    installHostile(context.dir, { service: 'splitdmcrypt.HeaderUnlock', script: scripts.path('header-unlock'), args: { progress, volumeKeyHex: keyHex(context.volume) } });
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
    // The script got as far as its keep-alives: dom0 stopped it there.
    expect(observations(context.dir, 'unlocked-sent'), trace(context.dir, run)).toHaveLength(1);
    expect(run.stderr).toMatch(/misbehaved: it announced key slot \d+, which its header does not declare or it already tried/);
    expectRefused(run, context, /header/i);
  });
});
