// Undoing an attachment: every step of an attachment record, reversed, each tolerant of having been done already, so that a
// failed or interrupted teardown can simply run again. Which Qubes answers mean "already undone" the adapter decides (qubes.ts
// detachBlock, killVM, removeVM); the device VM's DeviceClose counts a mapping that is gone as removed. Used by detach, cleanup
// and (for a drive that went away) watch. What a record names is acted on only while it is still the qube we created
// (destroyRecordedDispVM): a record is a file, and files can be planted.
import { OperationError } from '../shared/errors.ts';
import { closeMapping } from './device-steps.ts';
import { checkRecordedVm, destroyRecordedDispVM, type DispVmIdentity } from './dispvms.ts';
import { sourceLabel } from './names.ts';
import { info, warning } from './output.ts';
import type { Qubes } from './qubes.ts';
import { listAttachmentStates, recordedVm, removeAttachmentState, vmsSharedWith, writeAttachmentState, type AttachmentState } from './state.ts';

/** Destroys a DisposableVM a record names and says what became of it; false when the qube of that name is not ours (left, warned). */
export async function destroyAndReport(qubes: Qubes, vm: DispVmIdentity, leftover = false): Promise<boolean> {
  const outcome = await destroyRecordedDispVM(qubes, vm);
  if (outcome.kind === 'removed') info(`removed ${leftover ? 'leftover ' : ''}DisposableVM ${vm.name} (uuid ${vm.uuid})`);
  if (outcome.kind === 'refused') warning(`${outcome.reason}; left alone`);
  return outcome.kind !== 'refused';
}

/** Whether the device VM a record names still runs and is still the qube recorded (else nothing may be done in or to it). */
async function deviceStillOurs(qubes: Qubes, state: AttachmentState): Promise<boolean> {
  const device = state.deviceVm === '' ? undefined : recordedVm(state, state.deviceVm);
  if (!device) return false;
  // A mismatch is reported once, by destroyAndReport below.
  return (await checkRecordedVm(qubes, device)).kind === 'same' && (await qubes.isRunning(device.name));
}

/**
 * Tears down everything an attachment record names: destination attachment, mapping, source attachment, device VM. Once the
 * mapping is gone, `persist` hears of it, so that a run after a later failure does not look for the mapping again. Returns the
 * DisposableVMs left alone because their name now belongs to another qube.
 */
export async function tearDown(qubes: Qubes, state: AttachmentState, persist: (state: AttachmentState) => Promise<void> = async () => undefined): Promise<string[]> {
  const deviceRunning = await deviceStillOurs(qubes, state);
  if (state.destination && state.mapping && deviceRunning) {
    const { vm } = state.destination;
    await qubes.detachBlock(vm, state.deviceVm, state.mapping!.device);
  }
  if (state.mapping && deviceRunning) {
    await closeMapping(qubes, state.deviceVm, state.mapping!.name);
    await persist({ ...state, mapping: null });
  }
  if (deviceRunning) await qubes.detachBlock(state.deviceVm, state.source.backend, state.source.port);
  const leftAlone: string[] = [];
  for (const vm of state.createdVms) {
    // The destination DisposableVM stays: the user may still be working in it (it goes away when they close it).
    if (state.phase !== 'attaching' && state.destination?.vm === vm.name) continue;
    if (!(await destroyAndReport(qubes, vm))) leftAlone.push(vm.name);
  }
  return leftAlone;
}

/** Refuses a record that names a DisposableVM another record names too: one of them is not ours, and we cannot tell which. */
export async function assertNoSharedVms(state: AttachmentState): Promise<void> {
  const shared = vmsSharedWith(state, await listAttachmentStates(() => undefined));
  if (shared.length > 0) {
    throw new OperationError(`the record of ${sourceLabel(state.source)} names ${shared.join(', ')}, which another record names too: remove the record that is not yours`);
  }
}

/**
 * Undoes an attached record (the caller holds the source's lock): refuses a record that shares a VM with another, marks it
 * detaching (so an interruption is finished by `cleanup`), tears it down and removes the record. Returns the VMs left alone.
 */
export async function detachRecorded(qubes: Qubes, state: AttachmentState): Promise<string[]> {
  await assertNoSharedVms(state);
  await writeAttachmentState({ ...state, phase: 'detaching' });
  const leftAlone = await tearDown(qubes, { ...state, phase: 'detaching' }, writeAttachmentState);
  await removeAttachmentState(state.source);
  return leftAlone;
}
