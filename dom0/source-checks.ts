// Checks on the source device before any VM is created, so a typo costs nothing. qvm-block's listing is used only to tell the user
// early; the attachment itself is what really decides (Qubes refuses a missing or busy device).
import { OperationError } from '../shared/errors.ts';
import { sourceLabel, type SourceSpec } from './names.ts';
import { isRunning, listBlocks } from './qubes.ts';

export async function assertSourceAvailable(source: SourceSpec): Promise<void> {
  const label = sourceLabel(source);
  if (!(await isRunning(source.backend))) throw new OperationError(`${source.backend} is not running, so ${label} does not exist`);
  const device = (await listBlocks()).find((entry) => entry.backend === source.backend && entry.port === source.port);
  if (!device) throw new OperationError(`there is no block device ${label} (see 'qvm-block list')`);
  if (device.usedBy) throw new OperationError(`${label} is already attached to ${device.usedBy.vm}`);
}
