// DisposableVMs from R4.3's preloaded pool: already started (and paused) by qubesd, handed out by admin.vm.CreateDisposable in
// well under a second instead of a start of several. Used only when they are as offline as the named ones: a preloaded qube
// has the disposable template's netvm from its start (QubesOS/qubes-core-admin qubes/vm/dispvm.py gen_disposable passes only
// template and auto_cleanup), and taking the network away from a running qube afterwards would not undo what it could reach
// before; so a template with a netvm means named DisposableVMs. Each qube handed out is tagged with its role the moment its
// name is known, then recorded; the hand-out itself is preceded by an intent in the record, so that a command that dies before
// it learns the name still leaves `cleanup` enough to find the qube.
import { OperationError } from '../shared/errors.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { destroyDispVM, ownerRole, ownerTag, POOLED_DISPVM_NAME, type DispVmIdentity, type DispVmRole } from './dispvms.ts';
import { runUninterruptible } from './interruption.ts';
import { OwnStart } from './own-start.ts';
import { info } from './output.ts';
import type { Qubes } from './qubes.ts';
import type { AttachmentState, HandOutIntent } from './state.ts';

/** Where a command's DisposableVMs come from. */
/** `pool`: the pool's members when it was chosen, the candidates each hand-out's intent records. */
export type DispVmSupply = { readonly kind: 'named' } | { readonly kind: 'preloaded'; readonly pool: readonly string[] };

/** The pool's members as the template's `preload-dispvm` feature lists them (dvmtemplate.py get_feat_preload). */
const poolMembers = (feature: string | undefined): string[] => (feature ?? '').split(' ').filter((name) => POOLED_DISPVM_NAME.test(name));

/**
 * dvmtemplate.py get_feat_preload_max: dom0's feature for the default_dispvm when dom0 has one, else the template's. What does
 * not depend on the template is asked at once, while the template is still being resolved; the rest as soon as it is known:
 * each is a tool call, and this is on every attach's critical path. `templateIsDefault`: the template is default_dispvm's
 * value (no TEMPLATE_FOR_DISPVMS), so that need not be asked again.
 */
async function readPool(qubes: Qubes, template: Promise<string>, templateIsDefault: boolean): Promise<{ max: number; members: string[]; netvm: string }> {
  const globalMaxAsked = qubes.getFeature('dom0', 'preload-dispvm-max');
  const defaultDispVmAsked = templateIsDefault ? undefined : qubes.getGlobalPref('default_dispvm');
  globalMaxAsked.catch(() => undefined);
  defaultDispVmAsked?.catch(() => undefined);
  const name = await template;
  const [globalMax, defaultDispVm, localMax, members, netvm] = await Promise.all([
    globalMaxAsked,
    defaultDispVmAsked,
    qubes.getFeature(name, 'preload-dispvm-max'),
    qubes.getFeature(name, 'preload-dispvm'),
    qubes.getPref(name, 'netvm'),
  ]);
  const value = (templateIsDefault || defaultDispVm === name ? globalMax : undefined) ?? localMax;
  return { max: value !== undefined && /^[0-9]{1,4}$/.test(value) ? Number(value) : 0, members: poolMembers(members), netvm };
}

/**
 * Preloaded when `template` preloads and has no netvm; named otherwise. Said (one line) only when preloading is on but not used,
 * since the user who turned it on expects it. R4.2 has no such feature unless set by hand, and then refuses the hand-out's
 * payload: startDispVM falls back for that.
 */
export async function chooseSupply(qubes: Qubes, template: Promise<string>, templateIsDefault: boolean): Promise<DispVmSupply> {
  const { max, members, netvm } = await readPool(qubes, template, templateIsDefault);
  if (max === 0) return { kind: 'named' };
  if (netvm === '') return { kind: 'preloaded', pool: members };
  info(`${await template} preloads disposables, but with netvm ${netvm} they are networked from their start: using named offline DisposableVMs instead`);
  return { kind: 'named' };
}

/** What a hand-out needs from the command's record. */
export interface HandOutLedger {
  intend(intent: HandOutIntent): Promise<unknown>;
  settle(intent: HandOutIntent): Promise<unknown>;
  add(vm: DispVmIdentity): Promise<unknown>;
}

/** A qube as qubesd describes it: name, uuid, whether it runs, netvm. */
type ListedVm = DispVmIdentity & { readonly running: boolean; readonly netvm: string };

/**
 * The qube qubesd handed out, by the uuid (its name looked for in the whole listing, then the qube asked about) or the name it
 * answered with. By uuid, the qube asked about must still have that uuid: a name freed and taken again in between is not it.
 */
async function identify(qubes: Qubes, by: { readonly uuid: string } | { readonly name: string }, template: string): Promise<ListedVm> {
  const name = 'uuid' in by ? await qubes.vmNameByUuid(by.uuid) : by.name;
  const found = name === undefined ? undefined : await qubes.vmFacts(name);
  if (!found || ('uuid' in by && found.uuid !== by.uuid)) throw new OperationError(`the disposable ${template}'s pool handed out (${'uuid' in by ? `uuid ${by.uuid}` : by.name}) is gone`);
  return { name: found.name, uuid: found.uuid, running: found.state !== 'Halted', netvm: found.netvm };
}

/** A qube handed out must be offline and called as qubesd calls its disposables, before it is given anything. */
function checkHandedOut(vm: ListedVm, role: DispVmRole, template: string): void {
  // Why check the qube and not only the template: its netvm could have been set between our look at the template and the hand-out.
  if (vm.netvm !== '') throw new OperationError(`${vm.name}, handed out by ${template}'s pool, has netvm ${vm.netvm}: refused (the ${role} VM must be offline)`);
  if (!POOLED_DISPVM_NAME.test(vm.name)) throw new OperationError(`the disposable ${template}'s pool handed out is called ${JSON.stringify(vm.name)}, not dispNNNN: refused`);
}

/** A qube obtained for a role: its name, and its bookkeeping (tag and record), which must be done before it is given anything. */
export interface ObtainedVm {
  readonly name: string;
  readonly bookkept: Promise<void>;
}

/**
 * Takes one disposable of `template`'s pool for `role` and returns its name, started. It is on `stack` from the moment qubesd
 * was asked: the hand-out runs to its end even when the command is interrupted (qubesd finishes it anyway, and only its reply
 * says which qube it was), and the undo waits for it. Its bookkeeping (`bookkept`: the checks that it is offline and ours to
 * use, its tag and record) follows while the caller goes on: the intent stays in the record until all is done, so a command
 * that dies meanwhile still leaves `cleanup` enough.
 *
 * From a pool with members (`pool`, as chooseSupply read it) the qube is asked for by name, and one of those members comes back
 * running: qubesd hands a pooled qube out only once its preloading completed, unpaused (qubes/vm/dispvm.py from_appvm and
 * get_preload). The caller may then start a step that gives it nothing of the source (DevicePrepare) while the qube is listed
 * and tagged. Otherwise (an empty pool, or a name not among the members: a new qube, not started) by uuid, listed, and
 * started first. An empty pool keeps asking by uuid so that R4.2, where the feature was set by hand, still refuses the payload
 * and the caller falls back to named DisposableVMs.
 */
export async function handOutDispVM(qubes: Qubes, role: DispVmRole, template: string, pool: readonly string[], stack: CleanupStack, ledger: HandOutLedger): Promise<ObtainedVm> {
  const intent: HandOutIntent = { role, template, candidates: [...pool], requestedAt: new Date().toISOString() };
  await ledger.intend(intent);
  const byName = pool.length > 0;
  // What the undo removes: the name first, the uuid as soon as the listing gives it (destroyDispVM then checks it is still ours).
  let handedOutVm: { name: string; uuid?: string } | undefined;
  const handedOut = runUninterruptible(async () => {
    const listed = byName ? undefined : await identify(qubes, { uuid: await qubes.createDisposable(template) }, template);
    handedOutVm = listed ?? { name: await qubes.handOutByName(template) };
    return listed;
  });
  let start: OwnStart | undefined;
  let bookkept: Promise<void> = Promise.resolve();
  stack.defer(`remove the disposable handed out for the ${role} VM`, async () => {
    await handedOut.catch(() => undefined);
    await Promise.allSettled([start?.settled(), bookkept]);
    if (handedOutVm) await destroyDispVM(qubes, handedOutVm);
  });
  const listedAtHandOut = await handedOut;
  const name = handedOutVm!.name;
  const running = listedAtHandOut ? listedAtHandOut.running : pool.includes(name);
  // Tag first (beside the listing, before the record): from then on `cleanup` finds it by the tag even if the record never
  // names it; a record naming a pooled qube without our tag would not let `cleanup` remove it (dispvms.ts checkRecordedVm).
  const listed = listedAtHandOut ? Promise.resolve(listedAtHandOut) : identify(qubes, { name }, template);
  listed.then((vm) => (handedOutVm = vm)).catch(() => undefined);
  const checked = listed.then((vm) => {
    checkHandedOut(vm, role, template);
    if (running && !vm.running) throw new OperationError(`${name}, handed out by ${template}'s pool as preloaded, is not running: refused`);
    return vm;
  });
  if (!running) {
    // Not among the members read: a new qube, to be started; or one that joined the pool since, which comes running.
    const vm = await checked;
    if (!vm.running) {
      start = new OwnStart(qubes, vm.name);
      await start.start();
    }
  } else if (listedAtHandOut) {
    await checked;
  }
  bookkept = (async () => {
    const [vm] = await Promise.all([checked, qubes.addTag(name, ownerTag(role))]);
    await ledger.add({ name: vm.name, uuid: vm.uuid });
    await ledger.settle(intent);
  })();
  bookkept.catch(() => undefined);
  return { name, bookkept };
}

/**
 * For `cleanup`, after a command died between asking for a hand-out and recording it: each member the pool had then that has
 * left it since, is a disposable qubesd made for dom0 (tag disp-created-by-dom0), carries none of our tags (a tagged one is found
 * by its tag) and no record names, is removed. Another dom0 program taking a disposable from the same pool in that same moment
 * is the case this cannot tell apart; it is as narrow as the one call.
 */
export async function removeUnclaimedHandOuts(qubes: Qubes, state: AttachmentState, namedElsewhere: ReadonlySet<string>): Promise<void> {
  for (const intent of state.handOuts ?? []) {
    const pool = poolMembers(await qubes.getFeature(intent.template, 'preload-dispvm').catch(() => undefined));
    for (const name of intent.candidates) {
      const vm = await qubes.vmFacts(name);
      if (!vm || vm.vmClass !== 'DispVM' || pool.includes(name) || namedElsewhere.has(name) || state.createdVms.some((recorded) => recorded.name === name)) continue;
      const tags = await qubes.listTags(name);
      if (!tags.includes('disp-created-by-dom0') || ownerRole(tags) !== undefined) continue;
      info(`removing ${name}: ${intent.template}'s pool handed it out to an attach that ended before it could record it`);
      await destroyDispVM(qubes, { name, uuid: vm.uuid });
    }
  }
}
