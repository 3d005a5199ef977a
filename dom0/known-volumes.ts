// Known volumes: one small `key=value` file per volume in /etc/split-dm-crypt/volumes.d/NAME.conf, written by `remember`, read by
// `attach NAME`, `list` and (by UUID) every attach. A file is parsed strictly: an unknown or repeated key, a missing field or a
// malformed value makes the whole file unusable (named, with its field), never half-applied. The pin (shared/volume-pin.ts) is
// what makes a volume known: the device VM maps a known volume only when its key and layout give the pin remembered.
import { link, readdir, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { OperationError, UsageError } from '../shared/errors.ts';
import type { LuksType } from '../shared/protocol/contract.ts';
import { PIN_PATTERN } from '../shared/volume-pin.ts';
import { BoundedReadError, readCapped } from './bounded-file.ts';
import { parseKeyFileSpec, parseSourceSpec, parseVmName, quoteRaw, sourceLabel, type KeyFileSpec, type SourceSpec, type VmName } from './names.ts';

export const DEFAULT_VOLUMES_DIR = '/etc/split-dm-crypt/volumes.d';
/** A volume file is a dozen lines. */
const MAX_VOLUME_FILE_BYTES = 4096;
/** More files than anyone remembers volumes: a directory past it is refused rather than read without end. */
const MAX_VOLUME_FILES = 256;
const VOLUME_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A description as Qubes listed it, kept for the user only; printable ASCII so the file stays one line per key. */
const DESCRIPTION = /^[\x20-\x7e]{0,120}$/;

export interface KnownVolume {
  readonly name: string;
  readonly source: SourceSpec;
  /** What Qubes called the device when it was remembered (informational: the pin is the check). */
  readonly description: string;
  readonly luksType: LuksType;
  readonly uuid: string;
  readonly pin: string;
  /** undefined: a new offline DisposableVM. */
  readonly destination: VmName | undefined;
  readonly readOnly: boolean;
  readonly keyFile: KeyFileSpec | undefined;
  /** A non-default data offset the user accepted when remembering (512-byte sectors). */
  readonly dataOffset: number | undefined;
  readonly autoAttach: boolean;
}

/** $SPLIT_DM_CRYPT_VOLUMES when set (tests, the simulator), else /etc/split-dm-crypt/volumes.d. */
export function volumesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPLIT_DM_CRYPT_VOLUMES || DEFAULT_VOLUMES_DIR;
}

/** A volume's name as the user gives it: lowercase letters, digits, `_` and `-`, at most 32, never looking like a source. */
export function parseVolumeName(raw: string, what = 'volume NAME'): string {
  if (!VOLUME_NAME.test(raw)) throw new UsageError(`${what} expects 1 to 32 lowercase letters, digits, _ or - (starting with a letter or digit), received ${quoteRaw(raw)}`);
  return raw;
}

const FIELDS = ['source', 'description', 'type', 'uuid', 'pin', 'destination', 'read-only', 'key-file', 'data-offset', 'auto-attach'] as const;
type Field = (typeof FIELDS)[number];
const REQUIRED: readonly Field[] = ['source', 'type', 'uuid', 'pin', 'destination', 'read-only', 'auto-attach'];

/** A file that is not a usable volume: which file, which line or field, what is wrong. */
export class VolumeFileError extends OperationError {}

function yesNo(value: string, field: Field, where: string): boolean {
  if (value === 'yes') return true;
  if (value === 'no') return false;
  throw new VolumeFileError(`${where}: ${field} expects yes or no, received ${quoteRaw(value)}`);
}

/** Parses one volume file's text; `name` comes from the file name. */
export function parseVolumeText(name: string, text: string, path: string): KnownVolume {
  const values: Partial<Record<Field, string>> = Object.create(null);
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const where = `${path} line ${index + 1}`;
    const match = /^([a-z-]+)=(.*)$/.exec(line);
    if (!match) throw new VolumeFileError(`${where}: expected key=value, received ${quoteRaw(line)}`);
    const [, key, value] = match as unknown as [string, string, string];
    if (!(FIELDS as readonly string[]).includes(key)) throw new VolumeFileError(`${where}: unknown field ${quoteRaw(key)} (known: ${FIELDS.join(', ')})`);
    if (Object.hasOwn(values, key)) throw new VolumeFileError(`${where}: ${key} is set twice`);
    values[key as Field] = value;
  });
  for (const field of REQUIRED) if (values[field] === undefined) throw new VolumeFileError(`${path}: the field ${field} is missing`);
  const field = (key: Field): string => values[key]!;
  const at = (key: Field) => `${path}: ${key}`;
  // The name parsers throw UsageErrors; in a file they are the file's fault, said with the file's name.
  const parsed = <T>(key: Field, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new VolumeFileError(`${at(key)}: ${(error as Error).message}`);
    }
  };
  const type = field('type');
  if (type !== 'luks1' && type !== 'luks2') throw new VolumeFileError(`${at('type')} expects luks1 or luks2, received ${quoteRaw(type)}`);
  if (!UUID.test(field('uuid'))) throw new VolumeFileError(`${at('uuid')} expects a lowercase UUID, received ${quoteRaw(field('uuid'))}`);
  if (!PIN_PATTERN.test(field('pin'))) throw new VolumeFileError(`${at('pin')} expects 64 lowercase hex digits, received ${quoteRaw(field('pin'))}`);
  const description = values.description ?? '';
  if (!DESCRIPTION.test(description)) throw new VolumeFileError(`${at('description')} expects at most 120 printable characters`);
  const offset = values['data-offset'];
  if (offset !== undefined && (!/^[1-9][0-9]{0,14}$/.test(offset) || Number(offset) > 2 ** 48)) throw new VolumeFileError(`${at('data-offset')} expects a sector number, received ${quoteRaw(offset)}`);
  const destination = field('destination');
  return {
    name,
    source: parsed('source', () => parseSourceSpec(field('source'))),
    description,
    luksType: type,
    uuid: field('uuid'),
    pin: field('pin'),
    destination: destination === '@dispvm' ? undefined : parsed('destination', () => parseVmName(destination, 'destination')),
    readOnly: yesNo(field('read-only'), 'read-only', path),
    keyFile: values['key-file'] === undefined ? undefined : parsed('key-file', () => parseKeyFileSpec(values['key-file']!)),
    dataOffset: offset === undefined ? undefined : Number(offset),
    autoAttach: yesNo(field('auto-attach'), 'auto-attach', path),
  };
}

function keyFileText(spec: KeyFileSpec): string {
  // A dom0 path is stored absolute: relative to where `remember` ran means nothing later, and `a:b` would read as a VM path.
  return spec.kind === 'vm' ? `${spec.vm}:${spec.path}` : resolve(spec.path);
}

/** The file text for `volume`; what it writes parses back to the same volume (tested). */
export function volumeText(volume: KnownVolume): string {
  const lines = [
    `# Known volume '${volume.name}', written by qvm-block-split remember. Every line is checked when read: a file that does not`,
    '# parse is skipped whole. The pin proves the key: re-formatting the volume means forgetting it and remembering it again.',
    // R4.3's device identity, when the user named one, stays part of the source: Qubes then attaches the port only while it
    // holds that device.
    `source=${sourceLabel(volume.source)}${volume.source.deviceId === undefined ? '' : `:${volume.source.deviceId}`}`,
    `description=${volume.description}`,
    `type=${volume.luksType}`,
    `uuid=${volume.uuid}`,
    `pin=${volume.pin}`,
    `destination=${volume.destination ?? '@dispvm'}`,
    `read-only=${volume.readOnly ? 'yes' : 'no'}`,
    ...(volume.keyFile ? [`key-file=${keyFileText(volume.keyFile)}`] : []),
    ...(volume.dataOffset !== undefined ? [`data-offset=${volume.dataOffset}`] : []),
    `auto-attach=${volume.autoAttach ? 'yes' : 'no'}`,
  ];
  const text = `${lines.join('\n')}\n`;
  // Fail here rather than write a file that the next read refuses (a control character in a dom0 key-file path, say).
  parseVolumeText(volume.name, text, `volume ${volume.name}`);
  return text;
}

/** Turns what Qubes lists as a description into what a volume file may hold. */
export function storableDescription(description: string): string {
  return description.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

/**
 * Which known volumes' drives Qubes lists now: `qvm-block list` of each source qube once (a qube that cannot be listed, e.g.
 * not running, has none). Keyed by `backend:port`.
 */
export async function presentSources(volumes: readonly KnownVolume[], listBlocks: (backend: string) => Promise<readonly { backend: string; port: string }[]>): Promise<Set<string>> {
  const backends = [...new Set(volumes.map((volume) => volume.source.backend))];
  const rows = await Promise.all(backends.map((backend) => listBlocks(backend).catch(() => [])));
  return new Set(rows.flat().map((row) => `${row.backend}:${row.port}`));
}

export type VolumeEntry = { readonly kind: 'volume'; readonly volume: KnownVolume } | { readonly kind: 'broken'; readonly name: string; readonly problem: string };

function pathOf(name: string, dir = volumesDir()): string {
  return join(dir, `${name}.conf`);
}

/** Every file in the directory, parsed; broken ones are reported as such. A missing directory means no volumes. */
export async function listKnownVolumes(dir = volumesDir()): Promise<VolumeEntry[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((file) => file.endsWith('.conf')).map((file) => file.slice(0, -'.conf'.length)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OperationError(`cannot read ${dir}: ${(error as Error).message}`);
  }
  if (names.length > MAX_VOLUME_FILES) throw new OperationError(`${dir} holds more than ${MAX_VOLUME_FILES} volume files: refusing to read them`);
  const entries: VolumeEntry[] = [];
  for (const name of names) {
    const path = pathOf(name, dir);
    try {
      if (!VOLUME_NAME.test(name)) throw new VolumeFileError(`${path}: the file name is not a volume name (lowercase letters, digits, _ and -)`);
      const bytes = await readCapped(path, MAX_VOLUME_FILE_BYTES, 'volume file');
      entries.push({ kind: 'volume', volume: parseVolumeText(name, bytes.toString('utf8'), path) });
    } catch (error) {
      if (!(error instanceof VolumeFileError || error instanceof BoundedReadError)) throw error;
      entries.push({ kind: 'broken', name, problem: error.message });
    }
  }
  return entries;
}

/** The volume called `name`; an error when it is unknown or its file does not parse. */
export async function readKnownVolume(name: string, dir = volumesDir()): Promise<KnownVolume> {
  const path = pathOf(name, dir);
  let bytes: Buffer;
  try {
    bytes = await readCapped(path, MAX_VOLUME_FILE_BYTES, 'volume file');
  } catch (error) {
    if (error instanceof BoundedReadError && error.problem === 'missing') throw new OperationError(`no known volume '${name}' (see 'qvm-block-split list')`);
    throw error;
  }
  return parseVolumeText(name, bytes.toString('utf8'), path);
}

/** Stores a new volume; refuses to replace one (forget it first). Written whole or not at all. */
export async function storeKnownVolume(volume: KnownVolume, dir = volumesDir()): Promise<string> {
  const text = volumeText(volume);
  const path = pathOf(volume.name, dir);
  const tmp = join(dir, `.${volume.name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644, flag: 'wx' });
    // link() creates the name only if it is absent, atomically: a volume is never replaced by accident, and readers see the
    // whole file or none.
    await link(tmp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OperationError(`a known volume '${volume.name}' already exists: 'qvm-block-split forget ${volume.name}' first`);
    if (code === 'ENOENT') throw new OperationError(`cannot write ${path}: ${dir} does not exist (it is made when split-dm-crypt is installed in dom0)`);
    throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return path;
}

/** Removes the volume's file; an error when there is none. */
export async function forgetKnownVolume(name: string, dir = volumesDir()): Promise<void> {
  try {
    await unlink(pathOf(name, dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new OperationError(`no known volume '${name}' (see 'qvm-block-split list')`);
    throw error;
  }
}
