// `attach`: the split pipeline. Device and header DisposableVMs (and the destination one) start together; the header area goes from the
// device VM to the header VM through dom0 unparsed; the volume key comes back sealed to the device VM; the mapping goes to the destination.
import type { AttachCommand } from '../cli.ts';
import { CleanupStack } from '../cleanup-stack.ts';
import { resolveDispVmSettings } from '../config.ts';
import { attachSource, newMappingName, openMapping, prepareDeviceVm, withDeviceHeaderSource } from '../device-steps.ts';
import { destroyDispVM, startDispVMs } from '../dispvms.ts';
import { unlockInHeaderVm } from '../header-steps.ts';
import { checkDestination, checkKeyFile } from '../destination-checks.ts';
import { approveLayout, mappingLayout } from '../layout-checks.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { info } from '../output.ts';
import { attachMappingWhenExposed } from '../mapping-export.ts';
import { detachBlock, isRunning, listBlocks, startVM } from '../qubes.ts';
import { frontendDevOf } from '../qubes-listings.ts';
import { recordCommand } from '../state.ts';
import { assertSourceAvailable } from '../source-checks.ts';

/**
 * The device name the destination gave the decrypted disk, from the mapping's own row in `qvm-block list DEVICE-VM` (a row
 * whose description is our mapping's name, and whose "used by" must name the destination); only for the user's information,
 * so anything unexpected just leaves it unsaid.
 */
async function frontendDevice(deviceVm: string, port: string, destination: string): Promise<string | undefined> {
  const listed = await listBlocks(deviceVm).catch(() => []);
  const row = listed.find((entry) => entry.backend === deviceVm && entry.port === port);
  return row ? frontendDevOf(row, destination) : undefined;
}

export async function attachCommand(command: AttachCommand, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(command.source);
  await acquireSourceLock(command.source, stack);
  await assertSourceAvailable(command.source);
  const settings = await resolveDispVmSettings();
  // Everything that needs no secret and no VM is checked before the first VM starts.
  const destinationFacts = await checkDestination(command.destination, command.source, settings.template);
  await checkKeyFile(command.keyFile);
  // The record exists from here on, so `cleanup` can finish the job if this process dies without unwinding.
  const recorder = await recordCommand({ source: command.source, phase: 'attaching', readOnly: command.readOnly }, stack);

  const roles = command.destination === undefined ? (['device', 'header', 'destination'] as const) : (['device', 'header'] as const);
  const vms = await startDispVMs(roles, settings.template, settings.label, stack, (vm) => recorder.add(vm));
  await recorder.update({ deviceVm: vms.device });

  const devicePublicKey = await prepareDeviceVm(vms.device);
  const readOnly = await attachSource(vms.device, command.source, command.readOnly, stack);
  const { facts, unlocked } = await withDeviceHeaderSource(vms.device, (source) =>
    unlockInHeaderVm(vms.header, command.luksType, source, devicePublicKey, { target: label, keyFile: command.keyFile }, (reported) =>
      approveLayout(reported, command, `header VM ${vms.header}`),
    ),
  );
  const layout = mappingLayout(facts.parsed);
  // The header VM has done its job: it goes now, not at the end, so it holds the passphrase no longer than needed.
  await destroyDispVM(recorder.vm(vms.header));
  // ...and out of the record, so that `status` and `cleanup` no longer name a VM that is gone.
  await recorder.forget(vms.header);

  const mappingName = newMappingName();
  const opened = await openMapping(vms.device, mappingName, unlocked, layout, readOnly, stack);
  await recorder.update({ mapping: { name: opened.name, device: opened.device }, readOnly: opened.readOnly });

  const destination = 'destination' in vms ? (vms as { destination: string }).destination : command.destination!;
  if (!(await isRunning(destination))) await startVM(destination);
  await attachMappingWhenExposed(destination, { deviceVm: vms.device, device: opened.device, name: opened.name }, opened.readOnly);
  stack.defer(`detach ${vms.device}:${opened.device} from ${destination}`, () => detachBlock(destination, vms.device, opened.device));
  await recorder.update({ destination: { vm: destination, createdByUs: command.destination === undefined }, phase: 'attached' });

  // Everything now belongs to the attachment: detach undoes it.
  stack.releaseAll();
  const networked = destinationFacts?.netvm ? `; ${destination} is networked (netvm ${destinationFacts.netvm})` : '';
  info(`attached ${label} to ${destination}${opened.readOnly ? ' read-only' : ''} (device VM ${vms.device}, mapping ${opened.device})${networked}`);
  const frontend = await frontendDevice(vms.device, opened.device, destination);
  if (frontend) info(`in ${destination} it is /dev/${frontend}: e.g. 'sudo mount /dev/${frontend} /mnt' there (the filesystem's own tools, not ours)`);
}
