// `detach`: undoes an attachment in reverse order, each step tolerant of having been done already, so a failed or interrupted
// detach can simply be run again. The destination qube is left as it is, as in the original.
import { OperationError } from '../../shared/errors.ts';
import type { CleanupStack } from '../cleanup-stack.ts';
import { closeMapping } from '../device-steps.ts';
import { destroyDispVM } from '../dispvms.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel, type SourceSpec } from '../names.ts';
import { info } from '../output.ts';
import { detachBlock, isRunning } from '../qubes.ts';
import { readAttachmentState, removeAttachmentState, writeAttachmentState, type AttachmentState } from '../state.ts';

/** Runs an undo step, treating "already undone" answers from Qubes as success. */
async function idempotent(step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // "doesn't expose": the backend no longer offers the device (a mapping already removed), so nothing is attached from it.
    if (/not attached|not assigned|no such|does not exist|not running|not found|No such device|doesn't expose|does not expose/i.test(text)) return;
    throw error;
  }
}

/**
 * Tears down everything an attachment record names: destination attachment, mapping, source attachment, device VM. Once the
 * mapping is gone, `persist` hears of it, so that a run after a later failure does not look for the mapping again.
 */
export async function tearDown(state: AttachmentState, persist: (state: AttachmentState) => Promise<void> = async () => undefined): Promise<void> {
  const deviceRunning = state.deviceVm !== '' && (await isRunning(state.deviceVm));
  if (state.destination && state.mapping && deviceRunning) {
    const { vm } = state.destination;
    await idempotent(() => detachBlock(vm, state.deviceVm, state.mapping!.device));
  }
  if (state.mapping && deviceRunning) {
    await idempotent(() => closeMapping(state.deviceVm, state.mapping!.name));
    await persist({ ...state, mapping: null });
  }
  if (deviceRunning) await idempotent(() => detachBlock(state.deviceVm, state.source.backend, state.source.port));
  for (const vm of state.createdVms) {
    // The destination DisposableVM stays: the user may still be working in it (it goes away when they close it).
    if (state.phase !== 'attaching' && state.destination?.vm === vm) continue;
    await destroyDispVM(vm);
  }
}

export async function detachCommand(source: SourceSpec, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(source);
  await acquireSourceLock(source, stack);
  const state = await readAttachmentState(source);
  if (!state) throw new OperationError(`${label} is not attached by qvm-block-split (see 'qvm-block-split status')`);
  if (state.phase === 'attaching') throw new OperationError(`${label} is half attached (an attach was interrupted): run 'qvm-block-split cleanup'`);
  await writeAttachmentState({ ...state, phase: 'detaching' });
  await tearDown({ ...state, phase: 'detaching' }, writeAttachmentState);
  await removeAttachmentState(source);
  info(`detached ${label}${state.destination ? ` from ${state.destination.vm}` : ''}; device VM ${state.deviceVm} removed`);
}
