// LUKS2 header areas for the unit tests: one made by the real cryptsetup, one made by our format, and a helper that rewrites the
// JSON of both copies with valid checksums, so tests reach the metadata checks behind the checksum.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptsetupFormatLuks2, type Luks2FormatOptions } from '../../helpers/cryptsetup.ts';
import { LUKS2_BINARY_HEADER_BYTES, LUKS2_MAX_HEADER_AREA_BYTES } from '../../../shared/luks2/constants.ts';
import { luks2Checksum } from '../../../shared/luks2/binary-header.ts';
import { formatLuks2 } from '../../../shared/luks2/format.ts';

export const FIXTURE_PASSPHRASE = 'correct horse battery staple';
export const PASSPHRASE = Buffer.from(FIXTURE_PASSPHRASE);

/** Formats an image with cryptsetup in `dir` and returns its header area bytes (16 MiB). */
export async function cryptsetupLuks2Area(dir: string, name: string, options: Luks2FormatOptions = {}): Promise<Buffer> {
  const path = join(dir, name);
  await cryptsetupFormatLuks2(path, FIXTURE_PASSPHRASE, options);
  return readFileSync(path).subarray(0, LUKS2_MAX_HEADER_AREA_BYTES);
}

/** Our own format with the cheapest KDF: PBKDF2, 1000 iterations. */
export async function fastLuks2Area(keyBytes: 32 | 64 = 32, dataOffset?: number): Promise<Buffer> {
  const { area } = await formatLuks2(PASSPHRASE, {
    key: { cipher: 'aes-xts-plain64', keyBytes },
    sectorSize: 512,
    kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 1000 },
    hash: 'sha256',
    digestIterations: 1000,
    ...(dataOffset === undefined ? {} : { dataOffset }),
  });
  return area;
}

const HDR_SIZE_OFFSET = 8;
const CSUM_OFFSET = 448;

/** The JSON text of the copy at `offset`. */
export function jsonOf(area: Uint8Array, offset = 0): string {
  const hdrSize = Number(Buffer.from(area).readBigUInt64BE(offset + HDR_SIZE_OFFSET));
  const json = Buffer.from(area.subarray(offset + LUKS2_BINARY_HEADER_BYTES, offset + hdrSize));
  return json.subarray(0, json.indexOf(0)).toString('utf8');
}

/** Re-seals one copy after its bytes were changed: recomputes the sha256 checksum in place. */
export function reseal(area: Buffer, offset: number): void {
  const hdrSize = Number(area.readBigUInt64BE(offset + HDR_SIZE_OFFSET));
  const copy = area.subarray(offset, offset + hdrSize);
  luks2Checksum('sha256', copy).copy(copy, CSUM_OFFSET);
}

/** Replaces the JSON text of one or both copies (NUL-padded) and re-seals them; `text` may be any bytes. */
export function withJsonText(base: Uint8Array, text: string | Uint8Array, copies: readonly number[] = [0, 16384]): Buffer {
  const area = Buffer.from(base);
  for (const offset of copies) {
    const hdrSize = Number(area.readBigUInt64BE(offset + HDR_SIZE_OFFSET));
    const json = area.subarray(offset + LUKS2_BINARY_HEADER_BYTES, offset + hdrSize);
    json.fill(0);
    Buffer.from(typeof text === 'string' ? Buffer.from(text, 'utf8') : text).copy(json, 0, 0, json.length);
    reseal(area, offset);
  }
  return area;
}

/** Applies `mutate` to the parsed JSON of the primary and writes the result into both copies. */
export function withJson(base: Uint8Array, mutate: (json: any) => void): Buffer {
  const json = JSON.parse(jsonOf(base)) as unknown;
  mutate(json);
  return withJsonText(base, JSON.stringify(json));
}
