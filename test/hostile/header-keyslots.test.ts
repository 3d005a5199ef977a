// A compromised header VM in a key-slot change (add-key): whatever area it returns, nothing is written unless a fresh verify VM
// parses it as the change asked for. A wrong length is refused before a byte of it is read; garbage does not parse; a valid
// header with another volume key is not the change asked for; the disk's own header back is no change. Each time: exit 1, the
// disk as it was, nothing left.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectRefused, installHostile, luks1Disk, observations, trace, useHostileScripts } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

describe('a hostile HeaderKeyslots', { timeout: 180_000 }, () => {
  it.each([
    ['short', /header VM dm-header-disp\d+ misbehaved: it announced a new header area of 2067968 bytes, not the 2068480 it was sent/],
    ['long', /header VM dm-header-disp\d+ misbehaved: it announced a new header area of 2068992 bytes, not the 2068480 it was sent/],
    ['garbage', /the header dm-header-disp\d+ returned is not a header we can use/],
    ['other', /the header dm-header-disp\d+ returned is not the add-key asked for \(its uuid changed\)/],
    ['same', /the header dm-header-disp\d+ returned is not the add-key asked for \(its key slots are 0, not 0 and one more\)/],
  ])('returning a %s area gets nothing written', async (reply, message) => {
    const context = await luks1Disk(tmp, `hostile-${reply}`);
    installHostile(context.dir, { service: 'splitdmcrypt.HeaderKeyslots', script: scripts.path('header-keyslots'), vmPrefix: 'dm-header-', args: { reply } });
    const run = await runSplit(context.dir, ['add-key', '--yes', '--pbkdf-force-iterations=1000', 'sys-usb:sda'], `${context.volume.passphrase}\nnew one\nnew one\n`);
    expect(observations(context.dir, 'replied'), trace(context.dir, run)).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    expectRefused(run, context, /error/);
  });
});
