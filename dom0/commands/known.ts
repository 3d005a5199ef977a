// Known volumes from the command line: `remember` (an attach, then the volume stored with its pin), `attach NAME`, `forget`,
// `list`. The files are dom0/known-volumes.ts's business; this is what the user asked and what they are told.
import { OperationError } from '../../shared/errors.ts';
import type { AttachCommand, AttachKnownCommand, ForgetCommand, ListCommand, RememberCommand } from '../cli.ts';
import type { CommandContext } from '../command-context.ts';
import { forgetKnownVolume, listKnownVolumes, presentSources, readKnownVolume, storableDescription, storeKnownVolume, volumesDir, type KnownVolume } from '../known-volumes.ts';
import { sourceLabel } from '../names.ts';
import { info, warning } from '../output.ts';
import { listAttachmentStates } from '../state.ts';
import { attachCommand } from './attach.ts';

export async function rememberCommand(command: RememberCommand, context: CommandContext): Promise<void> {
  // Before any VM: a name already taken (or a file under it that does not parse) is the user's to sort out.
  const taken = (await listKnownVolumes()).find((entry) => (entry.kind === 'volume' ? entry.volume.name : entry.name) === command.name);
  if (taken) throw new OperationError(`a known volume '${command.name}' already exists: 'qvm-block-split forget ${command.name}' first`);
  const { attach } = command;
  const outcome = await attachCommand(attach, context);
  const volume: KnownVolume = {
    name: command.name,
    source: attach.source,
    description: storableDescription(outcome.description),
    luksType: outcome.luksType,
    uuid: outcome.uuid,
    pin: outcome.pin,
    destination: attach.destination,
    readOnly: attach.readOnly,
    keyFile: attach.keyFile,
    dataOffset: attach.acceptedDataOffset,
    autoAttach: command.autoAttach,
  };
  try {
    const path = await storeKnownVolume(volume);
    info(`remembered ${sourceLabel(attach.source)} as volume ${command.name} (${path}); 'qvm-block-split attach ${command.name}' attaches it again`);
  } catch (error) {
    // The attach the user asked for stands; only the remembering failed, and that is the command's failure.
    throw new OperationError(`${sourceLabel(attach.source)} is attached, but volume ${command.name} was not remembered: ${(error as Error).message}`);
  }
}

/** The attach a known volume stands for: its stored settings, the pin to check, and what the caller changes (attach NAME, watch). */
export function attachOfVolume(volume: KnownVolume, changes: Partial<Pick<AttachCommand, 'destination' | 'readOnly' | 'askpass'>> = {}): AttachCommand {
  return {
    command: 'attach',
    source: volume.source,
    destination: volume.destination,
    readOnly: volume.readOnly,
    keyFile: volume.keyFile,
    luksType: volume.luksType,
    acceptedDataOffset: volume.dataOffset,
    known: volume,
    ...changes,
  };
}

export async function attachKnownCommand(command: AttachKnownCommand, context: CommandContext): Promise<void> {
  const volume = await readKnownVolume(command.name);
  const destination = command.destination === undefined ? volume.destination : command.destination === '@dispvm' ? undefined : command.destination;
  await attachCommand(attachOfVolume(volume, { destination, readOnly: command.readOnly || volume.readOnly }), context);
}

export async function forgetCommand({ name }: ForgetCommand): Promise<void> {
  await forgetKnownVolume(name);
  info(`forgot volume ${name}`);
}

type Whereabouts = { readonly state: 'attached'; readonly to: string } | { readonly state: 'busy'; readonly phase: string } | { readonly state: 'present' } | { readonly state: 'absent' };

function whereaboutsWords(where: Whereabouts): string {
  switch (where.state) {
    case 'attached':
      return `attached to ${where.to}`;
    case 'busy':
      return `${where.phase} (see 'qvm-block-split status')`;
    case 'present':
      return 'present';
    case 'absent':
      return 'absent';
  }
}

export async function listCommand({ json }: ListCommand, { qubes }: CommandContext): Promise<void> {
  const entries = await listKnownVolumes();
  if (entries.length === 0) {
    if (json) process.stdout.write('[]\n');
    else info(`no known volumes (${volumesDir()} is empty): 'qvm-block-split remember NAME ...' adds one`);
    return;
  }
  const states = await listAttachmentStates();
  // A listing that fails (a source qube not running is no failure) leaves presence unknown rather than the command failed.
  const volumes = entries.flatMap((entry) => (entry.kind === 'volume' ? [entry.volume] : []));
  const present = await presentSources(volumes, qubes.listBlocks).catch((error: unknown) => {
    warning(`cannot list block devices: ${(error as Error).message}`);
    return undefined;
  });
  const rows = entries.map((entry) => {
    if (entry.kind === 'broken') return { name: entry.name, broken: entry.problem };
    const { volume } = entry;
    const record = states.find((state) => state.source.backend === volume.source.backend && state.source.port === volume.source.port);
    const where: Whereabouts | undefined = record
      ? record.phase === 'attached' && record.destination
        ? { state: 'attached', to: record.destination.vm }
        : { state: 'busy', phase: record.phase }
      : present === undefined
        ? undefined
        : present.has(`${volume.source.backend}:${volume.source.port}`)
          ? { state: 'present' }
          : { state: 'absent' };
    return { name: volume.name, volume, where };
  });
  if (json) {
    const out = rows.map((row) =>
      'broken' in row
        ? { name: row.name, broken: row.broken }
        : {
            name: row.name,
            source: sourceLabel(row.volume.source),
            type: row.volume.luksType,
            uuid: row.volume.uuid,
            destination: row.volume.destination ?? '@dispvm',
            readOnly: row.volume.readOnly,
            autoAttach: row.volume.autoAttach,
            where: row.where?.state ?? 'unknown',
            ...(row.where?.state === 'attached' ? { attachedTo: row.where.to } : {}),
          },
    );
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  for (const row of rows) {
    if ('broken' in row) {
      process.stdout.write(`${row.name}  broken: ${row.broken}\n`);
      continue;
    }
    const { volume } = row;
    const columns = [
      volume.name,
      `source=${sourceLabel(volume.source)}`,
      `${volume.luksType}=${volume.uuid}`,
      `destination=${volume.destination ?? '@dispvm'}${volume.readOnly ? ' (read-only)' : ''}`,
      `auto-attach=${volume.autoAttach ? 'yes' : 'no'}`,
      `now=${row.where ? whereaboutsWords(row.where) : 'unknown'}`,
    ];
    process.stdout.write(`${columns.join('  ')}\n`);
  }
}
