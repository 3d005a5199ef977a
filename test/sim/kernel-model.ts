// What a simulated qube's kernel shows: a fresh /dev, /sys and /run at boot, the no_part_scan parameter when the template's
// kernel has it, and for each attached disk /dev/xvdX plus /sys/block/xvdX/{ro,size}, with the partition scan xen-blkfront
// does at attach time unless no_part_scan reads Y (REFERENCE section 5).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dmDescriptor, readChain, resolveChain } from './block-chain.ts';
import { vmRoot, type SimBlock, type SimSettings } from './state.ts';

export const NO_PART_SCAN = 'sys/module/block/parameters/no_part_scan';

/** A boot: /dev, /sys and /run start empty (tmpfs, devtmpfs, sysfs); /home/user persists. */
export function bootKernel(dir: string, vm: string, settings: SimSettings): void {
  const root = vmRoot(dir, vm);
  for (const volatile of ['dev', 'sys', 'run']) rmSync(join(root, volatile), { recursive: true, force: true });
  for (const sub of ['dev/mapper', 'sys/block', 'run', 'home/user']) mkdirSync(join(root, sub), { recursive: true });
  if (settings.noPartScan) {
    mkdirSync(dirname(join(root, NO_PART_SCAN)), { recursive: true });
    writeFileSync(join(root, NO_PART_SCAN), 'N\n');
  }
}

function noPartScanOn(root: string): boolean {
  const path = join(root, NO_PART_SCAN);
  return existsSync(path) && ['Y', '1'].includes(readFileSync(path, 'latin1').trim());
}

/**
 * Partition numbers the msdos parser would create from a first sector: none unless the 0x55AA signature is there and every
 * boot indicator is 0 or 0x80; then one per entry that is not empty (a type or a size).
 */
export function mbrPartitions(sector: Buffer): number[] {
  if (sector.length < 512 || sector[510] !== 0x55 || sector[511] !== 0xaa) return [];
  const entries = [0, 1, 2, 3].map((i) => sector.subarray(446 + 16 * i, 462 + 16 * i));
  if (entries.some((entry) => entry[0] !== 0 && entry[0] !== 0x80)) return [];
  return entries.flatMap((entry, i) => (entry[4] !== 0 || entry.readUInt32LE(12) !== 0 ? [i + 1] : []));
}

/**
 * The frontend's view of a newly attached disk. `block` lives in `backend`. `modelScan` false: a real kernel (a QEMU guest)
 * scans partitions itself; this view is then only the simulator's record of what is attached there.
 */
export function plugDisk(dir: string, frontend: string, frontendDev: string, backend: string, block: SimBlock, readOnly: boolean, modelScan = true): void {
  const root = vmRoot(dir, frontend);
  const sys = join(root, 'sys/block', frontendDev);
  const node = join(root, 'dev', frontendDev);
  mkdirSync(sys, { recursive: true });
  writeFileSync(join(sys, 'ro'), readOnly ? '1\n' : '0\n');
  rmSync(node, { force: true });
  if (block.file !== undefined) symlinkSync(block.file, node);
  else writeFileSync(node, dmDescriptor({ vm: backend, minor: block.dmMinor ?? -1 }));
  const chain = resolveChain(dir, frontend, `/dev/${frontendDev}`);
  writeFileSync(join(sys, 'size'), `${Math.floor(chain.sizeBytes / 512)}\n`);
  if (!modelScan || noPartScanOn(root)) return;
  // xen-blkfront reads the partition table before userspace runs; for a dm device that means the plaintext.
  for (const n of mbrPartitions(readChain(chain, 0, 512))) {
    mkdirSync(join(sys, `${frontendDev}${n}`), { recursive: true });
    writeFileSync(join(sys, `${frontendDev}${n}`, 'partition'), `${n}\n`);
    writeFileSync(join(root, 'dev', `${frontendDev}${n}`), '');
  }
}

/** The disk disappears from the frontend, with its partitions. */
export function unplugDisk(dir: string, frontend: string, frontendDev: string): void {
  const root = vmRoot(dir, frontend);
  rmSync(join(root, 'sys/block', frontendDev), { recursive: true, force: true });
  const dev = join(root, 'dev');
  const names = existsSync(dev) ? readdirSync(dev) : [];
  for (const name of names.filter((n) => n === frontendDev || new RegExp(`^${frontendDev}[0-9]+$`).test(n))) rmSync(join(dev, name), { force: true });
}
