// `detach`: undoes an attachment (attachment.ts tearDown) under the source's lock; a failed or interrupted detach can simply be
// run again. The destination qube is left as it is, as in the original.
import { OperationError } from '../../shared/errors.ts';
import { detachRecorded } from '../attachment.ts';
import type { CommandContext } from '../command-context.ts';
import { acquireSourceLock } from '../lock.ts';
import type { DetachCommand } from '../cli.ts';
import { sourceLabel } from '../names.ts';
import { info, notice } from '../output.ts';
import { readAttachmentState } from '../state.ts';

export async function detachCommand({ source }: DetachCommand, { stack, qubes }: CommandContext): Promise<void> {
  const label = sourceLabel(source);
  await acquireSourceLock(source, stack);
  const state = await readAttachmentState(source);
  if (!state) throw new OperationError(`${label} is not attached by qvm-block-split (see 'qvm-block-split status')`);
  if (state.phase === 'attaching') throw new OperationError(`${label} is half attached (an attach was interrupted): run 'qvm-block-split cleanup'`);
  if (state.phase === 'overwriting' || state.phase === 'inspecting') {
    throw new OperationError(`${label} is not attached (${state.phase === 'overwriting' ? 'an overwrite' : 'an inspect'} was interrupted): run 'qvm-block-split cleanup'`);
  }
  const leftAlone = await detachRecorded(qubes, state);
  const device = leftAlone.includes(state.deviceVm) ? `the qube now called ${state.deviceVm} is not its device VM and was left alone` : `device VM ${state.deviceVm} removed`;
  info(`detached ${label}${state.destination ? ` from ${state.destination.vm}` : ''}; ${device}`);
  // The default destination is a DisposableVM of ours that may hold the user's work: it is never closed for them.
  if (state.destination?.createdByUs) notice(`${state.destination.vm} keeps running (it may hold your work): close its programs, or 'qvm-kill ${state.destination.vm}' when done`);
}
