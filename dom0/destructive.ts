// What every command that writes to the source disk shares: it looks first (attaches the source read-write to an offline device
// VM and measures it), then says exactly what it destroys and asks (`--yes` for scripts); a confirmation that could never be given
// fails before any VM starts.
import { OperationError, UsageError } from '../shared/errors.ts';
import { sanitizePeerText } from '../shared/protocol/channel.ts';
import type { CommandContext } from './command-context.ts';
import { resolveDispVmSettings } from './config.ts';
import { attachSource, describeSource, prepareDeviceVm } from './device-steps.ts';
import { startDispVMs, type DispVmRole } from './dispvms.ts';
import { acquireSourceLock } from './lock.ts';
import { sourceLabel, type SourceSpec } from './names.ts';
import { confirm } from './prompt.ts';
import { assertSourceAvailable, sizeWords } from './source-checks.ts';
import { recordCommand } from './state.ts';

/** A confirmation that could never be given fails before any VM starts. */
export function assertConfirmable(yes: boolean, command: string, what = 'destroys data and needs confirmation'): void {
  if (!yes && !process.stdin.isTTY) throw new UsageError(`${command} ${what}: use --yes to confirm without a terminal`);
}

export async function confirmDestruction(what: string, yes: boolean): Promise<void> {
  if (!yes) await confirm(`${what}\nContinue?`);
}

/** The source as the user is asked about it: Qubes' description and the size the device VM measured. */
export interface SourceDisk {
  readonly label: string;
  readonly description: string;
  readonly bytes: number;
}

export const diskWords = (disk: SourceDisk): string => `${disk.label} (${sanitizePeerText(disk.description, 80) || 'no description'}, ${sizeWords(disk.bytes)})`;

/** Starts the VMs a destructive command needs, prepares the device VM, attaches the source read-write and measures it. */
export async function setUpWrite<R extends DispVmRole>({ stack, config, qubes }: CommandContext, source: SourceSpec, roles: readonly R[]): Promise<{ vms: Record<R, string>; disk: SourceDisk }> {
  await acquireSourceLock(source, stack);
  const description = await assertSourceAvailable(qubes, source);
  const settings = await resolveDispVmSettings(qubes, config);
  // A record too, so that `cleanup` removes the VMs of an overwrite killed without unwinding, and `status` shows it.
  const recorder = await recordCommand({ source, phase: 'overwriting', readOnly: false }, stack);
  const vms = await startDispVMs(qubes, roles, settings.template, settings.label, stack, (vm) => recorder.add(vm));
  const device = (vms as Record<string, string>).device!;
  await recorder.update({ deviceVm: device });
  await prepareDeviceVm(qubes, device, settings.template);
  if (await attachSource(qubes, device, source, false, stack)) throw new OperationError(`${sourceLabel(source)} can be attached only read-only: it cannot be overwritten`);
  const described = await describeSource(qubes, device);
  if (described.readOnly) throw new OperationError(`${sourceLabel(source)} is read-only in the device VM: it cannot be overwritten`);
  return { vms, disk: { label: sourceLabel(source), description, bytes: described.diskBytes } };
}

/** A disk too small for what is about to be written is refused before anything is asked. */
export function assertAtLeast(disk: SourceDisk, bytes: number, what: string): void {
  if (disk.bytes === 0) throw new OperationError(`${disk.label} is empty (0 bytes): there is nothing to overwrite`);
  if (disk.bytes < bytes) throw new OperationError(`${diskWords(disk)} is too small for ${what} (${bytes} bytes at least)`);
}
