// `status`: every split attachment this dom0 knows (and every overwrite in progress), checked against the running VMs and against
// the source's lock, which tells a command still running from one that was interrupted. Exit code: the number of broken ones.
import { OperationError } from '../../shared/errors.ts';
import { checkRecordedVm } from '../dispvms.ts';
import { lockHolder } from '../lock.ts';
import type { StatusCommand } from '../cli.ts';
import { sourceLabel } from '../names.ts';
import { info } from '../output.ts';
import type { Qubes } from '../qubes.ts';
import type { CommandContext } from '../command-context.ts';
import { listAttachmentStates, recordedVm, type AttachmentState } from '../state.ts';

interface StatusRow {
  readonly state: AttachmentState;
  /** "attaching (pid N, in progress)" while the command that writes the record still runs. */
  readonly progress: string | undefined;
  readonly problems: readonly string[];
}

/** The pid of the live command holding the source's lock, or why the lock cannot be read; undefined when no command runs. */
async function liveHolder(state: AttachmentState): Promise<{ pid: number } | { problem: string } | undefined> {
  try {
    const holder = await lockHolder(state.source);
    return holder?.alive ? { pid: holder.pid } : undefined;
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

async function checkDevice(qubes: Qubes, state: AttachmentState): Promise<string | undefined> {
  const device = recordedVm(state, state.deviceVm);
  if (!device) return undefined;
  const identity = await checkRecordedVm(qubes, device);
  if (identity.kind === 'refused') return identity.reason;
  if (identity.kind === 'gone' || !(await qubes.isRunning(device.name))) return `device VM ${device.name} is not running`;
  return undefined;
}

async function check(qubes: Qubes, state: AttachmentState): Promise<StatusRow> {
  const problems: string[] = [];
  if (state.phase !== 'attached') {
    const holder = await liveHolder(state);
    // A command still at work: its VMs may be starting, nothing is broken, and cleanup would leave it alone anyway.
    if (holder && 'pid' in holder) return { state, progress: `${state.phase} (pid ${holder.pid}, in progress)`, problems };
    if (holder) problems.push(holder.problem);
    problems.push(`${state.phase} (interrupted? run 'qvm-block-split cleanup')`);
  }
  const device = state.deviceVm ? await checkDevice(qubes, state) : undefined;
  if (device) problems.push(device);
  if (state.destination && !(await qubes.isRunning(state.destination.vm))) problems.push(`destination ${state.destination.vm} is not running`);
  return { state, progress: undefined, problems };
}

function describe({ state, progress, problems }: StatusRow): string {
  const columns = [
    sourceLabel(state.source),
    // R4.3's identity, when the attach named one: the device Qubes attached is the one that has it.
    ...(state.source.deviceId === undefined ? [] : [`device-id=${state.source.deviceId}`]),
    `device-vm=${state.deviceVm || '-'}`,
    `mapping=${state.mapping ? `${state.deviceVm}:${state.mapping.device}` : '-'}`,
    // vm:xvdi, Qubes' own notation, when the destination's device name is known.
    `destination=${state.destination ? `${state.destination.vm}${state.destination.frontend ? `:${state.destination.frontend}` : ''}` : '-'}`,
    `read-only=${state.readOnly ? 'yes' : 'no'}`,
    `state=${problems.length > 0 ? problems.join('; ') : (progress ?? 'ok')}`,
  ];
  return columns.join('  ');
}

/** Prints one line per attachment; returns the number of attachments with problems. */
export async function statusCommand({ source }: StatusCommand, { qubes }: CommandContext): Promise<number> {
  const states = (await listAttachmentStates()).filter(
    (state) => !source || (state.source.backend === source.backend && state.source.port === source.port),
  );
  if (source && states.length === 0) throw new OperationError(`${sourceLabel(source)} is not attached by qvm-block-split`);
  // On stderr, so that scripts reading stdout still see nothing to parse.
  if (states.length === 0) info('nothing is attached by qvm-block-split');
  const rows = await Promise.all(states.map((state) => check(qubes, state)));
  for (const row of rows) process.stdout.write(`${describe(row)}\n`);
  return rows.filter((row) => row.problems.length > 0).length;
}
