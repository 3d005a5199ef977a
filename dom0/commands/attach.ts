// `attach`: the split pipeline. Device and header DisposableVMs (and the destination) are obtained together (attach-vms.ts), each step
// waiting only for what it needs: the device VM is prepared and given the disk while the header VM still starts, and the
// destination starts while the key is derived. The header area goes from the device VM to the header VM through dom0 unparsed; the volume key comes back sealed to the device VM; the mapping goes to the destination.
import type { AttachCommand } from '../cli.ts';
import type { CleanupStack } from '../cleanup-stack.ts';
import type { CommandContext } from '../command-context.ts';
import { resolveDispVmSettings, type AttachOrder } from '../config.ts';
import { attachSource, newMappingName, openDeviceOpen, openDevicePrepare, openHeaderSend, openMapping, PinMismatchError, prepareDeviceVm, withDeviceHeaderSource } from '../device-steps.ts';
import { allInOrder } from '../all-in-order.ts';
import { AttachVms } from '../attach-vms.ts';
import { chooseSupply } from '../preloaded.ts';
import { destroyDispVM } from '../dispvms.ts';
import { openHeaderUnlock, unlockInHeaderVm } from '../header-steps.ts';
import { checkDestination, checkKeyFile } from '../destination-checks.ts';
import { approveLayout, mappingLayout } from '../layout-checks.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { info, warning } from '../output.ts';
import { attachMappingWhenExposed } from '../mapping-export.ts';
import { listKnownVolumes, type KnownVolume } from '../known-volumes.ts';
import { InterruptedError, OperationError } from '../../shared/errors.ts';
import type { LuksType } from '../../shared/protocol/contract.ts';
import type { HeaderParsed } from '../../shared/protocol/messages.ts';
import type { HeaderFacts } from '../header-steps.ts';
import type { Qubes } from '../qubes.ts';
import { frontendDevOf } from '../qubes-listings.ts';
import type { OpenedService } from '../service-call.ts';
import { recordCommand, type AttachmentRecorder } from '../state.ts';
import { statusLine, type StatusLine } from '../status-line.ts';
import { assertSourceAvailable } from '../source-checks.ts';

/**
 * The device name the destination gave the decrypted disk, from the mapping's own row in `qvm-block list DEVICE-VM` (a row
 * whose description is our mapping's name, and whose "used by" must name the destination); only for the user's information,
 * so anything unexpected just leaves it unsaid.
 */
async function frontendDevice(qubes: Qubes, deviceVm: string, port: string, destination: string): Promise<string | undefined> {
  const listed = await qubes.listBlocks(deviceVm).catch(() => []);
  const row = listed.find((entry) => entry.backend === deviceVm && entry.port === port);
  return row ? frontendDevOf(row, destination) : undefined;
}

/** What an attach found and made, for `remember`. */
export interface AttachOutcome {
  readonly description: string;
  readonly luksType: LuksType;
  readonly uuid: string;
  readonly pin: string;
  readonly dataOffset: number;
}

/**
 * The pin the device VM must find, or undefined: the named volume's, or (attaching by port) that of the known volume with the
 * header's UUID and type. Known volumes that share a UUID but not a pin are refused: one of them is not what it claims.
 */
function expectedPin(known: readonly KnownVolume[], parsed: HeaderParsed): { volume: KnownVolume; pin: string } | undefined {
  const matching = known.filter((volume) => volume.uuid === parsed.uuid && volume.luksType === parsed.luksType);
  const [first] = matching;
  if (first === undefined) return undefined;
  const differing = matching.find((volume) => volume.pin !== first.pin);
  if (differing) throw new OperationError(`known volumes ${first.name} and ${differing.name} have the same UUID ${parsed.uuid} but different pins: forget the one that is wrong`);
  return { volume: first, pin: first.pin };
}

/** The known volumes an attach checks against: the named one, or every one that parses (a broken file is said, not skipped silently). */
async function volumesToCheck(command: AttachCommand): Promise<KnownVolume[]> {
  if (command.known) return [command.known];
  const entries = await listKnownVolumes();
  for (const entry of entries) if (entry.kind === 'broken') warning(`known volume ${entry.name} is not checked: ${entry.problem}`);
  return entries.flatMap((entry) => (entry.kind === 'volume' ? [entry.volume] : []));
}

export async function attachCommand(command: AttachCommand, { stack, config, qubes }: CommandContext): Promise<AttachOutcome> {
  const label = sourceLabel(command.source);
  await acquireSourceLock(command.source, stack);
  // Everything that needs no secret and no VM is checked before the first VM starts. The checks are queries and file reads,
  // independent of each other: they run side by side, and when several fail the first in this order is said.
  const settingsAsked = resolveDispVmSettings(qubes, config);
  // Where the VMs will come from is only asked of Qubes: it overlaps the checks (a failed check leaves it unused).
  const supply = chooseSupply(
    qubes,
    settingsAsked.then((settings) => settings.template),
    config.templateForDispVms === undefined,
  );
  supply.catch(() => undefined);
  const [description, known, settings, destinationFacts] = await allInOrder([
    assertSourceAvailable(qubes, command.source),
    volumesToCheck(command),
    settingsAsked,
    settingsAsked.then((settings) => checkDestination(qubes, command.destination, command.source, settings.template)),
    checkKeyFile(command.keyFile),
  ]);
  // The record exists from here on, so `cleanup` can finish the job if this process dies without unwinding.
  const recorder = await recordCommand({ source: command.source, phase: 'attaching', readOnly: command.readOnly }, stack);

  const line = statusLine();
  line.show('starting the DisposableVMs');
  const vms = new AttachVms(qubes, { template: settings.template, label: settings.label, order: settings.attachOrder, destination: command.destination }, stack, recorder, supply);
  try {
    return await attachWith(command, vms, { stack, qubes, recorder, line, label, known, description, destinationFacts, template: settings.template, order: settings.attachOrder });
  } finally {
    // No start may still be under way when the stack unwinds: a VM registered after that would be left behind.
    await vms.settled();
  }
}

interface AttachContext {
  readonly stack: CleanupStack;
  readonly qubes: Qubes;
  readonly recorder: AttachmentRecorder;
  readonly line: StatusLine;
  readonly label: string;
  readonly known: readonly KnownVolume[];
  readonly description: string;
  readonly destinationFacts: Awaited<ReturnType<typeof checkDestination>>;
  readonly template: string;
  readonly order: AttachOrder;
}

/**
 * Service calls opened ahead of their conversations (OpenedService), so each VM's service has started by the time dom0 needs it,
 * and each ending later: the next step goes on with the reply while the call's clean end is checked, all of them before the
 * attach commits. The attach ends every call it did not converse with, and waits for every end, before its clean-up runs.
 */
class CallsAhead {
  private readonly opened: Promise<OpenedService | undefined>[] = [];
  private closing = false;

  /** `enabled` false (the original's serial order): nothing is opened ahead, each step opens its own call when it comes. */
  constructor(private readonly enabled: boolean) {}

  /** Opens a call now. */
  now(open: () => OpenedService): OpenedService | undefined {
    if (!this.enabled) return undefined;
    const call = open().endLater();
    this.opened.push(Promise.resolve(call));
    return call;
  }

  /**
   * Opens a call once `ready` resolves (when it fails, so does the step that awaits this, on its own); not when the attach has
   * failed meanwhile: a call to a qube about to be removed would only be opened to be ended.
   */
  after<T>(ready: Promise<T>, open: (value: T) => OpenedService): Promise<OpenedService | undefined> | undefined {
    if (!this.enabled) return undefined;
    const call = ready.then((value) => (this.closing ? undefined : open(value).endLater()));
    this.opened.push(call.catch(() => undefined));
    return call;
  }

  /** Every call conversed with has ended cleanly; the first failure, in the order opened, otherwise. */
  async allEnded(): Promise<void> {
    const calls = await Promise.all(this.opened);
    await allInOrder(calls.map((call) => call?.ended ?? Promise.resolve()));
  }

  /** After a failure: the first call, in the order opened, that ended badly after its reply (waiting for every end), if any; opens none after this. */
  async firstFailedEnd(): Promise<unknown> {
    this.closing = true;
    return this.allEnded().then(
      () => undefined,
      (error: unknown) => error,
    );
  }

  /** Ends every call opened and not conversed with, and waits for the end of the others; opens none after this. */
  async abandonUnused(): Promise<void> {
    this.closing = true;
    await Promise.all(this.opened.map(async (call) => (await call)?.abandon()));
  }
}

/** The device VM, prepared and holding the source disk: its name, public key, whether the source is read-only, and DeviceSendHeader opened. */
async function readyDevice(command: AttachCommand, vms: AttachVms, ahead: CallsAhead, { stack, qubes, recorder, line, label, template }: AttachContext) {
  const named = await vms.vmBeforeBookkeeping('device');
  line.show(`preparing ${named} and attaching ${label} to it`);
  // DevicePrepare gives the device VM nothing of the source: it runs while a pooled one is still being tagged and recorded. The
  // disk goes to it only after both. DeviceSendHeader starts meanwhile too: it reads nothing before its request.
  const sendHeader = ahead.now(() => openHeaderSend(qubes, named));
  const prepare = ahead.now(() => openDevicePrepare(qubes, named));
  const [publicKey, device] = await allInOrder([prepareDeviceVm(qubes, named, template, prepare), vms.vm('device')]);
  await recorder.update({ deviceVm: device });
  const readOnly = await attachSource(qubes, device, command.source, command.readOnly, stack);
  return { device, publicKey, readOnly, sendHeader };
}

async function attachWith(command: AttachCommand, vms: AttachVms, context: AttachContext): Promise<AttachOutcome> {
  const ahead = new CallsAhead(context.order === 'concurrent');
  try {
    return await attachSteps(command, vms, ahead, context);
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    // A call that went wrong after its reply (it never ended, or ended with an error) came first in the pipeline: what failed
    // after it may only follow from it (a DevicePrepare that never ended kept no key for DeviceOpen), so it is the one said.
    throw (await ahead.firstFailedEnd()) ?? error;
  } finally {
    await ahead.abandonUnused();
  }
}

async function attachSteps(command: AttachCommand, vms: AttachVms, ahead: CallsAhead, context: AttachContext): Promise<AttachOutcome> {
  const { stack, qubes, recorder, line, label, known, description, destinationFacts } = context;
  const { device, publicKey: devicePublicKey, readOnly, sendHeader } = await readyDevice(command, vms, ahead, context);
  // The header bytes come from the device VM first: a device VM that refuses to read the disk stops the attach before the header
  // VM is sent anything. HeaderUnlock is opened once the device VM holds the disk (the header VM may still be starting then): its
  // service starts while the device VM checks and describes the disk, and is sent its request only after that. DeviceOpen is
  // opened once the header is approved, so it is ready when the key comes.
  const unlockCall = ahead.after(vms.vm('header'), (header) => openHeaderUnlock(qubes, header, command.luksType));
  let deviceOpen: OpenedService | undefined;
  const { facts, unlocked, headerVm } = await withDeviceHeaderSource(qubes, device, async (source) => {
    const header = await vms.vm('header');
    line.show(`reading the header in ${header}`);
    const result = await unlockInHeaderVm(qubes, header, command.luksType, source, devicePublicKey, { target: label, keyFile: command.keyFile, ...(command.askpass ? { askpass: command.askpass } : {}) }, async (reported) => {
      await approveKnownHeader(reported, command);
      await approveLayout(reported, command, `header VM ${header}`);
      // The header is one dom0 accepts: a named destination starts while the passphrase is asked and the key derived.
      vms.startDestinationEarly();
      deviceOpen = ahead.now(() => openDeviceOpen(qubes, device));
    }, unlockCall ? await unlockCall : undefined);
    return { ...result, headerVm: header };
  }, sendHeader);
  const layout = mappingLayout(facts.parsed);
  // The header VM has done its job: it goes now, not at the end, so it holds the passphrase no longer than needed; and out of the
  // record, so that `status` and `cleanup` no longer name a VM that is gone. Meanwhile the device VM opens the mapping.
  // Its removal goes on while the mapping is opened and attached; it is awaited before anything is reported, either way.
  // Not before its HeaderUnlock call has ended: removing the qube would break the call, and its end is checked.
  const unlockEnded = unlockCall ? unlockCall.then((call) => call?.ended) : Promise.resolve();
  const headerGone = unlockEnded.catch(() => undefined).then(() => destroyDispVM(qubes, recorder.vm(headerVm))).then(() => recorder.forget(headerVm));
  headerGone.catch(() => undefined);
  try {
    // The original's order, one after the other: the header VM goes first.
    if (context.order === 'serial') await headerGone;

    line.show(`opening the mapping in ${device}`);
    const mappingName = newMappingName();
    const pinned = expectedPin(known, facts.parsed);
    const [mapping] = await Promise.allSettled([openMapping(qubes, device, mappingName, unlocked, layout, readOnly, stack, { expectedPin: pinned?.pin, ...(deviceOpen ? { call: deviceOpen } : {}) })]);
    if (mapping.status === 'rejected') {
      if (mapping.reason instanceof PinMismatchError && pinned) {
        throw new OperationError(`${label} is not volume ${pinned.volume.name}: its key or layout differs (re-formatted? then 'qvm-block-split forget ${pinned.volume.name}')`);
      }
      throw mapping.reason;
    }
    const opened = mapping.value;
    await recorder.update({ mapping: { name: opened.name, device: opened.device }, readOnly: opened.readOnly });

    line.show(`attaching the decrypted disk to ${command.destination ?? 'a new DisposableVM'}`);
    const destination = await vms.vm('destination');
    await attachMappingWhenExposed(qubes, destination, { deviceVm: device, device: opened.device, name: opened.name }, opened.readOnly);
    stack.defer(`detach ${device}:${opened.device} from ${destination}`, () => qubes.detachBlock(destination, device, opened.device));
    const [frontend] = await allInOrder([frontendDevice(qubes, device, opened.device, destination), headerGone, ahead.allEnded()]);
    await recorder.update({ destination: { vm: destination, createdByUs: command.destination === undefined, ...(frontend ? { frontend } : {}) }, phase: 'attached' });

    // Everything now belongs to the attachment: detach undoes it. A Ctrl-C that came since the last tool undoes it all here instead.
    stack.commit();
    line.done();
    const networked = destinationFacts?.netvm ? `; ${destination} is networked (netvm ${destinationFacts.netvm})` : '';
    info(`attached ${label} to ${destination}${opened.readOnly ? ' read-only' : ''} (device VM ${device}, mapping ${opened.device})${networked}`);
    if (frontend) info(`in ${destination} it is /dev/${frontend}: e.g. 'sudo mount /dev/${frontend} /mnt' there (the filesystem's own tools, not ours)`);
    if (pinned) info(`it is known volume ${pinned.volume.name}: its pin matched`);
    return { description, luksType: facts.parsed.luksType, uuid: facts.parsed.uuid, pin: opened.pin, dataOffset: facts.parsed.dataOffset };
  } finally {
    // No removal may still be under way when the clean-up stack unwinds.
    await headerGone.catch(() => undefined);
  }
}

/** A named volume must show its own UUID and type before any passphrase is asked: another drive in the port stops here. */
async function approveKnownHeader(facts: HeaderFacts, command: AttachCommand): Promise<void> {
  const { known } = command;
  if (!known) return;
  const { parsed } = facts;
  if (parsed.uuid !== known.uuid || parsed.luksType !== known.luksType) {
    throw new OperationError(
      `${sourceLabel(command.source)} is not volume ${known.name}: its header is ${parsed.luksType} ${parsed.uuid}, not ${known.luksType} ${known.uuid} (another drive in that port?)`,
    );
  }
}
