// Telling LUKS1 from LUKS2 by the first 8 bytes alone (magic and version), and how much of the device is its header area.
// Nothing else is read: the device VM may call this on raw device bytes without parsing a header.
import { ParseError, UnsupportedError } from '../errors.ts';
import { bytesEqual } from '../bytes.ts';
import { LUKS1_HEADER_AREA_BYTES, LUKS1_MAGIC } from '../luks1/constants.ts';
import { LUKS2_MAX_HEADER_AREA_BYTES } from '../luks2/constants.ts';

export type LuksType = 'luks1' | 'luks2';

export interface LuksProbe {
  readonly type: LuksType;
  /**
   * Bytes to transfer from the start of the device: LUKS1 2068480 (cryptsetup's largest LUKS1 layout); LUKS2 16 MiB (headers and
   * key-slot areas up to cryptsetup's default data offset, as the original). Fewer when the device is smaller. For LUKS2 the exact
   * extent is known only after parsing: see luks2HeaderAreaBytes.
   */
  readonly headerAreaBytes: number;
}

/** Bytes detectLuksType needs. */
export const LUKS_PROBE_BYTES = 8;

/** The LUKS type of a device from its first bytes (magic "LUKS\xba\xbe", big-endian version 1 or 2). */
export function detectLuksType(firstBytes: Uint8Array): LuksType {
  if (firstBytes.length < LUKS_PROBE_BYTES) throw new ParseError('luks header', 'magic', 0, `only ${firstBytes.length} bytes`);
  if (!bytesEqual(firstBytes.subarray(0, LUKS1_MAGIC.length), LUKS1_MAGIC)) throw new ParseError('luks header', 'magic', 0, 'not a LUKS header');
  const version = (firstBytes[6]! << 8) | firstBytes[7]!;
  if (version === 1) return 'luks1';
  if (version === 2) return 'luks2';
  throw new UnsupportedError(`unsupported LUKS version ${version}`);
}

/** detectLuksType plus the header-area size to transfer, given the device size in bytes. */
export function probeLuks(firstBytes: Uint8Array, deviceBytes: number): LuksProbe {
  const type = detectLuksType(firstBytes);
  const wanted = type === 'luks1' ? LUKS1_HEADER_AREA_BYTES : LUKS2_MAX_HEADER_AREA_BYTES;
  return { type, headerAreaBytes: Math.min(wanted, deviceBytes) };
}
