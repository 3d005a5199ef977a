// The record of split attachments (and of overwrites in progress): one JSON file per source device under RUNDIR/attachments/,
// written atomically, validated when read. It holds names and uuids only, never a secret: enough for `status`, `detach` and
// `cleanup` to find everything again. Why so strict: whoever can write the run directory can plant a record, and a record
// makes dom0 kill qubes; so a record may name only DisposableVMs of ours (DISPVM_NAME), each with the uuid it had when we
// created it, and files that are not small regular files are never read whole.
import { randomBytes } from 'node:crypto';
import { readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InternalError, OperationError } from '../shared/errors.ts';
import { BoundedReadError, readCapped } from './bounded-file.ts';
import type { CleanupStack } from './cleanup-stack.ts';
import { isOurDispVmName, POOLED_DISPVM_NAME, type DispVmIdentity } from './dispvms.ts';
import { FRONTEND_DEVICE, isDeviceIdentity, isDevicePort, isVmName, sourceLabel, type DeviceIdentity, type DevicePort, type SourceSpec, type VmName } from './names.ts';
import { warning } from './output.ts';
import { QUBE_UUID } from './qubes.ts';
import { runSubdir, sourceFileKey } from './run-dir.ts';

/** A record is a few hundred bytes; a bigger file is not one of ours. */
export const MAX_STATE_BYTES = 64 * 1024;

// Source names keep their brand (callers pass them on as SourceSpec); the VM names this tool generates stay plain strings.
const deviceIdentity = z.string().refine(isDeviceIdentity, 'not a device identity').transform((id) => id as DeviceIdentity);
const sourceVm = z.string().refine(isVmName, 'not a qube name').transform((name) => name as VmName);
const devicePort = z.string().refine(isDevicePort, 'not a device name').transform((port) => port as DevicePort);
const vmName = z.string().refine((name): boolean => isVmName(name), 'not a qube name');
/** Only qubes this tool creates can be destroyed from a record: `sys-usb` or `work` in a record is corruption. */
// A pooled disposable (dispNNNN) too: destroying one from a record also needs our tag on it (dispvms.ts checkRecordedVm).
const ourVmName = z.string().refine(isOurDispVmName, 'not the name of a DisposableVM of qvm-block-split');
/**
 * A hand-out asked of a preloaded pool whose answer is not recorded yet: the pool's members when it was asked. If the command
 * dies before it learns which qube it got, `cleanup` looks among them (preloaded.ts removeUnclaimedHandOuts).
 */
const handOutIntent = z
  .object({
    role: z.enum(['device', 'header', 'verify', 'destination']),
    template: vmName,
    candidates: z.array(z.string().regex(POOLED_DISPVM_NAME)).max(64),
    requestedAt: z.string().datetime(),
  })
  .strict();
export type HandOutIntent = z.infer<typeof handOutIntent>;
const vmIdentity = z.object({ name: ourVmName, uuid: z.string().regex(QUBE_UUID, 'not a qube uuid') }).strict();

const AttachmentStateSchema = z
  .object({
    source: z.object({ backend: sourceVm, port: devicePort, deviceId: deviceIdentity.optional() }).strict(),
    /** '' until the device DisposableVM has a name; then one of createdVms. */
    deviceVm: z.union([z.literal(''), ourVmName]),
    headerVm: ourVmName.optional(),
    mapping: z
      .object({ name: z.string().regex(/^[A-Za-z0-9_.+-]{1,127}$/), device: z.string().regex(/^dm-[0-9]{1,6}$/) })
      .strict()
      .nullable(),
    /** Any qube may be the destination: it is only ever detached from, never killed unless it is also in createdVms. */
    // `frontend`: the device name the destination gave the disk (xvdi...), as Qubes listed it when the attach finished.
    destination: z.object({ vm: vmName, createdByUs: z.boolean(), frontend: z.string().regex(FRONTEND_DEVICE).optional() }).strict().nullable(),
    readOnly: z.boolean(),
    /** 'overwriting' / 'inspecting': a command that holds the source only while it runs; its VMs go when it ends. */
    phase: z.enum(['attaching', 'attached', 'detaching', 'overwriting', 'inspecting']),
    createdVms: z.array(vmIdentity).max(16),
    handOuts: z.array(handOutIntent).max(8).optional(),
    createdAt: z.string().datetime(),
  })
  .strict()
  .superRefine((state, context) => {
    const names = state.createdVms.map((vm) => vm.name);
    if (new Set(names).size !== names.length) context.addIssue({ code: 'custom', path: ['createdVms'], message: 'a qube is listed twice' });
    // Why: the device VM is killed and detached from by name; only its recorded uuid says it is still ours.
    if (state.deviceVm !== '' && !names.includes(state.deviceVm)) context.addIssue({ code: 'custom', path: ['deviceVm'], message: 'not one of createdVms' });
  });

export type AttachmentState = z.infer<typeof AttachmentStateSchema>;
export type AttachmentPhase = AttachmentState['phase'];

const dir = () => runSubdir('attachments');
const fileOf = async (source: SourceSpec) => join(await dir(), `${sourceFileKey(source)}.json`);

/** Validates a record read from `path`; a corrupt file is an OperationError naming it. */
export function parseAttachmentState(text: string, path: string): AttachmentState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OperationError(`attachment record ${path} is corrupt: not JSON`, { cause: error });
  }
  const parsed = AttachmentStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OperationError(`attachment record ${path} is corrupt: ${issue ? `${issue.path.join('.') || 'record'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

async function readRecord(path: string): Promise<AttachmentState | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readCapped(path, MAX_STATE_BYTES, 'attachment record');
  } catch (error) {
    if (error instanceof BoundedReadError && error.problem === 'missing') return undefined;
    if (error instanceof BoundedReadError && error.problem !== 'unreadable') throw new OperationError(`attachment record ${path} is corrupt: ${error.message}`, { cause: error });
    throw error;
  }
  return parseAttachmentState(bytes.toString('utf8'), path);
}

/** Writes (replaces) the record of `state.source`: a temporary file renamed over the old one, so readers see old or new. */
export async function writeAttachmentState(state: AttachmentState): Promise<void> {
  const checked = AttachmentStateSchema.parse(state);
  const path = await fileOf(checked.source);
  const tmp = `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  // 'wx': never write through something already at the temporary name.
  await writeFile(tmp, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o640, flag: 'wx' });
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/** The record of `source`, or undefined when there is none; throws OperationError when it is corrupt. */
export async function readAttachmentState(source: SourceSpec): Promise<AttachmentState | undefined> {
  const path = await fileOf(source);
  const state = await readRecord(path);
  // Why: the file name is what callers look up by; a record describing another device would misdirect a detach.
  if (state && sourceFileKey(state.source) !== sourceFileKey(source)) {
    throw new OperationError(`attachment record ${path} is corrupt: it describes ${sourceLabel(state.source)}`);
  }
  return state;
}

/** Every record, oldest first; corrupt ones and anything that is not a regular file are skipped with a warning naming the file. */
export async function listAttachmentStates(warn: (message: string) => void = warning): Promise<AttachmentState[]> {
  const directory = await dir();
  const states: AttachmentState[] = [];
  const entries = (await readdir(directory, { withFileTypes: true })).filter((entry) => entry.name.endsWith('.json'));
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(directory, entry.name);
    if (!entry.isFile()) {
      warn(`attachment record ${path} is not a regular file; skipped (remove it)`);
      continue;
    }
    try {
      const state = await readRecord(path);
      if (state && `${sourceFileKey(state.source)}.json` === entry.name) states.push(state);
      else if (state) warn(`attachment record ${path} is corrupt: it describes ${sourceLabel(state.source)}; skipped`);
    } catch (error) {
      warn(`${(error as Error).message}; skipped (remove it if no such attachment exists)`);
    }
  }
  return states.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Removes the record of `source`; no record is fine. */
export async function removeAttachmentState(source: SourceSpec): Promise<void> {
  await unlink(await fileOf(source)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** The recorded identity of `name` in `state`, or undefined when the record does not list it. */
export function recordedVm(state: AttachmentState, name: string): DispVmIdentity | undefined {
  return state.createdVms.find((vm) => vm.name === name);
}

/** Every qube a record names (created VMs, device VM, destination). */
export function vmsNamedBy(state: AttachmentState): string[] {
  return [...state.createdVms.map((vm) => vm.name), state.deviceVm, state.destination?.vm ?? ''].filter((name) => name !== '');
}

/** The DisposableVMs `state` lists that another record lists too: never the case for records we wrote (names are unique). */
export function vmsSharedWith(state: AttachmentState, others: readonly AttachmentState[]): string[] {
  const elsewhere = new Set(others.filter((other) => sourceFileKey(other.source) !== sourceFileKey(state.source)).flatMap((other) => other.createdVms.map((vm) => vm.name)));
  return state.createdVms.map((vm) => vm.name).filter((name) => elsewhere.has(name));
}

type RecordChange = Partial<Pick<AttachmentState, 'deviceVm' | 'mapping' | 'destination' | 'readOnly' | 'phase'>>;

/** The record of one running command, kept up to date as it acquires things; writes land in the order they are made. */
export class AttachmentRecorder {
  private written: Promise<void> = Promise.resolve();

  constructor(private readonly state: AttachmentState) {}

  /** Changes fields of the record and writes it. */
  update(change: RecordChange): Promise<void> {
    Object.assign(this.state, change);
    return this.write();
  }

  /** Adds a DisposableVM the command created (by its identity) and writes the record. */
  add(vm: DispVmIdentity): Promise<void> {
    this.state.createdVms = [...this.state.createdVms, { name: vm.name, uuid: vm.uuid }];
    return this.write();
  }

  /** Notes a pool hand-out about to be asked for (written before the call). */
  intend(intent: HandOutIntent): Promise<void> {
    this.state.handOuts = [...(this.state.handOuts ?? []), intent];
    return this.write();
  }

  /** The hand-out's qube is known (and recorded or removed): the intent goes. */
  settle(intent: HandOutIntent): Promise<void> {
    const rest = (this.state.handOuts ?? []).filter((pending) => pending !== intent);
    if (rest.length > 0) this.state.handOuts = rest;
    else delete this.state.handOuts;
    return this.write();
  }

  /** Drops a DisposableVM that is gone, so `status` and `cleanup` no longer name it. */
  forget(name: string): Promise<void> {
    this.state.createdVms = this.state.createdVms.filter((vm) => vm.name !== name);
    return this.write();
  }

  /** The identity recorded for `name`, one of the VMs added. */
  vm(name: string): DispVmIdentity {
    const found = recordedVm(this.state, name);
    if (!found) throw new InternalError(`${name} is not recorded`);
    return found;
  }

  private write(): Promise<void> {
    // Why chained: VMs created in parallel report at once; each write takes a snapshot, and they land in order.
    const snapshot: AttachmentState = { ...this.state, createdVms: [...this.state.createdVms], ...(this.state.handOuts ? { handOuts: [...this.state.handOuts] } : {}) };
    this.written = this.written.then(() => writeAttachmentState(snapshot));
    return this.written;
  }
}

/**
 * Starts the record of a command on `source`, written at once (so `cleanup` can finish its work if the process dies without
 * unwinding, and `status` shows it), and registers its removal on `stack` (dropped by commit() when an attach succeeds).
 */
export async function recordCommand(
  start: { readonly source: SourceSpec; readonly phase: AttachmentPhase; readonly readOnly: boolean },
  stack: CleanupStack,
): Promise<AttachmentRecorder> {
  const recorder = new AttachmentRecorder({
    source: start.source,
    deviceVm: '',
    mapping: null,
    destination: null,
    readOnly: start.readOnly,
    phase: start.phase,
    createdVms: [],
    createdAt: new Date().toISOString(),
  });
  stack.defer(`forget the record of ${sourceLabel(start.source)}`, () => removeAttachmentState(start.source));
  await recorder.update({});
  return recorder;
}
