// What a device node inside a simulated qube stands for, and the bytes behind it. A node is either a symlink to a file (a disk
// exported by a backend) or a small descriptor naming a dm mapping in some qube; a mapping stacks AES-XTS (plain64 IVs counted
// from its iv_offset) over another node of its own qube. Reads decrypt and writes encrypt, so every qube sees what a kernel
// would show it. A mapping made in a QEMU guest (qemu/) is read and written by that guest's kernel through its agent.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AdiantumKey, ADIANTUM_TWEAK_BYTES } from '../../shared/luks-common/adiantum.ts';
import { parseCryptTable, type CryptTable } from './crypt-table.ts';
import { guestDeviceFacts, guestRead, guestWrite } from './qemu/guest-blocks.ts';
import { readMappings, readState, SimToolError, vmRoot } from './state.ts';

/** The content of a dm descriptor node: the qube holding the mapping and its minor number. */
export interface DmRef {
  readonly vm: string;
  readonly minor: number;
}

export interface BlockChain {
  /** The file at the bottom of the stack. */
  readonly file: string;
  /** Crypt layers, outermost first. */
  readonly layers: readonly CryptTable[];
  /** True when the node or anything below it refuses writes. */
  readonly readOnly: boolean;
  readonly sizeBytes: number;
  /** Set when the bytes live behind a QEMU guest's kernel: that guest and its device node. */
  readonly guest?: { readonly dir: string; readonly vm: string; readonly device: string };
}

/** Whether `vm` runs as a QEMU guest. */
export const isQemuVm = (dir: string, vm: string): boolean => readState(dir).vms[vm]?.qemu === true;

/** A device node inside a QEMU guest (`/dev/dm-0`, `/dev/xvds`): its facts come from the guest's kernel. */
export function guestChain(dir: string, vm: string, device: string, ownReadOnly = false): BlockChain {
  const facts = guestDeviceFacts(dir, vm, device);
  return { file: '', layers: [], readOnly: ownReadOnly || facts.readOnly, sizeBytes: facts.sizeBytes, guest: { dir, vm, device } };
}

export const dmDescriptor = (ref: DmRef): string => `${JSON.stringify({ simDm: ref })}\n`;

/** The mapping a descriptor file names, or undefined for anything else. */
function readDescriptor(path: string): DmRef | undefined {
  if (statSync(path).size > 4096) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { simDm?: DmRef };
    return parsed.simDm;
  } catch {
    return undefined;
  }
}

/** The kernel's read-only flag of a disk, as the qube's /sys/block/NAME/ro shows it. */
function sysReadOnly(root: string, device: string): boolean {
  const ro = join(root, 'sys/block', device, 'ro');
  return existsSync(ro) && readFileSync(ro, 'latin1').trim() === '1';
}

/** Resolves `path` (`/dev/xvds`, `/dev/dm-0`, `/dev/mapper/NAME`) inside `vm`; throws ENOENT/ENXIO-style tool errors. */
export function resolveChain(dir: string, vm: string, path: string, depth = 0): BlockChain {
  if (depth > 8) throw new SimToolError(`${path}: Too many levels of stacked devices`);
  const root = vmRoot(dir, vm);
  const node = join(root, path);
  let link: string | undefined;
  try {
    link = lstatSync(node).isSymbolicLink() ? readlinkSync(node) : undefined;
  } catch {
    throw new SimToolError(`${path}: No such file or directory`);
  }
  if (link !== undefined) {
    return { file: link, layers: [], readOnly: sysReadOnly(root, basename(path)), sizeBytes: statSync(link).size };
  }
  const ref = readDescriptor(node);
  if (!ref) throw new SimToolError(`${path}: not a block device`);
  if (isQemuVm(dir, ref.vm)) return guestChain(dir, ref.vm, `/dev/dm-${ref.minor}`, sysReadOnly(root, basename(path)));
  const mapping = readMappings(dir, ref.vm).find((m) => m.minor === ref.minor);
  const table = mapping ? parseCryptTable(mapping.table) : undefined;
  if (!mapping || !table) throw new SimToolError(`${path}: No such device or address`);
  const below = resolveChain(dir, ref.vm, table.device, depth + 1);
  const ownReadOnly = path.startsWith('/dev/xvd') || path.startsWith('/dev/sd') ? sysReadOnly(root, basename(path)) : false;
  return {
    file: below.file,
    layers: [table, ...below.layers],
    readOnly: ownReadOnly || mapping.readOnly || below.readOnly,
    sizeBytes: table.lengthSectors * 512,
  };
}

/** One encryption unit through the layer's cipher: AES-XTS, or Adiantum (our own, checked against the kernel's vectors). */
function sectorCrypt(direction: 'encrypt' | 'decrypt', layer: CryptTable, ivSector: number, data: Buffer): Buffer {
  if (layer.cipher === 'xchacha12,aes-adiantum-plain64') {
    const tweak = Buffer.alloc(ADIANTUM_TWEAK_BYTES);
    tweak.writeBigUInt64LE(BigInt(ivSector));
    const adiantum = new AdiantumKey(layer.key);
    try {
      return adiantum.crypt(direction, tweak, data);
    } finally {
      adiantum.wipe();
    }
  }
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(BigInt(ivSector));
  const algorithm = layer.key.length === 64 ? 'aes-256-xts' : 'aes-128-xts';
  const cipher = direction === 'encrypt' ? createCipheriv(algorithm, layer.key, iv) : createDecipheriv(algorithm, layer.key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

function readFileRange(file: string, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Bytes [offset, offset+length) as seen through `layers[level..]`; reads past the end are zeros. */
function readLayered(file: string, layers: readonly CryptTable[], level: number, offset: number, length: number): Buffer {
  const layer = layers[level];
  if (!layer) return readFileRange(file, offset, length);
  const unit = layer.sectorSize;
  const first = Math.floor(offset / unit);
  const last = Math.ceil((offset + length) / unit);
  const plain = Buffer.alloc((last - first) * unit);
  for (let u = first; u < last; u++) {
    const cipherText = readLayered(file, layers, level + 1, layer.offsetSectors * 512 + u * unit, unit);
    sectorCrypt('decrypt', layer, layer.ivOffset + (u * unit) / 512, cipherText).copy(plain, (u - first) * unit);
  }
  return plain.subarray(offset - first * unit, offset - first * unit + length);
}

function writeLayered(file: string, layers: readonly CryptTable[], level: number, offset: number, data: Buffer): void {
  const layer = layers[level];
  if (!layer) {
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
    return;
  }
  const unit = layer.sectorSize;
  const first = Math.floor(offset / unit);
  const last = Math.ceil((offset + data.length) / unit);
  // Read-modify-write of whole encryption units, as the page cache does for a partial write.
  const plain = readLayered(file, layers, level, first * unit, (last - first) * unit);
  data.copy(plain, offset - first * unit);
  for (let u = first; u < last; u++) {
    const cipherText = sectorCrypt('encrypt', layer, layer.ivOffset + (u * unit) / 512, plain.subarray((u - first) * unit, (u - first + 1) * unit));
    writeLayered(file, layers, level + 1, layer.offsetSectors * 512 + u * unit, cipherText);
  }
}

/** What a reader of the node sees: `length` bytes from `offset`, clipped to the device's size. */
export function readChain(chain: BlockChain, offset = 0, length = chain.sizeBytes - offset): Buffer {
  const clipped = Math.max(0, Math.min(length, chain.sizeBytes - offset));
  if (chain.guest) return guestRead(chain.guest.dir, chain.guest.vm, chain.guest.device, offset, clipped);
  return readLayered(chain.file, chain.layers, 0, offset, clipped);
}

/** Writes through the chain; the caller has checked `readOnly`. Writes past the end fail like the kernel's (ENOSPC). */
export function writeChain(chain: BlockChain, offset: number, data: Buffer): void {
  if (offset + data.length > chain.sizeBytes) throw new SimToolError('write past the end of the device: No space left on device');
  if (chain.guest) return guestWrite(chain.guest.dir, chain.guest.vm, chain.guest.device, offset, data);
  writeLayered(chain.file, chain.layers, 0, offset, data);
}
