// What a qube reads or writes at /dev/FRONTEND: a file-backed disk as is, a dm-crypt mapping through AES-XTS (plain64 IVs
// numbered from the table's iv_offset), so the destination sees real plaintext.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { readState, SimToolError, type SimState } from './state.ts';

interface Resolved {
  readonly file: string;
  readonly readOnly: boolean;
  readonly crypt?: { key: Buffer; ivOffset: number; offsetSectors: number; lengthSectors: number };
}

function resolve(state: SimState, vm: string, frontendDev: string): Resolved {
  const attachment = state.attachments.find((a) => a.frontend === vm && a.frontendDev === frontendDev);
  if (!attachment) throw new SimToolError(`qubes-sim: nothing is attached to ${vm} as ${frontendDev}`);
  const block = state.blocks.find((b) => b.backend === attachment.backend && b.port === attachment.port);
  if (block?.file) return { file: block.file, readOnly: attachment.readOnly };
  const mapping = state.mappings[attachment.backend]?.find((m) => `dm-${m.minor}` === attachment.port);
  if (!mapping) throw new SimToolError(`qubes-sim: ${attachment.backend}:${attachment.port} has no mapping`);
  const [, length, , , key, ivOffset, device, offset] = mapping.table.split(' ');
  const below = resolve(state, attachment.backend, device!.replace('/dev/', ''));
  return {
    file: below.file,
    readOnly: attachment.readOnly || mapping.readOnly || below.readOnly,
    crypt: { key: Buffer.from(key!, 'hex'), ivOffset: Number(ivOffset), offsetSectors: Number(offset), lengthSectors: Number(length) },
  };
}

function xts(direction: 'encrypt' | 'decrypt', key: Buffer, sector: number, data: Buffer): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64LE(BigInt(sector));
  const algorithm = key.length === 64 ? 'aes-256-xts' : 'aes-128-xts';
  const cipher = direction === 'encrypt' ? createCipheriv(algorithm, key, iv) : createDecipheriv(algorithm, key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

export function readBlock(dir: string, vm: string, frontendDev: string): Buffer {
  const target = resolve(readState(dir), vm, frontendDev);
  const raw = readFileSync(target.file);
  if (!target.crypt) return raw;
  const { key, ivOffset, offsetSectors, lengthSectors } = target.crypt;
  const out = Buffer.alloc(lengthSectors * 512);
  for (let s = 0; s < lengthSectors; s++) {
    const start = (offsetSectors + s) * 512;
    xts('decrypt', key, ivOffset + s, raw.subarray(start, start + 512)).copy(out, s * 512);
  }
  return out;
}

export function writeBlock(dir: string, vm: string, frontendDev: string, offset: number, data: Buffer): void {
  const target = resolve(readState(dir), vm, frontendDev);
  if (target.readOnly) throw new SimToolError(`qubes-sim: write to /dev/${frontendDev} in ${vm}: Read-only file system (EROFS)`);
  const fd = openSync(target.file, 'r+');
  try {
    if (!target.crypt) {
      writeSync(fd, data, 0, data.length, offset);
      return;
    }
    if (offset % 512 !== 0 || data.length % 512 !== 0) throw new SimToolError('qubes-sim: writes through a mapping must be whole sectors');
    const { key, ivOffset, offsetSectors } = target.crypt;
    for (let s = 0; s < data.length / 512; s++) {
      const sector = offset / 512 + s;
      writeSync(fd, xts('encrypt', key, ivOffset + sector, data.subarray(s * 512, (s + 1) * 512)), 0, 512, (offsetSectors + sector) * 512);
    }
  } finally {
    closeSync(fd);
  }
}
