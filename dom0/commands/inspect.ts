// `inspect`: what a source's header says, with no secret involved. The disk goes read-only to an offline device DisposableVM, only
// the header area (served in steps) to an offline header DisposableVM that parses it; dom0 prints the VM's typed report and the
// warnings it draws from it itself. Both VMs are gone when the command ends.
import type { InspectCommand } from '../cli.ts';
import type { CommandContext } from '../command-context.ts';
import { resolveDispVmSettings } from '../config.ts';
import { attachSource, prepareDeviceVm, withDeviceHeaderSource } from '../device-steps.ts';
import { startDispVMs } from '../dispvms.ts';
import { headerWarnings, slotWords, vmWarnings } from '../header-summary.ts';
import { inspectInHeaderVm } from '../header-steps.ts';
import { acquireSourceLock } from '../lock.ts';
import { sourceLabel } from '../names.ts';
import { offsetWords } from '../device-steps.ts';
import { recordCommand } from '../state.ts';
import { assertSourceAvailable } from '../source-checks.ts';
import { OperationError } from '../../shared/errors.ts';
import { sanitizePeerText } from '../../shared/protocol/channel.ts';
import type { HeaderParsed } from '../../shared/protocol/messages.ts';

/** The report for scripts: every fact under a stable name (offsets in 512-byte sectors, as cryptsetup's luksDump shows them). */
function asJson(source: string, parsed: HeaderParsed, warnings: readonly string[]): string {
  return JSON.stringify({
    source,
    type: parsed.luksType,
    uuid: parsed.uuid,
    cipher: parsed.cipher,
    keyBits: parsed.keyBytes * 8,
    sectorSize: parsed.sectorSize,
    dataOffsetSectors: parsed.dataOffset,
    headerBytes: parsed.headerBytes,
    headerCopy: parsed.copy,
    keyslots: parsed.keyslots.map((slot) =>
      slot.kdf === 'pbkdf2'
        ? { id: slot.id, kdf: slot.kdf, hash: slot.hash, iterations: slot.iterations, areaCipher: slot.areaCipher }
        : { id: slot.id, kdf: slot.kdf, passes: slot.iterations, memoryKiB: slot.memoryKiB, parallel: slot.parallel, areaCipher: slot.areaCipher },
    ),
    warnings,
    headerVmWarnings: vmWarnings(parsed),
  });
}

function asText(source: string, parsed: HeaderParsed, warnings: readonly string[]): string {
  const copy = parsed.copy === 'primary' ? '' : ' (from its secondary copy)';
  return [
    `${source}: ${parsed.luksType} ${parsed.uuid}${copy}`,
    `  cipher:      ${parsed.cipher}, ${parsed.keyBytes * 8}-bit key, ${parsed.sectorSize}-byte sectors`,
    `  data:        at ${offsetWords(parsed)}; the header takes ${parsed.headerBytes} bytes`,
    ...(parsed.keyslots.length === 0 ? ['  key slots:   none'] : parsed.keyslots.map((slot, i) => `  ${i === 0 ? 'key slots:  ' : '            '} ${slotWords(slot)}`)),
    ...warnings.map((warning) => `  warning:     ${warning}`),
    ...vmWarnings(parsed).map((warning) => `  header VM:   ${warning}`),
  ].join('\n');
}

export async function inspectCommand(command: InspectCommand, { stack, config, qubes }: CommandContext): Promise<void> {
  const label = sourceLabel(command.source);
  await acquireSourceLock(command.source, stack);
  await assertSourceAvailable(qubes, command.source);
  const settings = await resolveDispVmSettings(qubes, config);
  // Recorded like an overwrite, so `cleanup` removes the VMs of an inspect killed without unwinding.
  const recorder = await recordCommand({ source: command.source, phase: 'inspecting', readOnly: true }, stack);
  const vms = await startDispVMs(qubes, ['device', 'header'], settings.template, settings.label, stack, (vm) => recorder.add(vm));
  await recorder.update({ deviceVm: vms.device });
  await prepareDeviceVm(qubes, vms.device, settings.template);
  // Read-only: looking must never be able to change the disk.
  await attachSource(qubes, vms.device, command.source, true, stack);
  const found = await withDeviceHeaderSource(qubes, vms.device, (source) => inspectInHeaderVm(qubes, vms.header, source));
  await stack.unwind();
  if (found.kind === 'absent') throw new OperationError(`${label} holds no LUKS header we can read (${sanitizePeerText(found.reason, 200)})`);
  const warnings = headerWarnings(found.parsed);
  process.stdout.write(`${command.json ? asJson(label, found.parsed, warnings) : asText(label, found.parsed, warnings)}\n`);
}
