// The destructive commands: overwrite everything with random data, overwrite the header with random data (crypto-shredding), with
// a newly formatted header, or with one made in a shell. Each looks first (attaches the source to an offline device VM and measures
// it), then says exactly what it destroys and asks; the device VM refuses to write to a disk of another size than confirmed; a
// header write covers the header's own extent as a header VM (never the shell's own) reports it, and never more.
import { OperationError, UsageError } from '../../shared/errors.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../../shared/luks1/constants.ts';
import { sanitizePeerText } from '../../shared/protocol/channel.ts';
import type { LuksType } from '../../shared/protocol/contract.ts';
import { HEADER_PROBE_BYTES, MAX_HEADER_TRANSFER_BYTES } from '../../shared/protocol/messages.ts';
import type { HeaderShellCommand, OverwriteEverythingCommand, OverwriteHeaderFormatCommand, OverwriteHeaderRandomCommand } from '../cli.ts';
import type { CommandContext } from '../command-context.ts';
import { assertAtLeast, assertConfirmable, confirmDestruction, diskWords, setUpWrite, type SourceDisk } from '../destructive.ts';
import { wipeSource, withDeviceHeaderSource, writeHeaderArea } from '../device-steps.ts';
import { formatInHeaderVm, inspectInHeaderVm, putHeaderForShell, runShellInHeaderVm, takeHeaderFromShell } from '../header-steps.ts';
import { rewriteHeaderArea } from '../header-rewrite.ts';
import type { HeaderSource } from '../header-transfer.ts';
import { DEFAULT_DATA_OFFSET } from '../layout-checks.ts';
import { describeHeader } from '../header-summary.ts';
import { info, warning } from '../output.ts';
import { ProgressLine } from '../progress.ts';
import { sizeWords } from '../source-checks.ts';

export async function overwriteEverythingCommand({ source, yes }: OverwriteEverythingCommand, context: CommandContext): Promise<void> {
  const { stack, qubes } = context;
  assertConfirmable(yes, 'overwrite-everything-with-random');
  const { vms, disk } = await setUpWrite(context, source, ['device']);
  assertAtLeast(disk, 1, 'an overwrite');
  await confirmDestruction(`This overwrites ALL of ${diskWords(disk)} with random data: everything on it is destroyed, irrecoverably.`, yes);
  const progress = new ProgressLine(`overwriting ${disk.label}`);
  let reached = 0;
  const bytes = await wipeSource(qubes, vms.device, disk.bytes, (done, total) => {
    reached = done;
    progress.update(done, total);
  }).catch((error: unknown) => {
    // Said before the error line: the disk is no longer what it was, and the user must know how far the overwrite got.
    if (reached > 0) warning(`${disk.label} is now partly overwritten: the first ${sizeWords(reached)} of ${sizeWords(disk.bytes)} were written; run the command again to finish`);
    throw error;
  });
  progress.finish(bytes);
  await stack.unwind();
  info(`overwrote ${disk.label} with random data (${bytes} bytes)`);
}

/** The type's area on this disk: what --type names when no header says more. */
const typeAreaBytes = (luksType: LuksType, disk: SourceDisk): number => Math.min(luksType === 'luks1' ? LUKS1_HEADER_AREA_BYTES : MAX_HEADER_TRANSFER_BYTES, disk.bytes);

/**
 * Crypto-shredding. The header VM reads what the disk holds (whatever --type says): a LUKS header is destroyed up to its data
 * offset (both LUKS2 copies and every key-slot area; LUKS1's key material), anything else over the --type's area. A fresh VM
 * then checks that no header copy parses any more.
 */
export async function overwriteHeaderRandomCommand({ source, luksType, yes }: OverwriteHeaderRandomCommand, context: CommandContext): Promise<void> {
  const { stack, qubes } = context;
  assertConfirmable(yes, 'overwrite-header-with-random');
  const { vms, disk } = await setUpWrite(context, source, ['device', 'header', 'verify']);
  assertAtLeast(disk, HEADER_PROBE_BYTES, 'a LUKS header');
  const openSource = <T>(work: (source: HeaderSource) => Promise<T>): Promise<T> => withDeviceHeaderSource(qubes, vms.device, work);
  const found = await openSource((device) => inspectInHeaderVm(qubes, vms.header, device));
  const region = found.kind === 'header' ? Math.max(found.parsed.headerBytes, found.sentBytes) : typeAreaBytes(luksType, disk);
  const what = found.kind === 'header' ? `its ${describeHeader(found.parsed)}\n` : `no LUKS header was found (${sanitizePeerText(found.reason, 120)}); the ${luksType} header area is overwritten\n`;
  await confirmDestruction(`This overwrites the first ${sizeWords(region)} of ${diskWords(disk)} with random data:\n${what}The volume can never be decrypted again.`, yes);
  const bytes = await writeHeaderArea(qubes, vms.device, disk.bytes, { random: region });
  const after = await openSource((device) => inspectInHeaderVm(qubes, vms.verify, device));
  if (after.kind === 'header') throw new OperationError(`after overwriting ${bytes} bytes of ${disk.label}, ${vms.verify} still reads a ${after.parsed.luksType} header (${after.parsed.copy} copy): the volume may still open`);
  await stack.unwind();
  info(`overwrote the header area of ${disk.label} with random data (${bytes} bytes); no LUKS header copy parses any more`);
}

export async function overwriteHeaderFormatCommand({ source, luksType, format, keyFile, yes }: OverwriteHeaderFormatCommand, context: CommandContext): Promise<void> {
  const { stack, qubes } = context;
  assertConfirmable(yes, 'overwrite-header-with-format');
  const { vms, disk } = await setUpWrite(context, source, ['device', 'header']);
  // The new header's data starts at cryptsetup's default offset; the disk must hold more than that, checked before any passphrase.
  const dataBytes = DEFAULT_DATA_OFFSET[luksType] * 512;
  const areaBytes = luksType === 'luks1' ? LUKS1_HEADER_AREA_BYTES : dataBytes;
  assertAtLeast(disk, dataBytes + 512, `a ${luksType} volume (its data starts at ${dataBytes} bytes)`);
  await confirmDestruction(`This replaces the first ${sizeWords(areaBytes)} of ${diskWords(disk)} with a new ${luksType} header: any data encrypted under the old header is lost.`, yes);
  let progress: ProgressLine | undefined;
  const area = await formatInHeaderVm(qubes, vms.header, luksType, format, { target: disk.label, keyFile }, areaBytes, (elapsedMs, expectedMs) => {
    // Made at the first tick, once the passphrase prompts are over, so its clock starts with the key derivation.
    progress ??= new ProgressLine(`deriving the new key slot in ${vms.header}`);
    progress.updateTime(elapsedMs, expectedMs);
  });
  progress?.finishTime();
  const bytes = await writeHeaderArea(qubes, vms.device, disk.bytes, area);
  await stack.unwind();
  info(`formatted ${disk.label} as ${luksType} (${format.key.cipher}, ${format.key.keyBytes * 8}-bit key, ${format.hash}); ${bytes} bytes written`);
}

/**
 * overwrite-header-with-shell (start from random bytes) and modify-header-with-shell (start from the disk's header): a root shell in
 * an offline header DisposableVM edits the header file. What it leaves is checked by a fresh DisposableVM that never ran a shell,
 * shown (every key slot), and written only up to that header's own extent, after the shell exited 0 and (for modify) the user
 * confirmed.
 */
export async function headerShellCommand(command: HeaderShellCommand, context: CommandContext): Promise<void> {
  const { stack, qubes } = context;
  const { source, luksType, yes } = command;
  const mode = command.command === 'modify-header-with-shell' ? 'modify' : 'overwrite';
  // Why: modify asks only after the shell; without a terminal that question could never be answered, and the edit would be lost.
  if (mode === 'modify' && !yes && !process.stdin.isTTY) throw new UsageError('modify-header-with-shell writes the edited header back only after confirmation: use --yes without a terminal');
  if (mode === 'overwrite') assertConfirmable(yes, 'overwrite-header-with-shell');
  const { vms, disk } = await setUpWrite(context, source, ['device', 'header', 'verify']);
  assertAtLeast(disk, HEADER_PROBE_BYTES, 'a LUKS header');
  const openSource = <T>(work: (source: HeaderSource) => Promise<T>): Promise<T> => withDeviceHeaderSource(qubes, vms.device, work);
  const areaBytes = typeAreaBytes(luksType, disk);
  if (mode === 'overwrite') {
    await confirmDestruction(`This replaces the header of ${diskWords(disk)} with one you make in a shell, starting from ${sizeWords(areaBytes)} of random bytes: data encrypted under the old header is lost unless you recreate its volume key.`, yes);
  }
  const placed =
    mode === 'modify'
      ? await openSource((source) => putHeaderForShell(qubes, vms.header, luksType, { kind: 'disk', source, fallbackBytes: areaBytes }))
      : await putHeaderForShell(qubes, vms.header, luksType, { kind: 'random', length: areaBytes });
  info(`starting a root shell in ${vms.header} over the ${placed}-byte ${luksType} header area of ${disk.label}`);
  const status = await runShellInHeaderVm(qubes, vms.header, luksType);
  if (status !== 0) throw new OperationError(`the header shell exited with status ${status}: nothing was written to ${disk.label}`);
  const edited = await takeHeaderFromShell(qubes, vms.header, luksType, placed);
  const outcome = await rewriteHeaderArea(qubes, {
    device: vms.device,
    verify: vms.verify,
    disk,
    area: edited,
    what: 'the header the shell left',
    extent: (parsed) => {
      if (parsed.headerBytes > edited.length) throw new OperationError(`the ${parsed.luksType} header the shell left reaches to byte ${parsed.headerBytes}, past the ${edited.length} bytes edited${parsed.luksType === 'luks2' && luksType === 'luks1' ? ' (use --type=luks2)' : ''}: nothing was written`);
      return parsed.headerBytes;
    },
    ...(mode === 'modify' ? { openSource } : {}),
    show: (parsed) => `${vms.verify} checked what the shell left: a valid ${describeHeader(parsed)}`,
    question: mode === 'modify' ? (_parsed, length) => `This writes the edited header (the first ${sizeWords(length)}) over ${diskWords(disk)}.` : undefined,
    yes,
  });
  await stack.unwind();
  info(outcome.kind === 'unchanged' ? `the header of ${disk.label} is unchanged: nothing was written` : `wrote the edited header to ${disk.label} (${outcome.bytes} bytes)`);
}
