// wipe_paths_kernel_tier (issue 19, item 5): the two ways a device VM can overwrite a disk, timed inside a QEMU guest that runs
// our kernel (the kernel tier's device VM), over the same hot-plugged virtio disk:
// - ours: the built splitdmcrypt.DeviceWipe service, whole (Node's start, checks, OpenSSL CSPRNG output, writes, fdatasync);
// - dm-crypt: cryptsetup's FAQ way, a plain dm-crypt mapping with a throw-away key from /dev/urandom and zeros written through
//   it (the same 4 MiB writer as the floor), opening and closing the mapping included;
// - the floor: zeros written straight to the disk.
// Opt-in (`--only=wipe-kernel`): it boots a guest under TCG, so AES instructions are emulated for both paths alike and the
// figures compare the paths on this machine, not real hardware's disk speed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeFrame } from '../shared/protocol/frame.ts';
import { simEnvironment } from './attach.ts';
import { median, round, watchLoad, type LoadReport } from './measure.ts';

const SIM = resolve('test/sim/qubes-sim');
const DEVICE_WIPE = resolve('dist/vm/splitdmcrypt.DeviceWipe.mjs');
const VM = 'dm-device-wipe-bench';
const MIB = 1024 * 1024;

/** Writes `total` zero bytes to a path in 4 MiB writes, then fdatasync: run in the guest with `node -e`. */
const ZERO_WRITER = `
const fs = require('node:fs');
const [path, total] = [process.argv[1], Number(process.argv[2])];
const fd = fs.openSync(path, 'r+');
const buffer = Buffer.alloc(4 * 1024 * 1024);
for (let at = 0; at < total; at += buffer.length) fs.writeSync(fd, buffer, 0, Math.min(buffer.length, total - at), at);
fs.fdatasyncSync(fd);
fs.closeSync(fd);
`;

export interface WipeKernelFigure {
  readonly disk_mib: number;
  readonly ours_ms_median: number;
  readonly dm_crypt_ms_median: number;
  readonly zero_floor_ms_median: number;
  readonly ours_vs_floor: number;
  readonly dm_crypt_vs_floor: number;
  readonly kept: 'ours' | 'dm-crypt';
  readonly runs: { readonly ours: number[]; readonly dm_crypt: number[]; readonly floor: number[] };
  readonly how: string;
  readonly load: LoadReport;
}

export async function wipeKernelFigure(sizeMiB: number, rounds: number): Promise<WipeKernelFigure> {
  const work = mkdtempSync(join(tmpdir(), 'split-dm-crypt-wipe-kernel-'));
  const dir = join(work, 'qubes');
  const disk = join(work, 'disk.img');
  const total = sizeMiB * MIB;
  const sim = (...args: string[]) => execFileSync(SIM, args, { encoding: 'utf8' });
  let env: NodeJS.ProcessEnv = process.env;
  const inGuest = (command: readonly string[], input?: Uint8Array): number => {
    const started = performance.now();
    const result = spawnSync(SIM, ['exec', dir, VM, '--', ...command], { input, env, encoding: 'utf8', timeout: 1_800_000 });
    if (result.status !== 0) throw new Error(`bench: in the guest, ${command.join(' ').slice(0, 80)} failed: ${result.stderr.slice(0, 400)}`);
    return performance.now() - started;
  };
  const load = watchLoad();
  try {
    // The guest dies with its owner, this process, whatever happens to the bench.
    sim('init', dir, '--device-vm=qemu', '--guest-kernel=patched', `--owner-pid=${process.pid}`);
    env = simEnvironment(dir);
    writeFileSync(disk, '');
    truncateSync(disk, total);
    sim('add-block', dir, 'sys-usb', 'sdb', disk);
    execFileSync('qvm-create', ['--class', 'DispVM', '--template', 'sim-dvm', '--label', 'red', VM], { env });
    execFileSync('qvm-start', [VM], { env });
    // As DevicePrepare does: no partition scan for a disk attached from now on.
    inGuest(['sh', '-c', 'echo Y > /sys/module/block/parameters/no_part_scan']);
    execFileSync('qvm-block', ['attach', '-o', 'frontend-dev=xvds', '-o', 'read-only=no', VM, 'sys-usb:sdb'], { env });
    inGuest(['sh', '-c', 'for i in $(seq 100); do [ -b /dev/xvds ] && exit 0; sleep 0.1; done; exit 1']);
    const request = encodeFrame({ type: 'device-wipe', expectedBytes: total });
    const runs = { ours: [] as number[], dm_crypt: [] as number[], floor: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      runs.floor.push(round(inGuest(['node', '-e', ZERO_WRITER, '/dev/xvds', String(total)]), 0));
      runs.ours.push(round(inGuest(['env', 'QREXEC_REMOTE_DOMAIN=dom0', 'QREXEC_SERVICE_ARGUMENT=', 'QREXEC_SERVICE_FULL_NAME=splitdmcrypt.DeviceWipe', 'node', DEVICE_WIPE], request), 0));
      runs.dm_crypt.push(round(inGuest(['sh', '-c', `cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file /dev/urandom /dev/xvds wipe && node -e "$1" /dev/mapper/wipe ${total}; status=$?; cryptsetup close wipe; exit $status`, 'sh', ZERO_WRITER]), 0));
    }
    const [ours, dmCrypt, floor] = [median(runs.ours), median(runs.dm_crypt), median(runs.floor)];
    return {
      disk_mib: sizeMiB,
      ours_ms_median: ours,
      dm_crypt_ms_median: dmCrypt,
      zero_floor_ms_median: floor,
      ours_vs_floor: round(ours / floor, 2),
      dm_crypt_vs_floor: round(dmCrypt / floor, 2),
      kept: ours <= dmCrypt ? 'ours' : 'dm-crypt',
      runs,
      how: `QEMU TCG guest (1 vCPU) with our kernel, ${sizeMiB} MiB virtio disk backed by a file; each path timed from the host around one guest command, ${rounds} rounds interleaved`,
      load: load.stop(),
    };
  } finally {
    spawnSync(join(dir, 'bin', 'qvm-kill'), [VM], { env });
    rmSync(work, { recursive: true, force: true });
  }
}
