// Per-LUKS-type facts both sides agree on without parsing a header: how many bytes from the start of the disk are its header area.
import { OperationError, ParseError } from '../errors.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../luks1/constants.ts';
import { LUKS2_MAX_HEADER_AREA_BYTES } from '../luks2/constants.ts';
import type { Channel } from './channel.ts';
import { BytesFollow, type LuksType } from './messages.ts';

/** The smallest LUKS2 header area: two 16 KiB header copies. */
export const MIN_LUKS2_AREA_BYTES = 32 * 1024;

/**
 * The largest header area of a type: what the device VM sends and header writes replace. LUKS1: the original's 4040 sectors.
 * LUKS2: 16 MiB, cryptsetup's default data offset, which holds both header copies and the key-slot area (as the original).
 */
export function headerAreaBytes(type: LuksType): number {
  switch (type) {
    case 'luks1':
      return LUKS1_HEADER_AREA_BYTES;
    case 'luks2':
      return LUKS2_MAX_HEADER_AREA_BYTES;
  }
}

/**
 * The header area of a disk of `diskBytes`: LUKS1 exactly its fixed size; LUKS2 at most 16 MiB and never past the disk's end,
 * so a small LUKS2 volume (or a LUKS1 one under the LUKS2 default) still works, where the original insisted on 16 MiB.
 */
export function headerAreaForDisk(type: LuksType, diskBytes: number): number {
  const area = type === 'luks1' ? LUKS1_HEADER_AREA_BYTES : Math.min(LUKS2_MAX_HEADER_AREA_BYTES, diskBytes);
  const minimum = type === 'luks1' ? LUKS1_HEADER_AREA_BYTES : MIN_LUKS2_AREA_BYTES;
  if (diskBytes < minimum) throw new OperationError(`the source disk holds ${diskBytes} bytes, less than a ${type} header area (${minimum} bytes)`);
  return area;
}

/** Whether a header area of `length` bytes is one a peer may send for `type` (checked before the bytes are read). */
export function isHeaderAreaLength(type: LuksType, length: number): boolean {
  return type === 'luks1' ? length === LUKS1_HEADER_AREA_BYTES : length >= MIN_LUKS2_AREA_BYTES && length <= LUKS2_MAX_HEADER_AREA_BYTES;
}

/** Receives a counted header area whose announced length must fit `type`, refused before any byte of it is read. */
export async function receiveHeaderArea(channel: Channel, type: LuksType): Promise<Buffer> {
  const { length } = await channel.receive(BytesFollow);
  if (!isHeaderAreaLength(type, length)) {
    throw new ParseError('protocol stream', 'header area', 0, `announced ${length} bytes, not the length of a ${type} header area`);
  }
  return channel.readRaw(length, 'header area');
}
