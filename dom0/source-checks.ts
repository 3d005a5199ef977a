// Checks on the source device before any VM is created, so a typo costs nothing. qvm-block's listing is read only to say
// early that the device does not exist, and to show Qubes' words for it before a destructive command asks; whether it is free
// is left to `qvm-block attach`, which refuses a device attached elsewhere ("already attached to ...") with qubesd's own
// knowledge. The listing cannot say it reliably: a description can imitate a "used by" column (qubes-listings.ts).
import { OperationError } from '../shared/errors.ts';
import { sourceLabel, type SourceSpec } from './names.ts';
import type { Qubes } from './qubes.ts';
import { readAttachmentState } from './state.ts';

/**
 * The source is not ours already and exists; returns the rest of its row in Qubes' listing (description, and who uses it if
 * anyone), raw. Called with the source's lock held, so no other command of ours is between this check and the record's start.
 */
export async function assertSourceAvailable(qubes: Qubes, source: SourceSpec): Promise<string> {
  const label = sourceLabel(source);
  // Our own record, not the listing, says whether we hold it: a second command must not take over (and then drop) its record.
  const state = await readAttachmentState(source);
  if (state) throw new OperationError(`${label} is already ${state.phase === 'attached' ? 'attached' : `held (${state.phase})`} by qvm-block-split: see 'qvm-block-split status'`);
  // Both asked at once (two tool calls on every command's critical path); the listing counts only when the qube runs.
  const [running, listed] = await Promise.all([qubes.isRunning(source.backend), qubes.listBlocks(source.backend).then((rows) => ({ rows }), (error: unknown) => ({ error }))]);
  if (!running) throw new OperationError(`${source.backend} is not running, so ${label} does not exist`);
  if ('error' in listed) throw listed.error;
  const device = listed.rows.find((entry) => entry.backend === source.backend && entry.port === source.port);
  if (!device) throw new OperationError(`there is no block device ${label} (see 'qvm-block list')`);
  return device.rest;
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
