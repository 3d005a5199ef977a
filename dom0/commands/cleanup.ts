// `cleanup`: finishes what interrupted commands left: records of attaches, detaches and overwrites stuck half-way are torn down,
// and DisposableVMs of ours that no record names are removed. Destination DisposableVMs of complete attachments are never
// touched. Each record is handled under its source's lock, so a command still running (an attach waiting for its passphrase)
// is left alone, and so are its VMs.
import { DISPVM_NAME, ownerRole, POOLED_DISPVM_NAME, type DispVmRole } from '../dispvms.ts';
import { liveLockHolders, LockHeldError, takeSourceLock, type SourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { info, warning } from '../output.ts';
import type { Qubes } from '../qubes.ts';
import type { CommandContext } from '../command-context.ts';
import { listAttachmentStates, readAttachmentState, removeAttachmentState, vmsNamedBy, vmsSharedWith, type AttachmentPhase, type AttachmentState } from '../state.ts';
import { destroyAndReport, tearDown } from '../attachment.ts';
import { removeUnclaimedHandOuts } from '../preloaded.ts';

const RUNNING: Readonly<Record<AttachmentPhase, string>> = {
  attaching: 'an attach',
  attached: 'a command',
  detaching: 'a detach',
  overwriting: 'an overwrite',
  inspecting: 'an inspect',
};

/**
 * What became of one record: cleaned (`leftAlone`: qubes now bearing its VMs' names that are not its VMs), still in use (the VMs
 * of `state` must stay), or gone meanwhile.
 */
type RecordOutcome =
  | { readonly kind: 'gone' }
  | { readonly kind: 'cleaned'; readonly leftAlone: readonly string[] }
  | { readonly kind: 'in use'; readonly state: AttachmentState };

/** Tears down one record stuck half-way, under its source's lock; a live command's record is left alone. */
async function cleanRecord(qubes: Qubes, state: AttachmentState, all: readonly AttachmentState[]): Promise<RecordOutcome> {
  const label = sourceLabel(state.source);
  let lock: SourceLock;
  try {
    lock = await takeSourceLock(state.source);
  } catch (error) {
    if (error instanceof LockHeldError) info(`${label}: ${RUNNING[state.phase]} is still running (pid ${error.pid}); left alone`);
    else warning(`${label}: ${(error as Error).message}; left alone`);
    return { kind: 'in use', state };
  }
  try {
    // Read again under the lock: the command we saw may have finished (attached, or its record removed) meanwhile.
    const current = await readAttachmentState(state.source);
    if (!current) return { kind: 'gone' };
    if (current.phase === 'attached') return { kind: 'in use', state: current };
    const shared = vmsSharedWith(current, all);
    if (shared.length > 0) {
      warning(`the record of ${label} names ${shared.join(', ')}, which another record names too; left alone (remove the record that is not yours)`);
      return { kind: 'in use', state: current };
    }
    const leftAlone = await tearDown(qubes, current);
    await removeUnclaimedHandOuts(qubes, current, new Set(all.filter((other) => other !== state).flatMap(vmsNamedBy)));
    await removeAttachmentState(current.source);
    info(`cleaned up the ${current.phase === 'overwriting' || current.phase === 'inspecting' ? `interrupted ${current.phase === 'overwriting' ? 'overwrite' : 'inspect'}` : `${current.phase} attachment`} of ${label}`);
    return { kind: 'cleaned', leftAlone };
  } finally {
    await lock.release();
  }
}

/** The role of a qube that is ours by its name (named DisposableVMs) or by our tag (pooled ones), or undefined. */
async function leftoverRole(qubes: Qubes, name: string): Promise<DispVmRole | undefined> {
  const match = DISPVM_NAME.exec(name);
  if (match) return match[1] as DispVmRole;
  return POOLED_DISPVM_NAME.test(name) ? ownerRole(await qubes.listTags(name)) : undefined;
}

/**
 * Removes DisposableVMs of ours (by name, or for pooled ones by our tag, and by class) that no record names: what a command
 * killed between qvm-create (or a hand-out) and its record left. While any command runs, unrecorded ones may be its own and
 * stay; `spared` names stay too.
 */
async function removeLeftovers(qubes: Qubes, spared: ReadonlySet<string>): Promise<number> {
  const live = await liveLockHolders();
  let removed = 0;
  for (const vm of await qubes.listVMs()) {
    if (spared.has(vm.name)) continue;
    const role = await leftoverRole(qubes, vm.name);
    if (role === undefined) continue;
    if (vm.vmClass !== 'DispVM') {
      warning(`${vm.name} is named or tagged like a DisposableVM of qvm-block-split but is a ${vm.vmClass}; left alone`);
      continue;
    }
    if (role === 'destination') {
      warning(`${vm.name} is a destination DisposableVM no attachment uses; it may hold your work, so it is left alone`);
      continue;
    }
    // Why: a command records a VM a moment after qvm-create; until then only its lock says the VM may be its own.
    if (live.length > 0) {
      info(`${vm.name} is named by no record, but a qvm-block-split command is running (pid ${live.join(', ')}); left alone`);
      continue;
    }
    // Known from here on by the uuid it has now: destroyRecordedDispVM reads it again before each step.
    const uuid = await qubes.vmUuid(vm.name);
    if (uuid !== undefined && (await destroyAndReport(qubes, { name: vm.name, uuid }, true))) removed++;
  }
  return removed;
}

export async function cleanupCommand({ qubes }: CommandContext): Promise<void> {
  const states = await listAttachmentStates();
  let cleaned = 0;
  // Names that leftover removal must not touch: VMs of records still in use, and qubes a record's teardown found not to be ours
  // (a reused name: its record said another uuid).
  const spared = new Set<string>();
  for (const state of states) {
    // Complete attachments are detach's business: cleanup neither locks nor touches them.
    const outcome: RecordOutcome = state.phase === 'attached' ? { kind: 'in use', state } : await cleanRecord(qubes, state, states);
    if (outcome.kind === 'cleaned') cleaned++;
    for (const name of outcome.kind === 'in use' ? vmsNamedBy(outcome.state) : outcome.kind === 'cleaned' ? outcome.leftAlone : []) spared.add(name);
  }
  cleaned += await removeLeftovers(qubes, spared);
  if (cleaned === 0) info('nothing to clean up');
}
