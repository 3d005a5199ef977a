// The LUKS2 vectors (test/vectors/luks2, made by generate.mjs from cryptsetup-made headers): each file must give our parser the
// outcome its manifest row says, and cryptsetup's luksDump, run here on the same bytes, the verdict the row says. The rows cover
// every rule of docs/LUKS2-RULES.md; where our outcome and cryptsetup's differ, the table says why.
import { execa } from 'execa';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParseError, UnsupportedError } from '../../../shared/errors.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../../../shared/luks1/constants.ts';
import { parseLuks1Header } from '../../../shared/luks1/header.ts';
import { detectLuksType } from '../../../shared/luks-common/detect.ts';
import { LUKS2_MAX_HEADER_AREA_BYTES, luks2BytesNeeded, parseLuks2Header, type Luks2Header } from '../../../shared/luks2/index.ts';
import { runLuksTool } from '../../helpers/luks-tool.ts';
import { useTmpDir } from '../../helpers/tmp.ts';
import { vectorArea } from '../../helpers/vector-regions.ts';

const DIR = 'test/vectors/luks2';

interface Vector {
  readonly file: string;
  readonly rule: string;
  readonly expect: 'valid' | 'invalid' | 'unsupported';
  readonly cryptsetup: 'accepts' | 'refuses';
  /** The verdict of cryptsetup releases before a version, where its rules differ. */
  readonly cryptsetupBefore?: Readonly<Record<string, 'accepts' | 'refuses'>>;
  readonly copyUsed?: 'primary' | 'secondary';
  readonly comment: string;
  readonly deviceBytes: number;
  readonly regions: readonly (readonly [number, number])[];
}

const { vectors } = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { vectors: Vector[] };
const rows = vectors.map((vector) => [vector.file, vector] as const);
const dir = useTmpDir();

/** The volume's first bytes as the header VM would hold them: at most 16 MiB, zeros between the stored regions. */
function areaOf(vector: Vector): Buffer {
  return vectorArea(DIR, vector, Math.min(vector.deviceBytes, LUKS2_MAX_HEADER_AREA_BYTES));
}

/** The whole volume as a sparse file, for the tools that read a device. */
function writeSparseImage(path: string, vector: Vector): void {
  const stored = readFileSync(join(DIR, vector.file));
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, vector.deviceBytes);
    let at = 0;
    for (const [offset, length] of vector.regions) {
      writeSync(fd, stored, at, length, offset);
      at += length;
    }
  } finally {
    closeSync(fd);
  }
}

type Outcome = { readonly outcome: 'valid'; readonly header?: Luks2Header } | { readonly outcome: 'invalid' | 'unsupported'; readonly error: Error };

/** Our verdict, the way the header VM and split-dm-crypt-luks reach it: the type from the magic, then that type's parser. */
function ours(area: Uint8Array): Outcome {
  try {
    if (detectLuksType(area) === 'luks1') {
      parseLuks1Header(area.subarray(0, LUKS1_HEADER_AREA_BYTES));
      return { outcome: 'valid' };
    }
    return { outcome: 'valid', header: parseLuks2Header(area) };
  } catch (error) {
    if (error instanceof UnsupportedError) return { outcome: 'unsupported', error };
    if (error instanceof ParseError) return { outcome: 'invalid', error };
    throw error;
  }
}

let cryptsetupVersion: number[];
beforeAll(async () => {
  const { stdout } = await execa('cryptsetup', ['--version']);
  cryptsetupVersion = /(\d+)\.(\d+)\.(\d+)/.exec(stdout)!.slice(1).map(Number);
});

/** The row's cryptsetup verdict for the installed release. */
function cryptsetupExpected(vector: Vector): string {
  const before = Object.entries(vector.cryptsetupBefore ?? {}).find(([version]) => {
    const wanted = version.split('.').map(Number);
    const i = cryptsetupVersion.findIndex((n, k) => n !== wanted[k]);
    return i >= 0 && cryptsetupVersion[i]! < wanted[i]!;
  });
  return before?.[1] ?? vector.cryptsetup;
}

describe('LUKS2 vectors', () => {
  it('are there (the loader fails on an empty corpus)', () => {
    expect(vectors.length).toBeGreaterThan(100);
  });

  it.each(rows)('%s: our parser', (_file, vector) => {
    const result = ours(areaOf(vector));
    expect({ outcome: result.outcome, why: 'error' in result ? result.error.message : '' }).toMatchObject({ outcome: vector.expect });
    if (result.outcome === 'valid' && result.header) {
      if (vector.copyUsed) expect(result.header.copyUsed).toBe(vector.copyUsed);
      // Never silent: a header read from the secondary always says why.
      if (result.header.copyUsed === 'secondary') expect(result.header.warnings.join('\n')).toMatch(/primary/);
    }
  });

  it.each(rows)('%s: cryptsetup luksDump, and split-dm-crypt-luks dump', async (file, vector) => {
    // Fresh files for each tool: cryptsetup repairs a damaged copy in place when it loads the other.
    const path = join(dir, file.replace(/\.bin$/, '.img'));
    writeSparseImage(path, vector);
    const { exitCode } = await execa('cryptsetup', ['luksDump', path], { reject: false });
    expect(exitCode === 0 ? 'accepts' : 'refuses').toBe(cryptsetupExpected(vector));
    // The tool adds only how the volume is read (its type, from up to 4 MiB) to the parser checked above: it runs on the vectors
    // about reading and choosing copies, and on the refusals by name (the error voice); a node start per vector costs seconds.
    if (!/^[LBS]/.test(vector.rule) && vector.expect !== 'unsupported') return;
    writeSparseImage(path, vector);
    const dump = await runLuksTool(['dump', path]);
    expect({ exitCode: dump.exitCode, stderr: dump.stderr }).toMatchObject({ exitCode: vector.expect === 'valid' ? 0 : 1 });
    if (vector.expect === 'unsupported') expect(dump.stderr).toMatch(/^split-dm-crypt-luks: error: [^\n]*unsupported/);
  });

  it.each(rows.filter(([, vector]) => vector.rule !== 'L1'))('%s: luks2BytesNeeded asks for enough, in steps', (_file, vector) => {
    const area = areaOf(vector);
    let have = 0;
    for (let step = 0; ; step++) {
      expect(step).toBeLessThan(16);
      const needed = luks2BytesNeeded(area.subarray(0, have));
      expect(needed).toBeLessThanOrEqual(LUKS2_MAX_HEADER_AREA_BYTES);
      if (needed <= have || have === area.length) break;
      have = Math.min(needed, area.length);
    }
    const full = ours(area);
    const prefix = ours(area.subarray(0, have));
    expect(prefix.outcome).toBe(full.outcome);
    if (full.outcome === 'valid' && prefix.outcome === 'valid') expect(prefix.header?.metadata).toEqual(full.header?.metadata);
  });

  it('cover every rule of docs/LUKS2-RULES.md, and name no other', () => {
    const table = readFileSync('docs/LUKS2-RULES.md', 'utf8');
    const ids = new Set([...table.matchAll(/^\| \*\*([A-Z]\d+)\*\* \|/gm)].map((match) => match[1]));
    expect(ids.size).toBeGreaterThan(40);
    expect(new Set(vectors.map((vector) => vector.rule))).toEqual(ids);
  });
});
