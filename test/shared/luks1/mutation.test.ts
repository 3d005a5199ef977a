// Thousands of random corruptions of a valid header area: each ends in a typed error or a correct unlock, never anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SplitError } from '../../../shared/errors.ts';
import { parseLuks1Header } from '../../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../../shared/luks1/unlock.ts';
import { luks1Area, luks1Vector } from './fixture.ts';

// A 256-bit key keeps slot 0's material (the mutations' target) small.
const vector = luks1Vector('xts-256-sha256');
const valid = luks1Area(vector);
const volumeKey = Buffer.from(vector.volumeKey, 'hex');
const passphrase = Buffer.from(vector.passphrases['0']!);

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
// Key-slot area of slot 0 for a 32-byte key: sectors 8..258.
const INTERESTING_END = 258 * 512;

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), offset: fc.nat(INTERESTING_END - 1), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('flip' as const), offset: fc.nat(591), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(INTERESTING_END) }),
  fc.record({ kind: fc.constant('u32' as const), field: fc.nat(147), value: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(m: Mutation): Buffer {
  if (m.kind === 'truncate') return Buffer.from(valid.subarray(0, m.length));
  const bytes = Buffer.from(valid);
  if (m.kind === 'flip') bytes[m.offset]! ^= 1 << m.bit;
  else bytes.writeUInt32BE(m.value >>> 0, m.field * 4);
  return bytes;
}

/** PBKDF2 cost is bounded by the parser's cap; mutations below this bound are unlocked for real, above it only parsed. */
const UNLOCK_ITERATION_BUDGET = 200_000;

describe('mutated LUKS1 headers', () => {
  it(`end in a typed error or the right key (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = apply(m);
        let header;
        try {
          header = parseLuks1Header(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
          return;
        }
        const cost = Math.max(header.mkDigestIterations, ...header.keyslots.filter((s) => s.active).map((s) => s.iterations));
        if (cost > UNLOCK_ITERATION_BUDGET) return;
        try {
          const { volumeKey: key } = await unlockLuks1(header, bytes, passphrase);
          expect(key.equals(volumeKey)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(SplitError);
        }
      }),
      { numRuns: RUNS, seed: 0x5eed },
    );
  });
});
