// The DisposableVMs a command creates: named like the original's (dm-<role>-dispNNNNNNNN), offline, started concurrently,
// each registered on the clean-up stack the moment it exists and known from then on by the uuid Qubes gave it. A qube is
// destroyed only while the qube of that name is still the one we created: a name can be reused, a uuid cannot.
import { randomInt } from 'node:crypto';
import { OperationError } from '../shared/errors.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { warning } from './output.ts';
import { createDispVM, isRunning, killVM, removeVM, startVM, vmClass, vmExists, vmUuid } from './qubes.ts';

export type DispVmRole = 'device' | 'header' | 'verify' | 'destination';

/**
 * Names of the DisposableVMs this tool creates; `cleanup` recognizes leftovers by it, and a record may name no other qube.
 * Eight random digits (27 characters for the longest role, within Qubes' 31): a name that is hard to guess ahead is hard
 * to create ahead.
 */
export const DISPVM_NAME = /^dm-(device|header|verify|destination)-disp[0-9]{8}$/;

/** A DisposableVM this tool created: its name, and the uuid Qubes gave it at creation. */
export interface DispVmIdentity {
  readonly name: string;
  readonly uuid: string;
}

/** What destroying a DisposableVM came to: removed, already gone, or refused because the name now belongs to another qube. */
export type DestroyOutcome = { readonly kind: 'removed' | 'gone' } | { readonly kind: 'refused'; readonly reason: string };

const newName = (role: DispVmRole): string => `dm-${role}-disp${String(randomInt(100_000_000)).padStart(8, '0')}`;

async function freshName(role: DispVmRole): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = newName(role);
    if (!(await vmExists(name))) return name;
  }
  return newName(role);
}

/** Kills `name`, once more if the first kill failed and it still runs; removes it if auto_cleanup did not (after `stillOurs`). */
async function killAndRemove(name: string, stillOurs: () => Promise<DestroyOutcome | undefined>): Promise<DestroyOutcome> {
  try {
    await killVM(name);
  } catch {
    // Why a second try: one failed qvm-kill (qubesd busy, a timeout) must not leave a VM that holds the source disk running.
    // A qube that is halted needs none (a qube already gone is not a failure: killVM answers already-undone).
    if (await isRunning(name)) await killVM(name);
  }
  if (!(await vmExists(name))) return { kind: 'removed' };
  // Still running here (a kill that timed out while qubesd was busy, seen as not running a moment before): once more, since
  // qvm-remove refuses a running qube and a running one may hold the source disk.
  if (await isRunning(name)) {
    await killVM(name);
    if (!(await vmExists(name))) return { kind: 'removed' };
  }
  const refused = await stillOurs();
  if (refused) return refused;
  await removeVM(name);
  return { kind: 'removed' };
}

/** A qube's uuid, asked twice before giving up: one failed query must not keep a clean-up from running. */
async function uuidOrUnknown(name: string): Promise<string | undefined | 'unknown'> {
  try {
    return await vmUuid(name);
  } catch {
    return vmUuid(name).catch(() => 'unknown' as const);
  }
}

type Refused = Extract<DestroyOutcome, { kind: 'refused' }>;
const otherQube = (name: string, whose: string, reason: string): Refused => ({ kind: 'refused', reason: `${name} is not the DisposableVM ${whose}: ${reason}` });

/**
 * Kills and removes a DisposableVM this command created. Before its uuid is known it goes by name (we made it); after, a qube
 * of that name with another uuid is left alone (ours is gone and the name was taken), with a warning. Why Qubes not
 * answering is no reason to stop: this is the command's own VM, and left running it may hold the source disk.
 */
export async function destroyDispVM(vm: { readonly name: string; readonly uuid?: string | undefined }): Promise<DestroyOutcome> {
  const { name, uuid } = vm;
  if (uuid !== undefined) {
    const now = await uuidOrUnknown(name);
    if (now === undefined) return { kind: 'gone' };
    if (now !== 'unknown' && now !== uuid) {
      const refused = otherQube(name, 'this command created', `its uuid is ${now}, not ${uuid}`);
      warning(`${refused.reason}; left alone`);
      return refused;
    }
  }
  return killAndRemove(name, async () => undefined);
}

/** Whether the qube called `vm.name` is still the DisposableVM a record names: same uuid, class DispVM; or gone. */
export async function checkRecordedVm(vm: DispVmIdentity): Promise<DestroyOutcome | { readonly kind: 'same' }> {
  const uuid = await vmUuid(vm.name);
  if (uuid === undefined) return { kind: 'gone' };
  if (uuid !== vm.uuid) return otherQube(vm.name, 'the record names', `its uuid is ${uuid}, the record says ${vm.uuid}`);
  const klass = await vmClass(vm.name);
  if (klass === undefined) return { kind: 'gone' };
  if (klass !== 'DispVM') return otherQube(vm.name, 'the record names', `it is a ${klass}, not a DispVM`);
  return { kind: 'same' };
}

/**
 * Kills and removes a DisposableVM an attachment record names, only while it is the very qube recorded (uuid and class, read
 * again before the kill and before the removal); a failed query is an error, never a reason to go ahead. The caller reports.
 */
export async function destroyRecordedDispVM(vm: DispVmIdentity): Promise<DestroyOutcome> {
  const before = await checkRecordedVm(vm);
  if (before.kind !== 'same') return before;
  return killAndRemove(vm.name, async () => {
    const again = await checkRecordedVm(vm);
    return again.kind === 'same' ? undefined : again;
  });
}

/**
 * Creates and starts one offline DisposableVM per role, all at once; each is on `stack` from its creation on, and `onCreated`
 * hears its identity (awaited, so a record names it before it starts). Each start is bounded by START_TIMEOUT_S (qubes.ts
 * reads it from the time limits main() set), creation by the tool limit.
 */
export async function startDispVMs<R extends DispVmRole>(
  roles: readonly R[],
  template: string,
  label: string,
  stack: CleanupStack,
  onCreated?: (vm: DispVmIdentity) => unknown,
): Promise<Record<R, string>> {
  const started = await Promise.allSettled(
    roles.map(async (role) => {
      const name = await freshName(role);
      await createDispVM(name, template, label);
      let uuid: string | undefined;
      stack.defer(`remove DisposableVM ${name}`, () => destroyDispVM({ name, uuid }));
      uuid = await vmUuid(name);
      // Why an error: we created it a moment ago; a qube that is not there now is not one we can vouch for.
      if (uuid === undefined) throw new OperationError(`DisposableVM ${name} vanished right after qvm-create`);
      await onCreated?.({ name, uuid });
      await startVM(name);
      return [role, name] as const;
    }),
  );
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return Object.fromEntries(started.map((result) => (result as PromiseFulfilledResult<readonly [R, string]>).value)) as Record<R, string>;
}
