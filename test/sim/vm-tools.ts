// Fake tools inside a simulated VM: dmsetup (strict crypt tables, read-only like the kernel, busy while exported), blockdev, sync.
import { mkdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readState, SimToolError, vmRoot, withState, type SimState } from './state.ts';

const TABLE = /^0 ([0-9]+) crypt aes-xts-plain64 ([0-9a-f]{64}|[0-9a-f]{128}) ([0-9]+) (\/dev\/[a-z0-9]+) ([0-9]+)( 1 sector_size:4096)?\n?$/;

/** The attachment behind /dev/NAME in `vm`, or undefined. */
function attachmentAt(state: SimState, vm: string, path: string) {
  const dev = /^\/dev\/([a-z0-9]+)$/.exec(path)?.[1];
  return state.attachments.find((a) => a.frontend === vm && a.frontendDev === dev);
}

/** Size in 512-byte sectors of /dev/NAME in `vm`. */
function sectorsOf(dir: string, state: SimState, vm: string, path: string): number {
  const node = join(vmRoot(dir, vm), path);
  try {
    return Math.floor(statSync(readlinkSync(node)).size / 512);
  } catch {
    const mapping = state.mappings[vm]?.find((m) => `/dev/dm-${m.minor}` === path || `/dev/mapper/${m.name}` === path);
    if (mapping) return Number(mapping.table.split(' ')[1]);
    throw new SimToolError(`blockdev: cannot open ${path}: No such file or directory`);
  }
}

export function blockdev(dir: string, vm: string, args: readonly string[]): string {
  const [flag, path] = args;
  const sectors = sectorsOf(dir, readState(dir), vm, path ?? '');
  if (flag === '--getsz') return `${sectors}\n`;
  if (flag === '--getsize64') return `${sectors * 512}\n`;
  throw new SimToolError(`blockdev: unsupported option ${flag ?? ''}`);
}

export function dmsetup(dir: string, vm: string, args: readonly string[], stdin: Buffer): string {
  const [verb, name] = args;
  if (verb === 'create' && name) return dmCreate(dir, vm, name, args.includes('--readonly') || args.includes('-r'), stdin.toString('latin1'));
  if (verb === 'remove' && name) return dmRemove(dir, vm, name);
  if (verb === 'table' && name) {
    const mapping = readState(dir).mappings[vm]?.find((m) => m.name === name);
    if (!mapping) throw new SimToolError(`device-mapper: table ioctl on ${name} failed: No such device or address`);
    // Like dmsetup without --showkeys: the key is not printed.
    return `${mapping.table.replace(/ [0-9a-f]{64,128} /, (k) => ` ${'0'.repeat(k.length - 2)} `)}\n`;
  }
  if (verb === 'ls') return (readState(dir).mappings[vm] ?? []).map((m) => `${m.name}\t(253:${m.minor})\n`).join('') || 'No devices found\n';
  throw new SimToolError(`dmsetup: unsupported command ${verb ?? ''}`);
}

function dmCreate(dir: string, vm: string, name: string, readOnly: boolean, table: string): string {
  const match = TABLE.exec(table);
  if (!match) throw new SimToolError(`device-mapper: reload ioctl on ${name}  failed: Invalid argument\nCommand failed.`);
  return withState(dir, (state) => {
    const mappings = (state.mappings[vm] ??= []);
    if (mappings.some((m) => m.name === name)) throw new SimToolError(`device-mapper: create ioctl on ${name}  failed: Device or resource busy\nCommand failed.`);
    const [, length, , , device, offset] = match;
    const attachment = attachmentAt(state, vm, device!);
    if (!attachment) throw new SimToolError(`device-mapper: reload ioctl on ${name}  failed: No such device or address\nCommand failed.`);
    if (Number(length) + Number(offset) > sectorsOf(dir, state, vm, device!)) throw new SimToolError(`device-mapper: reload ioctl on ${name}  failed: Invalid argument\nCommand failed.`);
    // The kernel refuses a writable table over a read-only disk.
    if (attachment.readOnly && !readOnly) throw new SimToolError(`device-mapper: reload ioctl on ${name}  failed: Permission denied\nCommand failed.`);
    const minor = [...Array(mappings.length + 1).keys()].find((n) => !mappings.some((m) => m.minor === n))!;
    mappings.push({ name, minor, table: table.trim(), readOnly });
    const root = vmRoot(dir, vm);
    mkdirSync(join(root, 'sys/block', `dm-${minor}`, 'dm'), { recursive: true });
    writeFileSync(join(root, 'sys/block', `dm-${minor}`, 'dm', 'name'), `${name}\n`);
    writeFileSync(join(root, 'sys/block', `dm-${minor}`, 'ro'), readOnly ? '1\n' : '0\n');
    writeFileSync(join(root, 'sys/block', `dm-${minor}`, 'size'), `${length}\n`);
    mkdirSync(join(root, 'dev/mapper'), { recursive: true });
    writeFileSync(join(root, 'dev/mapper', name), `dm-${minor}\n`);
    writeFileSync(join(root, 'dev', `dm-${minor}`), `dm-${minor}\n`);
    // Qubes exports a new dm device with a name as VM:dm-N (description = its dm name).
    state.blocks.push({ backend: vm, port: `dm-${minor}`, readOnly, description: name, dmName: name });
    return '';
  });
}

function dmRemove(dir: string, vm: string, name: string): string {
  return withState(dir, (state) => {
    const mappings = state.mappings[vm] ?? [];
    const mapping = mappings.find((m) => m.name === name);
    if (!mapping) throw new SimToolError(`device-mapper: remove ioctl on ${name}  failed: No such device or address\nCommand failed.`);
    const port = `dm-${mapping.minor}`;
    // Attached to another qube, the device is held open by blkback.
    if (state.attachments.some((a) => a.backend === vm && a.port === port)) throw new SimToolError(`device-mapper: remove ioctl on ${name}  failed: Device or resource busy\nCommand failed.`);
    state.mappings[vm] = mappings.filter((m) => m !== mapping);
    state.blocks = state.blocks.filter((b) => !(b.backend === vm && b.port === port));
    const root = vmRoot(dir, vm);
    rmSync(join(root, 'sys/block', port), { recursive: true, force: true });
    rmSync(join(root, 'dev/mapper', name), { force: true });
    rmSync(join(root, 'dev', port), { force: true });
    return '';
  });
}

