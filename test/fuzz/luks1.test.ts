// Property tests of the LUKS1 engine on hostile input: the header parser on random and mutated bytes, and unlock on mutated
// header areas. Every outcome is a value or one of our typed errors; accepted headers serialize back byte for byte; the
// attacker-controlled work (iterations, key sizes, material offsets) is bounded before any of it is done.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrongPassphraseError } from '../../shared/errors.ts';
import { LUKS1_HEADER_AREA_BYTES, LUKS1_PHDR_BYTES, MAX_KEY_BYTES, MAX_PBKDF2_ITERATIONS } from '../../shared/luks1/constants.ts';
import { formatLuks1 } from '../../shared/luks1/format.ts';
import { parseLuks1Header, serializeLuks1Header } from '../../shared/luks1/header.ts';
import { unlockLuks1 } from '../../shared/luks1/unlock.ts';
import { count, FUZZ_TIMEOUT_MS, fuzzRuns, SEED, summary, typedOrValue, typedOrValueAsync } from './runs.ts';

const PASSPHRASE = Buffer.from('fuzz passphrase');
let valid: Buffer;
let volumeKey: Buffer;
beforeAll(async () => {
  // Our own format (not cryptsetup): the fuzz target needs no external tool; interop tests prove the format elsewhere.
  valid = (await formatLuks1(PASSPHRASE, { keyBytes: 64, hash: 'sha256', slotIterations: 1000, digestIterations: 1000 })).area;
  volumeKey = (await unlockLuks1(parseLuks1Header(valid), valid, PASSPHRASE)).volumeKey;
});
afterAll(() => console.log(`fuzz executions: ${summary()}`));

// Field offsets of the phdr (REFERENCE section 6) that mutations aim at, so most cases get past the magic.
const U32_FIELDS = [104, 108, 164, ...Array.from({ length: 8 }, (_, i) => [208 + 48 * i, 212 + 48 * i, 248 + 48 * i, 252 + 48 * i]).flat()];
const ITERATION_FIELDS = new Set([164, ...Array.from({ length: 8 }, (_, i) => 212 + 48 * i)]);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), offset: fc.nat(LUKS1_PHDR_BYTES - 1), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('byte' as const), offset: fc.nat(LUKS1_PHDR_BYTES - 1), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('u32' as const), offset: fc.constantFrom(...U32_FIELDS), value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 0xffffffff, 4000, 4096, 0x00ac71f3, 0x0000dead, MAX_PBKDF2_ITERATIONS + 1)) }),
  fc.record({ kind: fc.constant('material' as const), offset: fc.integer({ min: LUKS1_PHDR_BYTES, max: LUKS1_HEADER_AREA_BYTES - 1 }), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(LUKS1_HEADER_AREA_BYTES) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(base: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    if (m.kind === 'truncate') bytes = bytes.subarray(0, Math.min(m.length, bytes.length));
    else if (m.offset >= bytes.length) continue;
    else if (m.kind === 'flip') bytes[m.offset]! ^= 1 << m.bit;
    else if (m.kind === 'byte' || m.kind === 'material') bytes[m.offset] = m.value;
    else if (m.offset + 4 <= bytes.length) bytes.writeUInt32BE(m.value >>> 0, m.offset);
  }
  return bytes;
}

/** Checks what parse returned against the caps it promises, and the round trip. */
function checkParsed(bytes: Buffer): void {
  const header = typedOrValue(() => parseLuks1Header(bytes));
  count('luks1-parse');
  if (!header) return;
  expect(header.keyBytes).toBeLessThanOrEqual(MAX_KEY_BYTES);
  expect(header.mkDigestIterations).toBeLessThanOrEqual(MAX_PBKDF2_ITERATIONS);
  for (const slot of header.keyslots) if (slot.active) expect(slot.iterations).toBeLessThanOrEqual(MAX_PBKDF2_ITERATIONS);
  expect(Buffer.from(serializeLuks1Header(header)).equals(bytes.subarray(0, LUKS1_PHDR_BYTES))).toBe(true);
}

describe('LUKS1 header parser', () => {
  it('random bytes: a header or a typed error', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 1200 }), (raw) => checkParsed(Buffer.from(raw))), { seed: SEED, numRuns: fuzzRuns() });
  }, FUZZ_TIMEOUT_MS);

  it('random bytes behind a valid magic and version', () => {
    const prefix = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 1]);
    fc.assert(fc.property(fc.uint8Array({ minLength: LUKS1_PHDR_BYTES - 8, maxLength: LUKS1_PHDR_BYTES - 8 }), (raw) => checkParsed(Buffer.concat([prefix, raw]))), { seed: SEED, numRuns: fuzzRuns() });
  }, FUZZ_TIMEOUT_MS);

  it('mutations of a valid header: a header or a typed error, and accepted headers round-trip', () => {
    // The parser reads the phdr only: mutate a copy of its first bytes, not the whole 2 MiB area, so a run costs microseconds.
    const phdr = valid.subarray(0, LUKS1_PHDR_BYTES + 64);
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => checkParsed(apply(phdr, mutations))), { seed: SEED, numRuns: fuzzRuns() });
  }, FUZZ_TIMEOUT_MS);
});

describe('LUKS1 unlock', () => {
  // Unlock does real PBKDF2 and AF work per active slot: far fewer runs than the parsers. Iteration fields are kept small
  // (the cap itself is the parser's, tested above), or one case could take a minute.
  const cheap = mutation.filter((m) => !(m.kind === 'u32' && ITERATION_FIELDS.has(m.offset) && m.value > 4000));
  it('mutated header areas: the volume key, or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cheap, { minLength: 1, maxLength: 4 }), fc.boolean(), async (mutations, right) => {
        const area = apply(valid, mutations);
        const header = typedOrValue(() => parseLuks1Header(area));
        if (!header) return;
        const unlocked = await typedOrValueAsync(() => unlockLuks1(header, area, right ? PASSPHRASE : Buffer.from('wrong')));
        count('luks1-unlock');
        // A key that passes the digest check of an unchanged digest is the volume key: nothing else can come out.
        if (unlocked && area.subarray(112, 168).equals(valid.subarray(112, 168)) && header.keyBytes === volumeKey.length) {
          expect(unlocked.volumeKey.equals(volumeKey)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: fuzzRuns(0.002) },
    );
  }, FUZZ_TIMEOUT_MS);

  it('a wrong passphrase is always WrongPassphraseError', async () => {
    const header = parseLuks1Header(valid);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }).filter((p) => !Buffer.from(p).equals(PASSPHRASE)), async (secret) => {
        await expect(unlockLuks1(header, valid, secret)).rejects.toBeInstanceOf(WrongPassphraseError);
        count('luks1-unlock-wrong');
      }),
      { seed: SEED, numRuns: fuzzRuns(0.0005) },
    );
  }, FUZZ_TIMEOUT_MS);
});
