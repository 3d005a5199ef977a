// The kernel tier on our kernel with Qubes' no_part_scan: the device DisposableVM is booted and prepared (no_part_scan set)
// before the source disk is hot-plugged into it, as Qubes attaches it, so the real kernel never parses the disk's partition
// table. A watcher inside the guest looks at sysfs and /dev every 50 ms for as long as the disk is attached.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachments, makeLuks2Volume, runningVms, sim, type SimRun } from '../helpers/sim.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { embedMbrInLuks2, writeGptDisk, writeMbrDisk } from '../helpers/partition-tables.ts';
import { deviceVmDuring, guestKernel, inGuest, KERNEL_TEST_TIMEOUT_MS, logScenario, newQemuSim, split } from './qemu-sim.ts';

const tmp = useTmpDir();
const T = KERNEL_TEST_TIMEOUT_MS;

/**
 * Lines `DISK parts=[...] dev=[...] no_part_scan=Y|N` for every virtio disk, each time they change, until the disks that
 * appeared are gone again (the command's clean-up detached them) or a minute after `stop` appears under /run.
 */
const WATCHER = `seen=0; last=''
while :; do
  out=''
  for d in /sys/block/vd*; do
    [ -e "$d" ] || continue
    n=\${d##*/}
    parts=$(cd "$d" && ls -d "$n"[0-9]* "$n"p[0-9]* 2>/dev/null | tr '\\n' ' ')
    devs=$(ls /dev | grep -E "^$n(p?[0-9]+)$" | tr '\\n' ' ')
    out="$out$n parts=[$parts] dev=[$devs] no_part_scan=$(cat /sys/module/block/parameters/no_part_scan)
"
  done
  [ "$out" != "$last" ] && printf '%s' "$out" && last=$out
  if [ -n "$out" ]; then seen=1; elif [ $seen = 1 ]; then echo gone; exit 0; fi
  [ -e /run/watcher-stop ] && exit 0
  sleep 0.05
done`;

/** Runs `args`, watching the device VM's disks while it runs; the watcher's observations and the command's result. */
async function watchedSplit(dir: string, args: readonly string[], input: string): Promise<{ run: SimRun & { ms: number }; seen: string[]; kernel: string; vm: string }> {
  const running = split(dir, args, input);
  const vm = await deviceVmDuring(dir, running);
  const kernel = await guestKernel(dir, vm);
  const watcher = inGuest(dir, vm, ['sh', '-c', WATCHER], '', T);
  const run = await running;
  if (run.exitCode === 0) await inGuest(dir, vm, ['touch', '/run/watcher-stop']);
  const watched = await watcher;
  return { run, seen: watched.stdout.split('\n').filter((l) => l.startsWith('vd')), kernel, vm };
}

describe('kernel tier: a kernel with no_part_scan, the source disk hot-plugged after it is set', () => {
  const dir = newQemuSim({ kernel: 'patched', optOut: false });
  const before = runningVms(dir);

  it.each([
    ['an MBR', 'sda', writeMbrDisk],
    ['a GPT (protective MBR, primary and backup headers)', 'sdb', writeGptDisk],
  ] as const)('a disk carrying %s gets no partition device while attached; the attach fails only on the header', async (what, port, write) => {
    const path = join(tmp, `${port}.img`);
    write(path, 32);
    const original = readFileSync(path);
    sim('add-block', dir, 'sys-usb', port, path);
    const { run, seen, kernel } = await watchedSplit(dir, ['attach', 'work', `sys-usb:${port}`], 'x\n');
    expect(seen.length, 'the watcher never saw the disk attached').toBeGreaterThan(0);
    for (const line of seen) expect(line).toMatch(/^vd[a-z]+ parts=\[\] dev=\[\] no_part_scan=Y$/);
    expect(run.stderr).not.toMatch(/warning/);
    expect(run.stderr).toMatch(/error:.*not a LUKS header/);
    expect(run.exitCode).not.toBe(0);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
    expect(readFileSync(path).equals(original)).toBe(true);
    logScenario(kernel, `${what}, no_part_scan`, `ok: partition checks passed (${seen.length} observations while attached: ${seen.at(-1)}), refused as not LUKS`);
  }, T);

  it('a LUKS2 volume whose binary header is also a valid MBR attaches with no partition device', async () => {
    const volume = await makeLuks2Volume(tmp, 'mbr-luks2.img', 'mbr luks2', { sectorSize: 512 });
    embedMbrInLuks2(volume.path);
    sim('add-block', dir, 'sys-usb', 'sdc', volume.path);
    const { run, seen, kernel, vm } = await watchedSplit(dir, ['attach', 'work', 'sys-usb:sdc'], `${volume.passphrase}\n`);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/warning/);
    expect(seen.length).toBeGreaterThan(0);
    for (const line of seen) expect(line).toMatch(/^vd[a-z]+ parts=\[\] dev=\[\] no_part_scan=Y$/);
    // Asked once more now that the mapping exists: the raw disk still has no partition, and only the one mapping was made.
    // (Disks other than virtio ones and mappings: the kernel's own loop devices, which nothing here uses.)
    const now = await inGuest(dir, vm, ['sh', '-c', 'ls /sys/block | grep -v "^loop"; cat /sys/module/block/parameters/no_part_scan']);
    expect(now.stdout.split('\n').filter(Boolean).sort()).toEqual(['Y', 'dm-0', seen.at(-1)!.split(' ')[0]!].sort());
    const read = sim('read-block', dir, 'work', 'xvdi');
    expect(read.subarray(0, volume.plaintext.length).equals(volume.plaintext)).toBe(true);
    expect((await split(dir, ['detach', 'sys-usb:sdc'])).exitCode).toBe(0);
    expect(attachments(dir)).toEqual([]);
    logScenario(kernel, 'LUKS2 header that is also an MBR, no_part_scan', 'ok: partition checks passed, attached, the destination read the plaintext');
  }, T);
});
