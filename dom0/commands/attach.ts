// `attach`: the split pipeline. Device and header DisposableVMs (and the destination one) start together; the header area goes from the
// device VM to the header VM through dom0 unparsed; the volume key comes back sealed to the device VM; the mapping goes to the destination.
import { zeroize } from '../../shared/bytes.ts';
import type { AttachCommand } from '../cli.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import { resolveDispVmSettings } from '../config.ts';
import { attachSource, fetchHeaderArea, newMappingName, openMapping, prepareDeviceVm } from '../device-steps.ts';
import { destroyDispVM, startDispVMs } from '../dispvms.ts';
import { unlockInHeaderVm } from '../header-steps.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { info } from '../output.ts';
import { attachBlock, detachBlock, isRunning, startVM } from '../qubes.ts';
import { writeAttachmentState, type AttachmentState } from '../state.ts';
import { assertSourceAvailable } from '../source-checks.ts';

export async function attachCommand(command: AttachCommand, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(command.source);
  await acquireSourceLock(command.source, stack);
  await assertSourceAvailable(command.source);
  const settings = await resolveDispVmSettings();
  const state: AttachmentState = {
    source: command.source,
    deviceVm: '',
    mapping: null,
    destination: null,
    readOnly: command.readOnly,
    phase: 'attaching',
    createdVms: [],
    createdAt: new Date().toISOString(),
  };
  // The record exists from the first VM on, so `cleanup` can finish the job if this process dies without unwinding.
  // Writes are chained so that concurrent updates (VMs created in parallel) land in order.
  let written: Promise<void> = Promise.resolve();
  const record = (change: Partial<AttachmentState>): Promise<void> => {
    Object.assign(state, change);
    const snapshot = { ...state, createdVms: [...state.createdVms] };
    written = written.then(() => writeAttachmentState(snapshot));
    return written;
  };
  stack.defer(`forget the attachment record of ${label}`, () => import('../state.ts').then((s) => s.removeAttachmentState(command.source)));

  const roles = command.destination === undefined ? (['device', 'header', 'destination'] as const) : (['device', 'header'] as const);
  const vms = await startDispVMs(roles, settings.template, settings.label, stack, (name) => void record({ createdVms: [...state.createdVms, name] }).catch(() => undefined));
  await record({ deviceVm: vms.device });

  const devicePublicKey = await prepareDeviceVm(vms.device);
  const readOnly = await attachSource(vms.device, command.source, command.readOnly, stack);
  const area = await fetchHeaderArea(vms.device, command.luksType);
  const unlocked = await unlockInHeaderVm(vms.header, command.luksType, area, devicePublicKey, { target: label, keyFile: command.keyFile });
  zeroize(area);
  // The header VM has done its job: it goes now, not at the end, so it holds the passphrase no longer than needed.
  await destroyDispVM(vms.header);
  // ...and out of the record, so that `status` and `cleanup` no longer name a VM that is gone.
  await record({ createdVms: state.createdVms.filter((vm) => vm !== vms.header) });

  const mappingName = newMappingName();
  const opened = await openMapping(vms.device, mappingName, unlocked, readOnly, stack);
  await record({ mapping: { name: opened.name, device: opened.device }, readOnly: opened.readOnly });

  const destination = 'destination' in vms ? (vms as { destination: string }).destination : command.destination!;
  if (!(await isRunning(destination))) await startVM(destination);
  await attachBlock(destination, vms.device, opened.device, { readOnly: opened.readOnly });
  stack.defer(`detach ${vms.device}:${opened.device} from ${destination}`, () => detachBlock(destination, vms.device, opened.device));
  await record({ destination: { vm: destination, createdByUs: command.destination === undefined }, phase: 'attached' });

  // Everything now belongs to the attachment: detach undoes it.
  stack.releaseAll();
  info(`attached ${label} to ${destination}${opened.readOnly ? ' read-only' : ''} (device VM ${vms.device}, mapping ${opened.device})`);
}
