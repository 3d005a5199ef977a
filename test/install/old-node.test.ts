// A DisposableVM template whose Node.js is too old, end to end on the simulator: the installed service wrappers refuse with
// exit 127 before the bundle runs, dom0 names the qube and the service with the fix, and the attach leaves nothing behind.
// The same fake node at 18.19.0 attaches: the refusal is the version's doing, not the fake's.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, makeVolume, newSim, runningVms, runSplit, sim } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';

const tmp = useTmpDir();

/** A simulated Qubes whose qubes find, first on their PATH (DIR/vm-bin), a node that says `version` and is otherwise the real one. */
async function simWithVmNode(name: string, version: string) {
  const dir = newSim();
  const volume = await makeVolume(tmp, `${name}.img`, 'pass');
  sim('add-block', dir, 'sys-usb', 'sda', volume.path);
  const node = join(dir, 'vm-bin', 'node');
  writeFileSync(node, `#!/bin/sh\nif [ "$1" = --version ]; then echo ${version}; exit 0; fi\nexec '${process.execPath}' "$@"\n`);
  chmodSync(node, 0o755);
  return { dir, volume, before: runningVms(dir), original: readFileSync(volume.path) };
}

describe('Node.js in the disposable template', () => {
  it('too old (18.18.2): dom0 says which qube has no working service and why, and nothing is left', async () => {
    const context = await simWithVmNode('old', 'v18.18.2');
    const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'pass\n');
    expect(run.exitCode).toBe(1);
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('qvm-block-split: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^qvm-block-split: error: dm-(device|header)-disp\d{8} has no working splitdmcrypt\.\w+: install split-dm-crypt into its disposable template, with Node\.js >= 18\.19/);
    expect(runningVms(context.dir)).toEqual(context.before);
    expect(attachments(context.dir)).toEqual([]);
    expect((await runSplit(context.dir, ['status'])).stdout).toBe('');
    expect(readFileSync(context.volume.path).equals(context.original)).toBe(true);
  });

  it('new enough (18.19.0): the same fake node attaches and detaches', async () => {
    const context = await simWithVmNode('new', 'v18.19.0');
    const attach = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], 'pass\n');
    expect(attach.exitCode, attach.stderr).toBe(0);
    expect(attachments(context.dir)).not.toEqual([]);
    const detach = await runSplit(context.dir, ['detach', 'sys-usb:sda']);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(attachments(context.dir)).toEqual([]);
  });
});
