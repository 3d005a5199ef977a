// What a simulated VM's kernel shows for its disks: /dev nodes and /sys/block facts, the no_part_scan parameter, and the
// partition scan a real kernel does at attach time when no_part_scan is off.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { vmRoot, type SimBlock, type SimState } from './state.ts';

const NO_PART_SCAN = 'sys/module/block/parameters/no_part_scan';

/** At boot: the kernel parameter exists (reading N) when the template's kernel has it. */
export function bootKernel(dir: string, vm: string, state: SimState): void {
  const root = vmRoot(dir, vm);
  for (const sub of ['dev/mapper', 'sys/block', 'run', 'home/user']) mkdirSync(join(root, sub), { recursive: true });
  const parameter = join(root, NO_PART_SCAN);
  rmSync(parameter, { force: true });
  if (state.noPartScan) {
    mkdirSync(dirname(parameter), { recursive: true });
    writeFileSync(parameter, 'N\n');
  }
}

function noPartScanOn(dir: string, vm: string): boolean {
  const value = readFileSync(join(vmRoot(dir, vm), NO_PART_SCAN), 'latin1').toString().trim();
  return value === 'Y' || value === '1';
}

/** True when the first sector is an MBR the msdos parser accepts with at least one partition entry. */
function hasPartitionTable(file: string): boolean {
  const sector = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, sector, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (sector[510] !== 0x55 || sector[511] !== 0xaa) return false;
  let entries = 0;
  for (let i = 0; i < 4; i++) {
    const entry = 446 + 16 * i;
    const boot = sector[entry]!;
    if (boot !== 0 && boot !== 0x80) return false;
    if (sector[entry + 4] !== 0) entries++;
  }
  return entries > 0;
}

/** Size in bytes of what a block device exports. */
export function blockBytes(dir: string, block: SimBlock, state: SimState): number {
  if (block.file) return statSync(block.file).size;
  const mapping = state.mappings[block.backend]?.find((m) => `dm-${m.minor}` === block.port);
  return mapping ? Number(mapping.table.split(' ')[1]) * 512 : 0;
}

/** The frontend's view of an attached disk: /dev/NAME and /sys/block/NAME/{ro,size}, partitions if the kernel scans them. */
export function plugDisk(dir: string, frontend: string, frontendDev: string, block: SimBlock, readOnly: boolean, state: SimState): void {
  const root = vmRoot(dir, frontend);
  const sys = join(root, 'sys/block', frontendDev);
  mkdirSync(sys, { recursive: true });
  writeFileSync(join(sys, 'ro'), readOnly ? '1\n' : '0\n');
  writeFileSync(join(sys, 'size'), `${Math.floor(blockBytes(dir, block, state) / 512)}\n`);
  const node = join(root, 'dev', frontendDev);
  rmSync(node, { force: true });
  if (block.file) symlinkSync(block.file, node);
  else writeFileSync(node, JSON.stringify({ backend: block.backend, port: block.port }));
  if (block.file && !noPartScanOnSafe(dir, frontend) && hasPartitionTable(block.file)) {
    mkdirSync(join(sys, `${frontendDev}1`), { recursive: true });
    writeFileSync(join(root, 'dev', `${frontendDev}1`), '');
  }
}

function noPartScanOnSafe(dir: string, vm: string): boolean {
  return existsSync(join(vmRoot(dir, vm), NO_PART_SCAN)) && noPartScanOn(dir, vm);
}

export function unplugDisk(dir: string, frontend: string, frontendDev: string): void {
  const root = vmRoot(dir, frontend);
  rmSync(join(root, 'sys/block', frontendDev), { recursive: true, force: true });
  rmSync(join(root, 'dev', frontendDev), { force: true });
  rmSync(join(root, 'dev', `${frontendDev}1`), { force: true });
}
