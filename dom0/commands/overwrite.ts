// The destructive commands: overwrite everything with random data, overwrite the header area with random data (crypto-shredding),
// or with a newly formatted header. Each says what it destroys and needs confirmation; each leaves nothing behind.
import type { LuksType } from '../../shared/protocol/messages.ts';
import { headerAreaBytes } from '../../shared/protocol/luks-types.ts';
import type { FormatSettings } from '../cli.ts';
import type { CleanupStack } from '../cleanup-stack.ts';
import { resolveDispVmSettings } from '../config.ts';
import { attachSource, fetchHeaderArea, prepareDeviceVm, wipeSource, writeHeaderArea } from '../device-steps.ts';
import { startDispVMs } from '../dispvms.ts';
import { formatInHeaderVm, putHeaderForShell, runShellInHeaderVm, takeHeaderFromShell } from '../header-steps.ts';
import { OperationError, UsageError } from '../../shared/errors.ts';
import type { HeaderSummary } from '../../shared/protocol/messages.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel, type KeyFileSpec, type SourceSpec } from '../names.ts';
import { info } from '../output.ts';
import { confirm } from '../prompt.ts';
import { ProgressLine } from '../progress.ts';
import { assertSourceAvailable } from '../source-checks.ts';

async function confirmDestruction(what: string, yes: boolean): Promise<void> {
  if (!yes) await confirm(`${what}\nContinue?`);
}

/** Starts the VMs a destructive command needs, prepares the device VM and attaches the source read-write. */
async function setUp<R extends 'device' | 'header'>(source: SourceSpec, roles: readonly R[], stack: CleanupStack): Promise<Record<R, string>> {
  await acquireSourceLock(source, stack);
  await assertSourceAvailable(source);
  const settings = await resolveDispVmSettings();
  const vms = await startDispVMs(roles, settings.template, settings.label, stack);
  const device = (vms as Record<string, string>).device!;
  await prepareDeviceVm(device);
  if (await attachSource(device, source, false, stack)) throw new OperationError(`${sourceLabel(source)} can be attached only read-only: it cannot be overwritten`);
  return vms;
}

export async function overwriteEverythingCommand(source: SourceSpec, yes: boolean, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(source);
  await confirmDestruction(`This overwrites ALL of ${label} with random data: everything on it is destroyed, irrecoverably.`, yes);
  const vms = await setUp(source, ['device'], stack);
  const progress = new ProgressLine(`overwriting ${label}`);
  const bytes = await wipeSource(vms.device, (done, total) => progress.update(done, total));
  progress.finish(bytes);
  await stack.unwind();
  info(`overwrote ${label} with random data (${bytes} bytes)`);
}

export async function overwriteHeaderRandomCommand(source: SourceSpec, luksType: LuksType, yes: boolean, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(source);
  const size = areaWords(luksType);
  await confirmDestruction(`This overwrites ${size} of ${label} (the ${luksType} header area) with random data: the volume can never be decrypted again.`, yes);
  const vms = await setUp(source, ['device'], stack);
  const bytes = await writeHeaderArea(vms.device, luksType, 'random');
  await stack.unwind();
  info(`overwrote the header area of ${label} with random data (${bytes} bytes)`);
}

export async function overwriteHeaderFormatCommand(
  source: SourceSpec,
  luksType: LuksType,
  format: FormatSettings,
  keyFile: KeyFileSpec | undefined,
  yes: boolean,
  stack: CleanupStack,
): Promise<void> {
  const label = sourceLabel(source);
  const size = areaWords(luksType);
  await confirmDestruction(`This replaces ${size} of ${label} with a new ${luksType} header: any data encrypted under the old header is lost.`, yes);
  const vms = await setUp(source, ['device', 'header'], stack);
  let progress: ProgressLine | undefined;
  const area = await formatInHeaderVm(vms.header, luksType, format, { target: label, keyFile }, (elapsedMs, expectedMs) => {
    // Made at the first tick, once the passphrase prompts are over, so its clock starts with the key derivation.
    progress ??= new ProgressLine(`deriving the new key slot in ${vms.header}`);
    progress.updateTime(elapsedMs, expectedMs);
  });
  progress?.finishTime();
  const bytes = await writeHeaderArea(vms.device, luksType, area);
  await stack.unwind();
  info(`formatted ${label} as ${luksType} (aes-xts-plain64, ${format.keyBytes * 8}-bit key, ${format.hash}); ${bytes} bytes written`);
}

/** "the first 2068480 bytes" (LUKS1) or "the first 16777216 bytes (the whole disk if smaller)" (LUKS2). */
function areaWords(luksType: LuksType): string {
  return `the first ${headerAreaBytes(luksType)} bytes${luksType === 'luks2' ? ' (the whole disk if it is smaller)' : ''}`;
}

function describeHeader(summary: HeaderSummary): string {
  const slots = summary.activeKeyslots.length === 0 ? 'no active key slot' : `active key slots ${summary.activeKeyslots.join(', ')}`;
  return `${summary.luksType} header ${summary.uuid}: ${summary.cipher}, ${summary.keyBytes * 8}-bit key, ${summary.hash}, ${slots}`;
}

/**
 * overwrite-header-with-shell (start from random bytes) and modify-header-with-shell (start from the source's header area):
 * a root shell in an offline header DisposableVM edits the header file; what it leaves is written back only when the header VM's
 * parser accepts it, the shell exited with status 0, and (for modify, which has asked nothing yet) the user confirms.
 */
export async function headerShellCommand(mode: 'overwrite' | 'modify', source: SourceSpec, luksType: LuksType, yes: boolean, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(source);
  const size = areaWords(luksType);
  // Why: modify asks only after the shell; without a terminal that question could never be answered, and the edit would be lost.
  if (mode === 'modify' && !yes && !process.stdin.isTTY) throw new UsageError('modify-header-with-shell writes the edited header back only after confirmation: use --yes without a terminal');
  if (mode === 'overwrite') {
    await confirmDestruction(`This replaces ${size} of ${label} (the ${luksType} header area) with a header you make in a shell, starting from random bytes: data encrypted under the old header is lost unless you recreate its volume key.`, yes);
  }
  const vms = await setUp(source, ['device', 'header'], stack);
  const original = mode === 'modify' ? await fetchHeaderArea(vms.device, luksType) : undefined;
  await putHeaderForShell(vms.header, luksType, original ?? 'random');
  info(`starting a root shell in ${vms.header} over the ${luksType} header area of ${label}`);
  const status = await runShellInHeaderVm(vms.header, luksType);
  if (status !== 0) throw new OperationError(`the header shell exited with status ${status}: nothing was written to ${label}`);
  const { area, summary } = await takeHeaderFromShell(vms.header, luksType);
  if (original !== undefined && original.equals(area)) {
    await stack.unwind();
    info(`the header of ${label} is unchanged: nothing was written`);
    return;
  }
  info(`the shell left a valid ${describeHeader(summary)}`);
  if (mode === 'modify') await confirmDestruction(`This writes the edited header over ${size} of ${label}.`, yes);
  const bytes = await writeHeaderArea(vms.device, luksType, area);
  await stack.unwind();
  info(`wrote the edited header to ${label} (${bytes} bytes)`);
}
