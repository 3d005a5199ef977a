// Fake dmsetup inside a simulated qube: create (crypt tables only, strict, refused over a read-only disk like the kernel does),
// remove (busy while attached to another qube or held by a stacked mapping), table, info, ls. Messages are libdevmapper's.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { dmDescriptor, resolveChain } from './block-chain.ts';
import { maskKey, parseCryptTable } from './crypt-table.ts';
import { lastValue, parseToolArgs } from './tool-args.ts';
import { recordBlockChange } from './qubesd-events.ts';
import { readMappings, readState, SimToolError, vmRoot, withState, writeMappings, type SimMapping } from './state.ts';

/** device-mapper's major number for its devices. */
const DM_MAJOR = 253;
const DM_NAME = /^[A-Za-z0-9_.+-]{1,127}$/;

/** libdevmapper's report of a failed ioctl (the double space is where it prints an empty uuid). */
const ioctlError = (ioctl: string, name: string, reason: string): SimToolError =>
  new SimToolError(`device-mapper: ${ioctl} ioctl on ${name}  failed: ${reason}\nCommand failed.`, 1);

function exportNodes(dir: string, vm: string, mapping: SimMapping, lengthSectors: number, below: string): void {
  const root = vmRoot(dir, vm);
  const sys = join(root, 'sys/block', `dm-${mapping.minor}`);
  mkdirSync(join(sys, 'dm'), { recursive: true });
  writeFileSync(join(sys, 'dm', 'name'), `${mapping.name}\n`);
  writeFileSync(join(sys, 'ro'), mapping.readOnly ? '1\n' : '0\n');
  writeFileSync(join(sys, 'size'), `${lengthSectors}\n`);
  mkdirSync(join(root, 'dev/mapper'), { recursive: true });
  const descriptor = dmDescriptor({ vm, minor: mapping.minor });
  writeFileSync(join(root, 'dev', `dm-${mapping.minor}`), descriptor);
  writeFileSync(join(root, 'dev/mapper', mapping.name), descriptor);
  const holders = join(root, 'sys/block', basename(below), 'holders');
  mkdirSync(holders, { recursive: true });
  writeFileSync(join(holders, `dm-${mapping.minor}`), '');
}

function create(dir: string, vm: string, name: string, readOnly: boolean, tableText: string): void {
  if (!DM_NAME.test(name)) throw new SimToolError(`Invalid device name: ${name}\nCommand failed.`, 1);
  const table = parseCryptTable(tableText);
  withState(dir, (state) => {
    const mappings = readMappings(dir, vm);
    if (mappings.some((m) => m.name === name)) throw ioctlError('create', name, 'Device or resource busy');
    if (!table) throw ioctlError('reload', name, 'Invalid argument');
    let chain;
    try {
      chain = resolveChain(dir, vm, table.device);
    } catch {
      throw ioctlError('reload', name, 'No such device');
    }
    if (table.lengthSectors + table.offsetSectors > chain.sizeBytes / 512) throw ioctlError('reload', name, 'Invalid argument');
    // The kernel opens the device with the table's mode: read-write over a read-only disk is EACCES.
    if (!readOnly && chain.readOnly) throw ioctlError('reload', name, 'Permission denied');
    // dm claims its devices exclusively: a second mapping over the same device is EBUSY.
    if (mappings.some((m) => parseCryptTable(m.table)?.device === table.device)) throw ioctlError('reload', name, 'Device or resource busy');
    const minor = [...Array(mappings.length + 1).keys()].find((n) => !mappings.some((m) => m.minor === n))!;
    const mapping = { name, minor, table: tableText.replace(/\n$/, ''), readOnly, createdAt: Date.now() };
    writeMappings(dir, vm, [...mappings, mapping]);
    exportNodes(dir, vm, mapping, table.lengthSectors, table.device);
    // The qube exports the new dm-N to dom0 (attachments.ts exposedBlocks), and qubesd reports it.
    recordBlockChange(dir, state, vm, { [`dm-${minor}`]: { readOnly, description: name, dmMinor: minor } }, []);
  });
}

function remove(dir: string, vm: string, name: string): void {
  withState(dir, (state) => {
    const mappings = readMappings(dir, vm);
    const mapping = mappings.find((m) => m.name === name);
    if (!mapping) throw ioctlError('remove', name, 'No such device or address');
    const kernelName = `dm-${mapping.minor}`;
    // Attached to another qube, blkback holds it open; a mapping stacked on it holds it too.
    const held = mappings.some((m) => parseCryptTable(m.table)?.device === `/dev/${kernelName}` || parseCryptTable(m.table)?.device === `/dev/mapper/${name}`);
    if (held || state.attachments.some((a) => a.backend === vm && a.port === kernelName)) throw ioctlError('remove', name, 'Device or resource busy');
    writeMappings(dir, vm, mappings.filter((m) => m !== mapping));
    recordBlockChange(dir, state, vm, {}, [kernelName]);
    const root = vmRoot(dir, vm);
    rmSync(join(root, 'sys/block', kernelName), { recursive: true, force: true });
    rmSync(join(root, 'dev', kernelName), { force: true });
    rmSync(join(root, 'dev/mapper', name), { force: true });
    const below = parseCryptTable(mapping.table)?.device;
    if (below) rmSync(join(root, 'sys/block', basename(below), 'holders', kernelName), { force: true });
  });
}

function find(dir: string, vm: string, ioctl: string, name: string): SimMapping {
  const mapping = readMappings(dir, vm).find((m) => m.name === name);
  if (!mapping) throw ioctlError(ioctl, name, 'No such device or address');
  return mapping;
}

function openCount(dir: string, vm: string, mapping: SimMapping): number {
  return readState(dir).attachments.filter((a) => a.backend === vm && a.port === `dm-${mapping.minor}`).length;
}

const INFO_FIELDS: Record<string, (dir: string, vm: string, m: SimMapping) => string> = {
  name: (_d, _v, m) => m.name,
  blkdevname: (_d, _v, m) => `dm-${m.minor}`,
  major: () => String(DM_MAJOR),
  minor: (_d, _v, m) => String(m.minor),
  open: (d, v, m) => String(openCount(d, v, m)),
  uuid: () => '',
};

/** `dmsetup info [-c [--noheadings] [-o FIELDS] [--separator S]] [NAME]`. */
function info(dir: string, vm: string, columns: boolean, fieldsText: string, separator: string, headings: boolean, name?: string): string {
  const mappings = name === undefined ? readMappings(dir, vm) : [find(dir, vm, 'info', name)];
  if (mappings.length === 0) return 'No devices found\n';
  if (!columns) {
    return mappings
      .map((m) => `Name:              ${m.name}\nState:             ACTIVE${m.readOnly ? ' (READ-ONLY)' : ''}\nRead Ahead:        256\nTables present:    LIVE\nOpen count:        ${openCount(dir, vm, m)}\nEvent number:      0\nMajor, minor:      ${DM_MAJOR}, ${m.minor}\nNumber of targets: 1\n`)
      .join('\n');
  }
  const fields = fieldsText.split(',');
  const unknown = fields.find((f) => !INFO_FIELDS[f]);
  if (unknown) throw new SimToolError(`Unrecognised field: ${unknown}\nCommand failed.`, 1);
  const head = headings ? [fields.map((f) => f.charAt(0).toUpperCase() + f.slice(1)).join(separator)] : [];
  return [...head, ...mappings.map((m) => fields.map((f) => INFO_FIELDS[f]!(dir, vm, m)).join(separator))].map((l) => `${l}\n`).join('');
}

/** Runs `dmsetup ARGS` in `vm`; `stdin` is read only when create has no --table. */
export function dmsetup(dir: string, vm: string, rawArgs: readonly string[], readStdin: () => string): string {
  const args = parseToolArgs('dmsetup', rawArgs, {
    valued: [['--table'], ['--options', '-o'], ['--separator'], ['--uuid', '-u']],
    flags: [['--readonly', '-r'], ['--columns', '-c'], ['--noheadings'], ['--showkeys'], ['--force', '-f'], ['--retry'], ['--noudevsync'], ['--noudevrules'], ['--verifyudev'], ['--verbose', '-v']],
  });
  const [command, name] = args.positionals;
  switch (command) {
    case 'create':
      if (name === undefined) throw new SimToolError('Please specify device.\nCommand failed.', 1);
      create(dir, vm, name, args.flags.has('--readonly'), lastValue(args, '--table') ?? readStdin());
      return '';
    case 'remove':
      if (name === undefined) throw new SimToolError('Please specify device.\nCommand failed.', 1);
      remove(dir, vm, name);
      return '';
    case 'table': {
      const mappings = name === undefined ? readMappings(dir, vm) : [find(dir, vm, 'table', name)];
      const show = (m: SimMapping) => (args.flags.has('--showkeys') ? m.table : maskKey(m.table));
      if (name !== undefined) return `${show(mappings[0]!)}\n`;
      return mappings.length === 0 ? 'No devices found\n' : mappings.map((m) => `${m.name}: ${show(m)}\n`).join('');
    }
    case 'info':
      return info(dir, vm, args.flags.has('--columns'), lastValue(args, '--options') ?? 'name,major,minor,open,uuid', lastValue(args, '--separator') ?? ':', !args.flags.has('--noheadings'), name);
    case 'ls': {
      const mappings = readMappings(dir, vm);
      return mappings.length === 0 ? 'No devices found\n' : mappings.map((m) => `${m.name}\t(${DM_MAJOR}:${m.minor})\n`).join('');
    }
    default:
      throw new SimToolError(`Unknown command: ${command ?? ''}\nCommand failed.`, 1);
  }
}
