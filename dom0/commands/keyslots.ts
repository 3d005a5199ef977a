// add-key, change-key, remove-key and upgrade: key-slot changes without a shell. A fresh verify VM reads the disk's header first
// (the "before", and the facts the result must keep); a header DisposableVM asks for the existing secret (and the new one), makes
// the change and returns the new header area, opaque to dom0 and exactly as long as what it was sent; the verify VM parses that
// area (the "after"); dom0 checks that the change is the one asked for and keeps the volume's key and data where they were, shows
// the key slots before and after, asks, and writes the area through the device VM in one write.
import { OperationError } from '../../shared/errors.ts';
import { sanitizePeerText } from '../../shared/protocol/channel.ts';
import { HEADER_PROBE_BYTES, type HeaderParsed, type KeyslotOperation } from '../../shared/protocol/messages.ts';
import type { KeyslotCommand } from '../cli.ts';
import type { CommandContext } from '../command-context.ts';
import { assertAtLeast, assertConfirmable, diskWords, setUpWrite } from '../destructive.ts';
import { withDeviceHeaderSource } from '../device-steps.ts';
import { inspectInHeaderVm, keyslotsInHeaderVm, type HeaderFacts, type KeyslotsSettings } from '../header-steps.ts';
import { rewriteHeaderArea } from '../header-rewrite.ts';
import { describeHeader, slotWords } from '../header-summary.ts';
import { misbehaving, type HeaderSource } from '../header-transfer.ts';
import { info } from '../output.ts';
import { ProgressLine } from '../progress.ts';
import { sizeWords } from '../source-checks.ts';

const OPERATION: Readonly<Record<KeyslotCommand['command'], KeyslotOperation>> = { 'add-key': 'add', 'change-key': 'change', 'remove-key': 'remove', upgrade: 'upgrade' };

/** What the header VM is asked: only the fields of this operation (the VM refuses any other). */
function settingsOf(command: KeyslotCommand): KeyslotsSettings {
  const operation = OPERATION[command.command];
  const { kdf } = command;
  return {
    operation,
    force: operation === 'remove' && command.force,
    ...(operation === 'add' && command.keySlot !== undefined ? { keySlot: command.keySlot } : {}),
    ...(operation === 'remove' ? {} : {
      ...(kdf.iterTimeMs === undefined ? {} : { iterTimeMs: kdf.iterTimeMs }),
      ...(kdf.forcedIterations === undefined ? {} : { forcedIterations: kdf.forcedIterations }),
      ...(kdf.pbkdf === undefined || operation === 'upgrade' ? {} : { pbkdf: kdf.pbkdf }),
      ...(kdf.pbkdfMemoryKiB === undefined ? {} : { pbkdfMemoryKiB: kdf.pbkdfMemoryKiB }),
    }),
  };
}

const slotIds = (parsed: HeaderParsed): number[] => parsed.keyslots.map((slot) => slot.id);
const sameIds = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((id, i) => id === b[i]);
const slotList = (parsed: HeaderParsed): string => (parsed.keyslots.length === 0 ? 'none' : parsed.keyslots.map(slotWords).join('; '));

/** The header VM's report must be the header the verify VM read, and must place the data past every byte it was sent. */
function checkSameHeader({ parsed, sentBytes }: HeaderFacts, before: HeaderParsed, peer: string): void {
  const fields = ['luksType', 'uuid', 'cipher', 'keyBytes', 'dataOffset', 'sectorSize'] as const;
  const differs = fields.find((field) => parsed[field] !== before[field]);
  if (differs) throw misbehaving(peer, `it reported another ${differs} than the verify VM read from the same disk`);
  if (!sameIds(slotIds(parsed), slotIds(before))) throw misbehaving(peer, 'it reported other key slots than the verify VM read from the same disk');
  if (parsed.dataOffset * 512 < sentBytes) throw misbehaving(peer, `it was sent ${sentBytes} bytes, past the data at byte ${parsed.dataOffset * 512}`);
}

/** Why the new header is not the change asked for, or undefined. The volume key and the data stay: same UUID, cipher, key size, data. */
function resultProblem(operation: KeyslotOperation, before: HeaderParsed, after: HeaderParsed, keySlot: number | undefined, length: number): string | undefined {
  for (const field of ['uuid', 'cipher', 'keyBytes', 'dataOffset', 'sectorSize'] as const) {
    if (after[field] !== before[field]) return `its ${field} changed`;
  }
  if (after.dataOffset * 512 < length) return `it places the data at byte ${after.dataOffset * 512}, inside the ${length} bytes to write`;
  const old = slotIds(before);
  const now = slotIds(after);
  switch (operation) {
    case 'add': {
      const added = now.filter((id) => !old.includes(id));
      if (now.length !== old.length + 1 || added.length !== 1 || (keySlot !== undefined && added[0] !== keySlot)) return `its key slots are ${now.join(', ')}, not ${old.join(', ')} and one more${keySlot === undefined ? '' : ` (${keySlot})`}`;
      break;
    }
    case 'remove':
      if (now.length !== old.length - 1 || !now.every((id) => old.includes(id))) return `its key slots are ${now.join(', ') || 'none'}, not one fewer than ${old.join(', ')}`;
      break;
    case 'change':
    case 'upgrade':
      if (!sameIds(now, old)) return `its key slots are ${now.join(', ')}, not ${old.join(', ')}`;
  }
  if (operation === 'upgrade' && (after.luksType !== 'luks2' || !after.keyslots.some((slot) => slot.kdf === 'argon2id'))) return 'it is not luks2 with an argon2id key slot';
  if (operation !== 'upgrade' && after.luksType !== before.luksType) return `it is ${after.luksType}, not ${before.luksType}`;
  return undefined;
}

function doneWords(command: KeyslotCommand, before: HeaderParsed, after: HeaderParsed): string {
  const added = slotIds(after).filter((id) => !slotIds(before).includes(id));
  const removed = slotIds(before).filter((id) => !slotIds(after).includes(id));
  switch (command.command) {
    case 'add-key':
      return `added key slot ${added.join(', ')}`;
    case 'remove-key':
      return `removed key slot ${removed.join(', ')}`;
    case 'change-key':
      return 'changed the key slot the old secret opened';
    case 'upgrade':
      return before.luksType === 'luks1' ? 'converted the header to luks2 and re-wrapped the key slot with argon2id' : 're-wrapped the key slot with argon2id';
  }
}

export async function keyslotCommand(command: KeyslotCommand, context: CommandContext): Promise<void> {
  const { stack, qubes } = context;
  const { source, yes } = command;
  const operation = OPERATION[command.command];
  assertConfirmable(yes, command.command, 'rewrites the header and needs confirmation');
  const { vms, disk } = await setUpWrite(context, source, ['device', 'header', 'verify']);
  assertAtLeast(disk, HEADER_PROBE_BYTES, 'a LUKS header');
  const openSource = <T>(work: (source: HeaderSource) => Promise<T>): Promise<T> => withDeviceHeaderSource(qubes, vms.device, work);
  // The "before", from the VM that only parses: the facts the header VM must report, and what is shown against the result.
  const found = await openSource((device) => inspectInHeaderVm(qubes, vms.verify, device));
  if (found.kind === 'absent') throw new OperationError(`${disk.label} holds no LUKS header we can use (${sanitizePeerText(found.reason, 200)}): nothing was changed`);
  const before = found.parsed;
  // Said before any secret is asked: the header VM refuses it too.
  if (operation === 'remove' && !command.force && before.keyslots.length <= 1) {
    throw new OperationError(`${disk.label} has ${before.keyslots.length === 0 ? 'no key slot' : `one key slot left (${before.keyslots[0]!.id})`}: removing it destroys access to the data; use --force to do it anyway`);
  }
  let progress: ProgressLine | undefined;
  const { area } = await openSource((device) =>
    keyslotsInHeaderVm(qubes, vms.header, settingsOf(command), device, { target: disk.label, keyFile: command.keyFile, newKeyFile: command.newKeyFile }, async (facts) => checkSameHeader(facts, before, `header VM ${vms.header}`), (elapsedMs, expectedMs) => {
      progress ??= new ProgressLine(`deriving the new key slot in ${vms.header}`);
      progress.updateTime(elapsedMs, expectedMs);
    }),
  );
  progress?.finishTime();
  const outcome = await rewriteHeaderArea(qubes, {
    device: vms.device,
    verify: vms.verify,
    disk,
    area,
    what: `the header ${vms.header} returned`,
    extent: (after) => {
      const problem = resultProblem(operation, before, after, command.keySlot, area.length);
      if (problem) throw new OperationError(`the header ${vms.header} returned is not the ${command.command} asked for (${problem}): nothing was written to ${disk.label}`);
      return area.length;
    },
    openSource,
    show: (after) => `${vms.verify} checked the new header: ${describeHeader(after)}\n  key slots before: ${slotList(before)}\n  key slots after:  ${slotList(after)}`,
    question: (after, length) => `This writes the new ${after.luksType} header (the first ${sizeWords(length)}) over ${diskWords(disk)}: key slots ${slotIds(before).join(', ') || 'none'} -> ${slotIds(after).join(', ') || 'none'}.`,
    yes,
  });
  if (outcome.kind === 'unchanged') throw new OperationError(`the header ${vms.header} returned is the disk's own, unchanged: nothing was written to ${disk.label}`);
  await stack.unwind();
  info(`${doneWords(command, before, outcome.parsed)} of ${disk.label}; ${outcome.bytes} bytes written`);
}
