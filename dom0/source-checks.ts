// Checks on the source device before any VM is created, so a typo costs nothing. qvm-block's listing is used only to tell the user
// early (and to show Qubes' description of the device before a destructive command asks); the attachment itself is what really
// decides (Qubes refuses a missing or busy device).
import { OperationError } from '../shared/errors.ts';
import { sourceLabel, type SourceSpec } from './names.ts';
import { isRunning, listBlocks } from './qubes.ts';

/** The source exists and is free; returns Qubes' description of it ("SanDisk_Cruzer ()"), sanitized by the listing parser. */
export async function assertSourceAvailable(source: SourceSpec): Promise<string> {
  const label = sourceLabel(source);
  if (!(await isRunning(source.backend))) throw new OperationError(`${source.backend} is not running, so ${label} does not exist`);
  const device = (await listBlocks()).find((entry) => entry.backend === source.backend && entry.port === source.port);
  if (!device) throw new OperationError(`there is no block device ${label} (see 'qvm-block list')`);
  if (device.usedBy) throw new OperationError(`${label} is already attached to ${device.usedBy.vm}`);
  return device.description;
}

/** "8388608 bytes (8.0 MiB)". */
export function sizeWords(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${value.toFixed(1)} ${unit})`;
}
