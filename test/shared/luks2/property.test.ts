// Property tests of the LUKS2 parser with a fixed seed: random JSON (any value, and near-valid metadata built from valid and
// hostile pieces) sealed into both copies with correct checksums, and random binary-header fields. Every outcome is a header or one
// of our typed errors; an accepted header serializes to JSON that parses back to the same metadata.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SplitError } from '../../../shared/errors.ts';
import { luks2JsonText } from '../../../shared/luks2/metadata-encode.ts';
import { parseLuks2Header } from '../../../shared/luks2/index.ts';
import { fastLuks2Area, reseal, withJsonText } from './fixture.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = 0x2ca1;
let base: Buffer;
beforeAll(async () => {
  base = (await fastLuks2Area(32, 1024 * 1024)).subarray(0, 1024 * 1024);
});

/** Parses; returns the header or undefined after checking the error is typed. */
function parseTyped(area: Buffer) {
  try {
    return parseLuks2Header(area);
  } catch (error) {
    if (!(error instanceof SplitError)) throw error;
    return undefined;
  }
}

/** Usually the valid value, sometimes one of the hostile ones: most cases then get deep into the checks. */
function mostly<T>(valid: T, ...hostile: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 40, arbitrary: fc.constant(valid) }, ...hostile.map((arbitrary) => ({ weight: 1, arbitrary })));
}

const SALT = Buffer.alloc(32, 7).toString('base64');
const salt = mostly(SALT, fc.base64String({ maxLength: 60 }), fc.string());
const u64 = (valid: string) => mostly(valid, fc.constantFrom('0', '4096', '1048576', '99999999999999999999'), fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String));
const int = (valid: number) => mostly(valid, fc.constantFrom(0, 1, 4, 64, 4096, 2 ** 26 + 1, 1048577), fc.integer(), fc.double());
const hash = mostly('sha256', fc.constantFrom('sha1', 'sha512', 'md5', ''));
const kdf = fc.oneof(
  fc.record({ type: fc.constant('pbkdf2'), hash, iterations: int(1000), salt }),
  fc.record({ type: mostly('argon2id', fc.constantFrom('argon2i', 'scrypt')), time: int(4), memory: int(1024), cpus: int(1), salt }),
);
const keyslot = fc.record({
  type: mostly('luks2', fc.constantFrom('reencrypt', 'x')),
  key_size: int(32),
  af: fc.record({ type: mostly('luks1', fc.constant('luks2')), stripes: int(4000), hash }),
  area: fc.record({ type: fc.constant('raw'), offset: u64('32768'), size: u64('131072'), encryption: mostly('aes-xts-plain64', fc.constantFrom('aes-cbc-essiv:sha256', 'twofish-xts-plain64')), key_size: int(32) }),
  kdf,
  priority: mostly(1, fc.constantFrom(0, 2, 3)),
}, { requiredKeys: ['type', 'key_size', 'af', 'area', 'kdf'] });
const ids = (valid: string[]) => mostly(valid, fc.array(fc.constantFrom('0', '1', '31', '32', 'a'), { maxLength: 2 }));
const segment = fc.record({
  type: mostly('crypt', fc.constantFrom('linear', 'verity')),
  offset: u64('1048576'),
  size: mostly('dynamic', u64('4096')),
  iv_tweak: u64('0'),
  encryption: mostly('aes-xts-plain64', fc.constantFrom('serpent-xts-plain64', 'aes xts', 'cipher_null-ecb')),
  sector_size: int(512),
});
const one = <T>(value: fc.Arbitrary<T>, extra: fc.Arbitrary<Record<string, T>>) => fc.oneof({ weight: 6, arbitrary: value.map((v) => ({ '0': v })) }, { weight: 1, arbitrary: extra });
const metadata = fc.record({
  keyslots: one(keyslot, fc.dictionary(fc.constantFrom('1', '2', '31', '32', 'x'), keyslot, { maxKeys: 3 })),
  tokens: mostly({}, fc.dictionary(fc.constantFrom('0', '1'), fc.record({ type: fc.string(), keyslots: ids(['0']) }) as fc.Arbitrary<never>, { maxKeys: 2 })),
  segments: one(segment, fc.dictionary(fc.constantFrom('0', '1'), segment, { minKeys: 1, maxKeys: 2 })),
  digests: one(fc.record({ type: fc.constant('pbkdf2'), keyslots: ids(['0']), segments: ids(['0']), hash, iterations: int(1000), salt, digest: salt }), fc.constant({})),
  config: fc.record({ json_size: u64('12288'), keyslots_size: u64('1015808') }),
});

describe('the LUKS2 parser on random input', () => {
  it('any JSON value in the JSON area: a header or a typed error', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        expect(parseTyped(withJsonText(base, JSON.stringify(value) ?? 'null'))).toBeUndefined();
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('near-valid metadata: a header that round-trips, or a typed error', () => {
    let accepted = 0;
    fc.assert(
      fc.property(metadata, (value) => {
        const header = parseTyped(withJsonText(base, JSON.stringify(value)));
        if (!header) return;
        accepted++;
        const again = parseTyped(withJsonText(base, luks2JsonText(header.metadata)));
        expect(again?.metadata).toEqual(header.metadata);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // The generator is biased towards valid pieces so many cases pass every check and exercise the round trip.
    expect(accepted).toBeGreaterThan(RUNS / 10);
  });

  it('random binary-header fields, re-sealed: a header or a typed error', () => {
    const field = fc.record({ offset: fc.constantFrom(6, 8, 16, 24, 72, 104, 168, 208, 256, 300, 448, 600), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }), copy: fc.constantFrom(0, 16384), seal: fc.boolean() });
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 3 }), (changes) => {
        const area = Buffer.from(base);
        for (const change of changes) {
          area.set(change.bytes, change.copy + change.offset);
          if (change.seal && area.readBigUInt64BE(change.copy + 8) === 16384n) reseal(area, change.copy);
        }
        parseTyped(area);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('random bytes of any length: a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40000 }), (bytes) => {
        expect(parseTyped(Buffer.from(bytes))).toBeUndefined();
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
