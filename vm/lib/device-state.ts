// Device VM facts kept between service calls, all under /run (tmpfs: gone with the DisposableVM) and /etc (template config).
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../../shared/errors.ts';
import { SOURCE_FRONTEND } from '../../shared/protocol/contract.ts';
import { PUBLIC_KEY_BYTES } from '../../shared/sealed-box-sizes.ts';
import { zeroize } from '../../shared/bytes.ts';
import { deviceSectors, isReadOnly, noPartScanIsOn, partitionsOf, SOURCE_DEVICE_PATH, SOURCE_DISK_WAIT_MS, waitForDisk } from './kernel.ts';
import { vmPath } from './sysroot.ts';

const RUN_DIR = '/run/split-dm-crypt';
const SECRET_KEY_FILE = `${RUN_DIR}/device-secret-key`;
const CONFIG_FILE = '/etc/split-dm-crypt/device-vm.conf';

/** Keeps the device VM's X25519 secret key for the one DeviceOpen call that follows (root-only file on tmpfs). */
export async function storeSecretKey(secretKey: Uint8Array): Promise<void> {
  await mkdir(vmPath(RUN_DIR), { recursive: true, mode: 0o700 });
  await writeFile(vmPath(SECRET_KEY_FILE), secretKey, { mode: 0o600 });
}

/** Takes the secret key out of /run: it is deleted as it is read, so a box can be opened at most once per prepare. */
export async function takeSecretKey(): Promise<Uint8Array> {
  const path = vmPath(SECRET_KEY_FILE);
  const key = await readFile(path).catch(() => undefined);
  await unlink(path).catch(() => undefined);
  if (!key || key.length !== PUBLIC_KEY_BYTES) {
    zeroize(key);
    throw new OperationError('this device VM holds no key pair: DevicePrepare must run first, and a key pair is used only once');
  }
  return key;
}

/** Whether the template's config explicitly accepts a kernel that scans partitions (`allow_partition_scan=yes`). */
export async function partitionScanAllowed(): Promise<boolean> {
  const text = await readFile(vmPath(CONFIG_FILE), 'utf8').catch(() => '');
  return text.split('\n').some((line) => /^\s*allow_partition_scan\s*=\s*yes\s*$/.test(line));
}

/**
 * How long a kernel that scans partitions is given to finish once the disk is there. Why: the disk's sysfs entry, whose size
 * waitForDisk looks for, is made before its partition table is read (add_disk: device_add, then the scan), so a look at once
 * can miss partitions that appear a moment later; a device service that is already running when the disk comes (dom0 opens
 * DeviceSendHeader ahead) looks at once. Waited only where a scan can happen (the template's opt-out, or no_part_scan turned
 * off after DevicePrepare); with no_part_scan on, no partition can appear and nothing is waited for.
 */
export const PARTITION_SCAN_SETTLE_MS = 1000;

/**
 * Defence in depth before anything reads the source disk: it is present, the kernel made no partition devices for it,
 * and no_part_scan is still on. With the template's explicit opt-out (allow_partition_scan=yes) neither refuses: the partition
 * devices the kernel made are returned, so dom0 can say what the kernel parsed.
 */
export async function assertSourceUnparsed(): Promise<{ readonly scannedPartitions: readonly string[] }> {
  if (!(await waitForDisk(SOURCE_FRONTEND))) throw new OperationError(`no source disk at /dev/${SOURCE_FRONTEND} (waited ${SOURCE_DISK_WAIT_MS / 1000} s for it to appear)`);
  const allowed = await partitionScanAllowed();
  // Where the kernel may scan, its scan is given time to end before we look for partitions (PARTITION_SCAN_SETTLE_MS).
  if (!(await noPartScanIsOn())) await sleep(PARTITION_SCAN_SETTLE_MS);
  const partitions = await partitionsOf(SOURCE_FRONTEND);
  if (partitions.length > 0 && !allowed) {
    throw new OperationError(`the kernel scanned the source disk's partition table (found ${partitions.join(', ')}): refusing to use it`);
  }
  if (!allowed && !(await noPartScanIsOn())) throw new OperationError('no_part_scan is no longer on in this device VM: refusing to read the source disk');
  return { scannedPartitions: partitions };
}

/** What dom0 is told about the source disk before anything reads or writes it (after the defence-in-depth checks). */
export async function describeSource(): Promise<{ type: 'source-described'; diskBytes: number; readOnly: boolean; scannedPartitions: string[] }> {
  const { scannedPartitions } = await assertSourceUnparsed();
  const diskBytes = (await deviceSectors(SOURCE_DEVICE_PATH)) * 512;
  return { type: 'source-described', diskBytes, readOnly: await isReadOnly(SOURCE_FRONTEND), scannedPartitions: [...scannedPartitions] };
}

/** Refuses, before a byte is written, a disk whose size is not the one the user confirmed (another disk behind the same port). */
export async function assertConfirmedSize(expectedBytes: number): Promise<number> {
  const diskBytes = (await deviceSectors(SOURCE_DEVICE_PATH)) * 512;
  if (diskBytes !== expectedBytes) {
    throw new OperationError(`the source disk now holds ${diskBytes} bytes, not the ${expectedBytes} bytes that were confirmed: refusing to write (was the disk replaced?)`);
  }
  return diskBytes;
}
