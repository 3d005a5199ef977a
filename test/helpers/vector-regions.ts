// Header vectors (test/vectors/luks1, test/vectors/luks2) store only the non-zero regions of a volume's first bytes: the
// regions' bytes concatenated in a data file, their [offset, length] pairs in the manifest. This lays them out again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredRegions {
  readonly file: string;
  readonly regions: readonly (readonly [number, number])[];
}

/** The first `size` bytes of the volume: each region's bytes at its offset, zeros elsewhere; throws when the file and regions disagree. */
export function vectorArea(dir: string, vector: StoredRegions, size: number): Buffer {
  const stored = readFileSync(join(dir, vector.file));
  const area = Buffer.alloc(size);
  let at = 0;
  for (const [offset, length] of vector.regions) {
    if (offset + length > size) throw new Error(`${vector.file}: region [${offset}, ${length}] lies past ${size} bytes`);
    stored.copy(area, offset, at, at + length);
    at += length;
  }
  if (at !== stored.length) throw new Error(`${vector.file}: the regions hold ${at} bytes, the file ${stored.length}`);
  return area;
}
