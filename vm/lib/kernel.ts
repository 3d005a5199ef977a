// The device VM's only way to the kernel: the no_part_scan switch, sysfs facts about the source disk, dmsetup and blockdev.
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError, ToolError } from '../../shared/errors.ts';
import { SOURCE_FRONTEND } from '../../shared/protocol/contract.ts';
import { vmPath } from './sysroot.ts';
import { runTool } from './tool.ts';

/** Where dom0 attaches the source disk (qvm-block attach -o frontend-dev=xvds): the one device the services read. */
export const SOURCE_DEVICE_PATH = `/dev/${SOURCE_FRONTEND}`;
const NO_PART_SCAN = '/sys/module/block/parameters/no_part_scan';
const TOOL_TIMEOUT_MS = 60_000;

/** Turns on Qubes' no_part_scan; 'unavailable' when this kernel lacks the parameter (a non-Qubes kernel). */
export async function enableNoPartScan(): Promise<'enabled' | 'unavailable'> {
  // Opened without O_CREAT: where /sys/module/block/parameters/ exists but lacks the file (Debian's kernel), creating it
  // fails with EACCES; only a missing file means a kernel without the parameter.
  try {
    await writeFile(vmPath(NO_PART_SCAN), 'Y\n', { flag: 'r+' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'unavailable';
    throw new OperationError(`cannot turn on ${NO_PART_SCAN}: ${(error as NodeJS.ErrnoException).code}`, { cause: error });
  }
  if (!(await noPartScanIsOn())) throw new OperationError(`${NO_PART_SCAN} did not stay on after writing Y`);
  return 'enabled';
}

export async function noPartScanIsOn(): Promise<boolean> {
  const value = await readFile(vmPath(NO_PART_SCAN), 'latin1').catch(() => '');
  return value.trim() === 'Y' || value.trim() === '1';
}

/**
 * The name sysfs knows a disk by: `disk` itself under Qubes (/dev/xvds is the kernel's node); when /dev/DISK is a symlink to
 * a kernel node, udev-style (the QEMU test tier names its virtio disk /dev/xvds -> vdb), the node it points to.
 */
async function sysfsName(disk: string): Promise<string> {
  const target = (await readlink(vmPath(`/dev/${disk}`)).catch(() => '')).replace(/^\/dev\//, '');
  return /^[a-z]{1,8}$/.test(target) ? target : disk;
}

/** Partition devices the kernel made for a disk (sysfs subdirectories named after it, e.g. xvds1), named after `disk`. */
export async function partitionsOf(disk: string): Promise<string[]> {
  const name = await sysfsName(disk);
  const entries = await readdir(vmPath(`/sys/block/${name}`)).catch(() => [] as string[]);
  return entries.filter((entry) => entry.startsWith(name) && entry !== name).map((entry) => `${disk}${entry.slice(name.length)}`).sort();
}

/** True when the kernel reports the disk as read-only. */
export async function isReadOnly(disk: string): Promise<boolean> {
  return (await readFile(vmPath(`/sys/block/${await sysfsName(disk)}/ro`), 'latin1')).trim() === '1';
}

/** True when the disk is present. */
export async function diskPresent(disk: string): Promise<boolean> {
  return (await readFile(vmPath(`/sys/block/${await sysfsName(disk)}/size`), 'latin1').catch(() => undefined)) !== undefined;
}

/**
 * How long the device VM waits for the source disk to appear. Why a wait at all: `qvm-block attach` returns once the backend
 * is connected, and xen-blkfront adds the disk in this VM asynchronously afterwards (a hot-plug), so a service dom0 calls at
 * once may look before the disk is there. Why this much: the frontend's probe takes well under a second; 10 s covers a loaded
 * machine, and a disk that never comes still ends with "no source disk" rather than a hang.
 */
export const SOURCE_DISK_WAIT_MS = 10_000;
const SOURCE_DISK_POLL_MS = 50;

/** Waits, at most `limitMs`, until the disk is present; false when it never came. */
export async function waitForDisk(disk: string, limitMs = SOURCE_DISK_WAIT_MS): Promise<boolean> {
  for (const end = Date.now() + limitMs; ; await sleep(SOURCE_DISK_POLL_MS)) {
    if (await diskPresent(disk)) return true;
    if (Date.now() >= end) return false;
  }
}

async function tool(command: string, args: readonly string[], input?: Uint8Array) {
  const result = await runTool(command, args, { ...(input ? { input } : {}), timeoutMs: TOOL_TIMEOUT_MS });
  if (result.timedOut) throw new ToolError(command, undefined, '', `${command} ${args[0] ?? ''} timed out`);
  return result;
}

/** Size of a block device in 512-byte sectors; `path` is a path inside the VM (tools see the VM's own tree). */
export async function deviceSectors(path: string): Promise<number> {
  const result = await tool('blockdev', ['--getsz', path]);
  if (result.exitCode !== 0 || !/^[0-9]{1,16}$/.test(result.stdout)) throw new ToolError('blockdev', result.exitCode, result.stderr.slice(0, 200));
  return Number(result.stdout);
}

/** Creates a dm mapping; the table (which holds the key) goes on stdin, never in argv. */
export async function dmCreate(name: string, table: Uint8Array, readOnly: boolean): Promise<void> {
  const result = await tool('dmsetup', ['create', name, ...(readOnly ? ['--readonly'] : [])], table);
  if (result.exitCode !== 0) throw new ToolError('dmsetup', result.exitCode, result.stderr.slice(0, 200), `dmsetup create ${name} failed: ${result.stderr.slice(0, 200)}`);
}

/** The kernel name (dm-N) of a mapping, from sysfs. */
export async function dmKernelName(name: string): Promise<string> {
  const entries = await readdir(vmPath('/sys/block')).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => /^dm-[0-9]+$/.test(e))) {
    const dmName = await readFile(vmPath(`/sys/block/${entry}/dm/name`), 'latin1').catch(() => '');
    if (dmName.trim() === name) return entry;
  }
  throw new OperationError(`mapping ${name} has no dm device in sysfs`);
}

/** Removes a mapping, retrying while it is busy (udev or a closing reader may hold it a moment). Returns the attempts made. */
export async function dmRemove(name: string, attempts = 20, delayMs = 250): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const result = await tool('dmsetup', ['remove', name]);
    if (result.exitCode === 0) return attempt;
    if (/No such device|not found/i.test(result.stderr)) return attempt;
    if (!/busy/i.test(result.stderr) || attempt >= attempts) {
      throw new ToolError('dmsetup', result.exitCode, result.stderr.slice(0, 200), `dmsetup remove ${name} failed after ${attempt} attempt(s): ${result.stderr.slice(0, 200)}`);
    }
    await sleep(delayMs);
  }
}

/** Flushes every dirty buffer to the disks. */
export async function syncAll(): Promise<void> {
  await tool('sync', []);
}
