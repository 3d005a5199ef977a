// The record of split attachments: one JSON file per source device under RUNDIR/attachments/, written atomically, validated
// when read. It holds names only, never a secret: enough for `status`, `detach` and `cleanup` to find everything again.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { OperationError } from '../shared/errors.ts';
import { isDevicePort, isVmName, sourceLabel, type DevicePort, type SourceSpec, type VmName } from './names.ts';
import { warning } from './output.ts';
import { runSubdir, sourceFileKey } from './run-dir.ts';

/** A record is a few hundred bytes; a bigger file is not one of ours. */
export const MAX_STATE_BYTES = 64 * 1024;

// Source names keep their brand (callers pass them on as SourceSpec); the VM names this tool generates stay plain strings.
const sourceVm = z.string().refine(isVmName, 'not a qube name').transform((name) => name as VmName);
const devicePort = z.string().refine(isDevicePort, 'not a device name').transform((port) => port as DevicePort);
const vmName = z.string().refine((name): boolean => isVmName(name), 'not a qube name');

const AttachmentStateSchema = z
  .object({
    source: z.object({ backend: sourceVm, port: devicePort }).strict(),
    /** '' until the device DisposableVM has a name. */
    deviceVm: z.union([z.literal(''), vmName]),
    headerVm: vmName.optional(),
    mapping: z
      .object({ name: z.string().regex(/^[A-Za-z0-9_.+-]{1,127}$/), device: z.string().regex(/^dm-[0-9]{1,6}$/) })
      .strict()
      .nullable(),
    destination: z.object({ vm: vmName, createdByUs: z.boolean() }).strict().nullable(),
    readOnly: z.boolean(),
    phase: z.enum(['attaching', 'attached', 'detaching']),
    createdVms: z.array(vmName).max(16),
    createdAt: z.string().datetime(),
  })
  .strict();

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
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperationError(`cannot read attachment record ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (bytes.length > MAX_STATE_BYTES) throw new OperationError(`attachment record ${path} is corrupt: larger than ${MAX_STATE_BYTES} bytes`);
  return parseAttachmentState(bytes.toString('utf8'), path);
}

/** Writes (replaces) the record of `state.source`: a temporary file renamed over the old one, so readers see old or new. */
export async function writeAttachmentState(state: AttachmentState): Promise<void> {
  const checked = AttachmentStateSchema.parse(state);
  const path = await fileOf(checked.source);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o640 });
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

/** Every record, oldest first; corrupt ones are skipped with a warning (status and cleanup must still work). */
export async function listAttachmentStates(warn: (message: string) => void = warning): Promise<AttachmentState[]> {
  const directory = await dir();
  const states: AttachmentState[] = [];
  for (const name of (await readdir(directory)).filter((entry) => entry.endsWith('.json')).sort()) {
    try {
      const state = await readRecord(join(directory, name));
      if (state && `${sourceFileKey(state.source)}.json` === name) states.push(state);
      else if (state) warn(`attachment record ${join(directory, name)} is corrupt: it describes ${sourceLabel(state.source)}; skipped`);
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
