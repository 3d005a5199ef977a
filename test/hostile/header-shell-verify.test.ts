// Finding 2, the header-shell check runs elsewhere: the VM that ran a root shell over the header (dm-header-*) could lie about what
// the shell left. dom0 shows the summary of a FRESH header VM (dm-verify-*, HeaderInspect) that never ran the shell, and that
// summary must be the truth about what is then written: cryptsetup, reading the disk afterwards, agrees.
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectNothingLeft, installHostile, luks1Disk, observations, serviceVms, useHostileScripts } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

const addSlotScript = (passphrase: string) =>
  [
    'set -e',
    `printf %s '${passphrase}' > old`,
    "printf %s 'second passphrase' > new",
    'cryptsetup luksAddKey --batch-mode --pbkdf-force-iterations 1000 --key-file old "$HEADER" new',
    'rm -f old new',
    '',
  ].join('\n');

async function addSlotWithShell(name: string, hostileInShellVm: boolean) {
  const context = await luks1Disk(tmp, name);
  if (hostileInShellVm) {
    // A HeaderInspect in the shell's own VM that would hide the new slot; dom0 must never ask that VM.
    installHostile(context.dir, { service: 'splitdmcrypt.HeaderInspect', script: scripts.path('header-inspect'), vmPrefix: 'dm-header-' });
  }
  const run = await runSplit(context.dir, ['modify-header-with-shell', '--yes', 'sys-usb:sda'], addSlotScript(context.volume.passphrase));
  expect(run.exitCode, run.stderr).toBe(0);
  // The summary lists key slot 1 with its KDF, as a fresh VM read it.
  expect(run.stderr).toMatch(/slot[^\n]*\b1\b/i);
  expect(run.stderr).toMatch(/pbkdf2/i);
  const inspected = serviceVms(context.dir, 'splitdmcrypt.HeaderInspect');
  expect(inspected.length).toBeGreaterThan(0);
  expect(inspected.every((vm) => vm.startsWith('dm-verify-'))).toBe(true);
  // What dom0 showed is what is on the disk.
  const dump = await execa('cryptsetup', ['luksDump', context.diskPath]);
  expect(dump.stdout).toMatch(/Key Slot 1: ENABLED/);
  expectNothingLeft(context, { diskUnchanged: false });
  return context;
}

describe('modify-header-with-shell shows what a fresh VM reads', { timeout: 180_000 }, () => {
  it('the summary, from a dm-verify VM, lists the key slot the shell added, as cryptsetup finds it', async () => {
    await addSlotWithShell('shell-add-slot', false);
  });

  it('a lying HeaderInspect in the shell\'s VM is never called', async () => {
    const context = await addSlotWithShell('shell-liar', true);
    expect(observations(context.dir, 'inspect-called')).toEqual([]);
  });
});
