// The destructive commands: overwrite everything with random data, overwrite the header area with random data (crypto-shredding),
// or with a newly formatted header. Each says what it destroys and needs confirmation; each leaves nothing behind.
import type { LuksType } from '../../shared/protocol/messages.ts';
import { headerAreaBytes } from '../../shared/protocol/luks-types.ts';
import type { FormatSettings } from '../cli.ts';
import type { CleanupStack } from '../cleanup-stack.ts';
import { resolveDispVmSettings } from '../config.ts';
import { attachSource, prepareDeviceVm, wipeSource, writeHeaderArea } from '../device-steps.ts';
import { startDispVMs } from '../dispvms.ts';
import { formatInHeaderVm } from '../header-steps.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel, type SourceSpec } from '../names.ts';
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
  await attachSource(device, source, false, stack);
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
  const size = headerAreaBytes(luksType);
  await confirmDestruction(`This overwrites the first ${size} bytes of ${label} (the ${luksType} header area) with random data: the volume can never be decrypted again.`, yes);
  const vms = await setUp(source, ['device'], stack);
  const bytes = await writeHeaderArea(vms.device, luksType, 'random');
  await stack.unwind();
  info(`overwrote the header area of ${label} with random data (${bytes} bytes)`);
}

export async function overwriteHeaderFormatCommand(source: SourceSpec, luksType: LuksType, format: FormatSettings, yes: boolean, stack: CleanupStack): Promise<void> {
  const label = sourceLabel(source);
  const size = headerAreaBytes(luksType);
  await confirmDestruction(`This replaces the first ${size} bytes of ${label} with a new ${luksType} header: any data encrypted under the old header is lost.`, yes);
  const vms = await setUp(source, ['device', 'header'], stack);
  const area = await formatInHeaderVm(vms.header, luksType, format, { target: label, keyFile: undefined });
  const bytes = await writeHeaderArea(vms.device, luksType, area);
  await stack.unwind();
  info(`formatted ${label} as ${luksType} (aes-xts-plain64, ${format.keyBytes * 8}-bit key, ${format.hash}); ${bytes} bytes written`);
}
