// `status`: every split attachment this dom0 knows, checked against the running VMs. Exit code: the number of broken attachments.
import { OperationError } from '../../shared/errors.ts';
import { sourceLabel, type SourceSpec } from '../names.ts';
import { isRunning } from '../qubes.ts';
import { listAttachmentStates, type AttachmentState } from '../state.ts';

interface StatusRow {
  readonly state: AttachmentState;
  readonly problems: readonly string[];
}

async function check(state: AttachmentState): Promise<StatusRow> {
  const problems: string[] = [];
  if (state.phase !== 'attached') problems.push(`${state.phase} (interrupted? run 'qvm-block-split cleanup')`);
  if (state.deviceVm && !(await isRunning(state.deviceVm))) problems.push(`device VM ${state.deviceVm} is not running`);
  if (state.destination && !(await isRunning(state.destination.vm))) problems.push(`destination ${state.destination.vm} is not running`);
  return { state, problems };
}

function describe({ state, problems }: StatusRow): string {
  const columns = [
    sourceLabel(state.source),
    `device-vm=${state.deviceVm || '-'}`,
    `mapping=${state.mapping ? `${state.deviceVm}:${state.mapping.device}` : '-'}`,
    `destination=${state.destination?.vm ?? '-'}`,
    `read-only=${state.readOnly ? 'yes' : 'no'}`,
    `state=${problems.length === 0 ? 'ok' : problems.join('; ')}`,
  ];
  return columns.join('  ');
}

/** Prints one line per attachment; returns the number of attachments with problems. */
export async function statusCommand(source: SourceSpec | undefined): Promise<number> {
  const states = (await listAttachmentStates()).filter(
    (state) => !source || (state.source.backend === source.backend && state.source.port === source.port),
  );
  if (source && states.length === 0) throw new OperationError(`${sourceLabel(source)} is not attached by qvm-block-split`);
  const rows = await Promise.all(states.map(check));
  for (const row of rows) process.stdout.write(`${describe(row)}\n`);
  return rows.filter((row) => row.problems.length > 0).length;
}
