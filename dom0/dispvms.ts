// The DisposableVMs a command creates: named like the original's (dm-<role>-dispNNNNNNNN), offline, started concurrently,
// each registered on the clean-up stack the moment it exists and known from then on by the uuid Qubes gave it. A qube is
// destroyed only while the qube of that name is still the one we created: a name can be reused, a uuid cannot.
import { randomInt } from 'node:crypto';
import { OperationError } from '../shared/errors.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { allInOrder } from './all-in-order.ts';
import { OwnStart } from './own-start.ts';
import { warning } from './output.ts';
import { VmExistsError, type Qubes } from './qubes.ts';

export type DispVmRole = 'device' | 'header' | 'verify' | 'destination';

/**
 * Names of the DisposableVMs this tool creates; `cleanup` recognizes leftovers by it, and a record may name no other qube.
 * Eight random digits (27 characters for the longest role, within Qubes' 31): a name that is hard to guess ahead is hard
 * to create ahead.
 */
export const DISPVM_NAME = /^dm-(device|header|verify|destination)-disp[0-9]{8}$/;

/**
 * Names of the disposables R4.3 hands out from a preloaded pool (qubes-core-admin qubes/vm/dispvm.py: "disp" + dispid, 0..9999).
 * Such a name says nothing about who holds the qube: only our tag (ownerTag) does, and a record may name one only with it.
 */
export const POOLED_DISPVM_NAME = /^disp[0-9]{1,4}$/;

/** The tag each pooled disposable this tool took gets the moment its name is known: its role, for cleanup. */
export const ownerTag = (role: DispVmRole): string => `qvm-block-split-${role}`;
const OWNER_TAG = /^qvm-block-split-(device|header|verify|destination)$/;

/** The role our tag gives a qube, or undefined when it has none of ours. */
export function ownerRole(tags: readonly string[]): DispVmRole | undefined {
  for (const tag of tags) {
    const match = OWNER_TAG.exec(tag);
    if (match) return match[1] as DispVmRole;
  }
  return undefined;
}

/** Whether a record may name the qube `name`: one of our named DisposableVMs, or a pooled one. */
export const isOurDispVmName = (name: string): boolean => DISPVM_NAME.test(name) || POOLED_DISPVM_NAME.test(name);

/** A DisposableVM this tool created: its name, and the uuid Qubes gave it at creation. */
export interface DispVmIdentity {
  readonly name: string;
  readonly uuid: string;
}

/** What destroying a DisposableVM came to: removed, already gone, or refused because the name now belongs to another qube. */
export type DestroyOutcome = { readonly kind: 'removed' | 'gone' } | { readonly kind: 'refused'; readonly reason: string };

const newName = (role: DispVmRole): string => `dm-${role}-disp${String(randomInt(100_000_000)).padStart(8, '0')}`;

/**
 * Creates a DisposableVM for `role` under a new random name. Why no existence check first: it would cost a qubesd call on every
 * attach's critical path for a clash of one in 10^8; qvm-create refuses a taken name without creating anything, and then another is tried.
 */
async function createFresh(qubes: Qubes, role: DispVmRole, template: string, label: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const name = newName(role);
    try {
      await qubes.createDispVM(name, template, label);
      return name;
    } catch (error) {
      if (!(error instanceof VmExistsError) || attempt >= 5) throw error;
    }
  }
}

/** Kills `name`, once more if the first kill failed and it still runs; removes it if auto_cleanup did not (after `stillOurs`). */
async function killAndRemove(qubes: Qubes, name: string, stillOurs: () => Promise<DestroyOutcome | undefined>): Promise<DestroyOutcome> {
  try {
    await qubes.killVM(name);
  } catch {
    // Why a second try: one failed qvm-kill (qubesd busy, a timeout) must not leave a VM that holds the source disk running.
    // A qube that is halted needs none (a qube already gone is not a failure: killVM answers already-undone).
    if (await qubes.isRunning(name)) await qubes.killVM(name);
  }
  if (!(await qubes.vmExists(name))) return { kind: 'removed' };
  // Still running here (a kill that timed out while qubesd was busy, seen as not running a moment before): once more, since
  // qvm-remove refuses a running qube and a running one may hold the source disk.
  if (await qubes.isRunning(name)) {
    await qubes.killVM(name);
    if (!(await qubes.vmExists(name))) return { kind: 'removed' };
  }
  const refused = await stillOurs();
  if (refused) return refused;
  await qubes.removeVM(name);
  return { kind: 'removed' };
}

/** A qube's uuid, asked twice before giving up: one failed query must not keep a clean-up from running. */
async function uuidOrUnknown(qubes: Qubes, name: string): Promise<string | undefined | 'unknown'> {
  try {
    return await qubes.vmUuid(name);
  } catch {
    return qubes.vmUuid(name).catch(() => 'unknown' as const);
  }
}

type Refused = Extract<DestroyOutcome, { kind: 'refused' }>;
const otherQube = (name: string, whose: string, reason: string): Refused => ({ kind: 'refused', reason: `${name} is not the DisposableVM ${whose}: ${reason}` });

/**
 * Kills and removes a DisposableVM this command created. Before its uuid is known it goes by name (we made it); after, a qube
 * of that name with another uuid is left alone (ours is gone and the name was taken), with a warning. Why Qubes not
 * answering is no reason to stop: this is the command's own VM, and left running it may hold the source disk.
 */
export async function destroyDispVM(qubes: Qubes, vm: { readonly name: string; readonly uuid?: string | undefined }): Promise<DestroyOutcome> {
  const { name, uuid } = vm;
  if (uuid !== undefined) {
    const now = await uuidOrUnknown(qubes, name);
    if (now === undefined) return { kind: 'gone' };
    if (now !== 'unknown' && now !== uuid) {
      const refused = otherQube(name, 'this command created', `its uuid is ${now}, not ${uuid}`);
      warning(`${refused.reason}; left alone`);
      return refused;
    }
  }
  return killAndRemove(qubes, name, async () => undefined);
}

/** Whether the qube called `vm.name` is still the DisposableVM a record names: same uuid, class DispVM; or gone. */
export async function checkRecordedVm(qubes: Qubes, vm: DispVmIdentity): Promise<DestroyOutcome | { readonly kind: 'same' }> {
  const uuid = await qubes.vmUuid(vm.name);
  if (uuid === undefined) return { kind: 'gone' };
  if (uuid !== vm.uuid) return otherQube(vm.name, 'the record names', `its uuid is ${uuid}, the record says ${vm.uuid}`);
  const klass = await qubes.vmClass(vm.name);
  if (klass === undefined) return { kind: 'gone' };
  if (klass !== 'DispVM') return otherQube(vm.name, 'the record names', `it is a ${klass}, not a DispVM`);
  // Why: a pooled name is any disposable's; the record alone (a file) must not be enough to kill one the user holds.
  if (POOLED_DISPVM_NAME.test(vm.name) && ownerRole(await qubes.listTags(vm.name)) === undefined) return otherQube(vm.name, 'the record names', 'it carries no qvm-block-split tag');
  return { kind: 'same' };
}

/**
 * Kills and removes a DisposableVM an attachment record names, only while it is the very qube recorded (uuid and class, read
 * again before the kill and before the removal); a failed query is an error, never a reason to go ahead. The caller reports.
 */
export async function destroyRecordedDispVM(qubes: Qubes, vm: DispVmIdentity): Promise<DestroyOutcome> {
  const before = await checkRecordedVm(qubes, vm);
  if (before.kind !== 'same') return before;
  return killAndRemove(qubes, vm.name, async () => {
    const again = await checkRecordedVm(qubes, vm);
    return again.kind === 'same' ? undefined : again;
  });
}

/**
 * Creates and starts one offline, named DisposableVM for `role`; it is on `stack` from its creation on, and `onCreated` hears its
 * identity (awaited, so a record names it before it starts). The start is bounded by START_TIMEOUT_S, creation by the tool limit
 * (both bound into `qubes`).
 */
export async function startNamedDispVM(qubes: Qubes, role: DispVmRole, template: string, label: string, stack: CleanupStack, onCreated?: (vm: DispVmIdentity) => unknown): Promise<string> {
  const name = await createFresh(qubes, role, template, label);
  let uuid: string | undefined;
  const start = new OwnStart(qubes, name);
  stack.defer(`remove DisposableVM ${name}`, async () => {
    await start.settled();
    return destroyDispVM(qubes, { name, uuid });
  });
  uuid = await qubes.vmUuid(name);
  // Why an error: we created it a moment ago; a qube that is not there now is not one we can vouch for.
  if (uuid === undefined) throw new OperationError(`DisposableVM ${name} vanished right after qvm-create`);
  await onCreated?.({ name, uuid });
  await start.start();
  return name;
}

/** Settles every start, then throws the first failure (each started VM is on the stack already) or returns the names by role. */
export async function allStarted<R extends string>(starts: readonly (readonly [R, Promise<string>])[]): Promise<Record<R, string>> {
  const named = await allInOrder<(readonly [R, string])[]>(starts.map(async ([role, start]) => [role, await start] as const));
  return Object.fromEntries(named) as Record<R, string>;
}

/** Creates and starts one offline, named DisposableVM per role, all at once (startNamedDispVM each). */
export function startDispVMs<R extends DispVmRole>(
  qubes: Qubes,
  roles: readonly R[],
  template: string,
  label: string,
  stack: CleanupStack,
  onCreated?: (vm: DispVmIdentity) => unknown,
): Promise<Record<R, string>> {
  return allStarted(roles.map((role) => [role, startNamedDispVM(qubes, role, template, label, stack, onCreated)] as const));
}
