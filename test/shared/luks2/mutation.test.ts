// Hundreds of random corruptions of a LUKS2 header area made by cryptsetup: raw bit flips (caught by the checksums), edits of the
// JSON text and values with both copies re-sealed (so they reach the metadata checks), key-material flips and truncations. Each
// ends in one of our typed errors or in the right volume key, never anything else.
import fc from 'fast-check';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParseError, SplitError } from '../../../shared/errors.ts';
import { parseLuks2Header, unlockLuks2 } from '../../../shared/luks2/index.ts';
import { cryptsetupVolumeKey } from '../../helpers/cryptsetup.ts';
import { useTmpDir } from '../../helpers/tmp.ts';
import { cryptsetupLuks2Area, FIXTURE_PASSPHRASE, jsonOf, PASSPHRASE, withJson, withJsonText } from './fixture.ts';

const dir = useTmpDir();
const MIB = 1024 * 1024;
let valid: Buffer;
let volumeKey: Buffer;
let json: string;
beforeAll(async () => {
  // Data at 1 MiB keeps each mutated copy small; PBKDF2 keeps each unlock cheap.
  valid = (await cryptsetupLuks2Area(dir, 'base.img', { kdf: 'pbkdf2', keySize: 256, offsetSectors: 2048 })).subarray(0, MIB);
  volumeKey = Buffer.from(await cryptsetupVolumeKey(join(dir, 'base.img'), FIXTURE_PASSPHRASE), 'hex');
  json = jsonOf(valid);
});

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const KEY_MATERIAL_END = 32768 + 128000;
const JSON_CHARS = [...'{}[]":,0123456789-.eE abcdefghijklmnopqrstuvwxyz_\\/+='];
const SPECIAL_VALUES = [0, 1, -1, 4000, 4096, 2 ** 26 + 1, 2 ** 32, 1e300, '', '0', '99999999999999999999', 'dynamic', 'argon2id', null, true, [], {}, ['0'], { type: 'luks2' }];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), offset: fc.nat(KEY_MATERIAL_END - 1), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('flip-both' as const), offset: fc.nat(16383), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('json-char' as const), position: fc.nat(), char: fc.constantFrom(...JSON_CHARS) }),
  fc.record({ kind: fc.constant('json-value' as const), pick: fc.nat(), value: fc.oneof(fc.constantFrom(...SPECIAL_VALUES), fc.jsonValue({ maxDepth: 2 })) }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(MIB) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

/** Every [object, key] of the JSON tree, so a mutation can pick one by index. */
function slots(node: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (node && typeof node === 'object') {
    for (const key of Object.keys(node)) {
      out.push([node as Record<string, unknown>, key]);
      slots((node as Record<string, unknown>)[key], out);
    }
  }
  return out;
}

function apply(m: Mutation): Buffer {
  switch (m.kind) {
    case 'truncate':
      return Buffer.from(valid.subarray(0, m.length));
    case 'flip':
    case 'flip-both': {
      const bytes = Buffer.from(valid);
      bytes[m.offset]! ^= 1 << m.bit;
      if (m.kind === 'flip-both') bytes[m.offset + 16384]! ^= 1 << m.bit;
      return bytes;
    }
    case 'json-char': {
      const position = m.position % json.length;
      return withJsonText(valid, json.slice(0, position) + m.char + json.slice(position + 1));
    }
    case 'json-value':
      return withJson(valid, (tree) => {
        const all = slots(tree);
        const [parent, key] = all[m.pick % all.length]!;
        parent[key] = m.value;
      });
  }
}

/** PBKDF2 work a mutation may ask for before we only parse it (the parser's own cap is 2^26). */
const UNLOCK_ITERATION_BUDGET = 200_000;

/** How runs ended, so the test also proves the mutations reach the metadata checks and the unlock. */
const outcomes = { metadataError: 0, otherParseError: 0, unlocked: 0, unlockError: 0 };

describe('mutated LUKS2 header areas', () => {
  it(`end in a typed error or the right key (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = apply(m);
        let header;
        try {
          header = parseLuks2Header(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
          if (error instanceof ParseError && error.format === 'luks2 metadata') outcomes.metadataError++;
          else outcomes.otherParseError++;
          return;
        }
        const costs = [...header.metadata.keyslots.map((s) => (s.kdf.type === 'pbkdf2' ? s.kdf.iterations : s.kdf.time * s.kdf.memoryKiB)), ...header.metadata.digests.map((d) => d.iterations)];
        if (Math.max(...costs) > UNLOCK_ITERATION_BUDGET) return;
        try {
          const { volumeKey: key } = await unlockLuks2(header, bytes, PASSPHRASE);
          expect(key.equals(volumeKey)).toBe(true);
          outcomes.unlocked++;
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
          outcomes.unlockError++;
        }
      }),
      { numRuns: RUNS, seed: 0x1c5b2 },
    );
    console.log(`luks2 mutation outcomes: ${JSON.stringify(outcomes)}`);
    for (const count of Object.values(outcomes)) expect(count).toBeGreaterThan(0);
  });
});
