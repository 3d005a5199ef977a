// The LUKS1 vectors (test/vectors/luks1, made by its generate.mjs with the real cryptsetup): each case's header area and what
// cryptsetup said of it. The parser tests mutate these bytes; vectors.test.ts checks every case.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LUKS1_HEADER_AREA_BYTES } from '../../../shared/luks1/constants.ts';
import { vectorArea, type StoredRegions } from '../../helpers/vector-regions.ts';

const DIR = 'test/vectors/luks1';

/** One manifest row: the case, the fields and volume key cryptsetup reported, the passphrase of each active slot. */
export interface Luks1Vector extends StoredRegions {
  readonly comment: string;
  readonly keySize: number;
  readonly hash: string;
  /** Slot number -> the passphrase that opens it. */
  readonly passphrases: Readonly<Record<string, string>>;
  /** Passphrases of disabled slots: they must open nothing. */
  readonly refused?: readonly string[];
  readonly deviceBytes: number;
  /** luksDump's fields, in our header's names. */
  readonly header: {
    readonly cipherName: string;
    readonly cipherMode: string;
    readonly hashSpec: string;
    readonly payloadOffset: number;
    readonly keyBytes: number;
    readonly mkDigestIterations: number;
    readonly uuid: string;
    readonly keyslots: readonly ({ readonly active: false } | { readonly active: true; readonly iterations: number; readonly keyMaterialOffset: number; readonly stripes: number })[];
  };
  /** luksDump --dump-master-key, lowercase hex. */
  readonly volumeKey: string;
}

export const LUKS1_VECTORS: readonly Luks1Vector[] = (JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { vectors: Luks1Vector[] }).vectors;

/** The vector of that file name (without .bin), or a thrown error naming it. */
export function luks1Vector(name: string): Luks1Vector {
  const vector = LUKS1_VECTORS.find((v) => v.file === `${name}.bin`);
  if (!vector) throw new Error(`no LUKS1 vector ${name} in ${DIR}/manifest.json (run node ${DIR}/generate.mjs)`);
  return vector;
}

/** A vector's header area, as the header VM holds it. */
export function luks1Area(vector: Luks1Vector): Buffer {
  return vectorArea(DIR, vector, LUKS1_HEADER_AREA_BYTES);
}
