// The key-derivation choice for a new key slot, for every caller (the header VM's format, the CLI's format and key-slot commands):
// forced (PBKDF2 iterations or Argon2 passes, as cryptsetup's --pbkdf-force-iterations) or measured for a target unlock time.
// The volume's version decides which KDFs are allowed; nothing else in the tree picks a KDF.
import { InternalError, UsageError } from '../errors.ts';
import { benchmarkPbkdf2, slotIterationsFor, type Pbkdf2Benchmark } from '../luks-common/pbkdf2.ts';
import { MAX_PBKDF2_ITERATIONS, MIN_DIGEST_ITERATIONS, type LuksHash } from '../luks-common/constants.ts';
import { argon2TimeFor, DEFAULT_ARGON2_MEMORY_KIB, DEFAULT_ARGON2_PARALLELISM, MAX_ARGON2_TIME, MIN_ARGON2_TIME, type Luks2KdfChoice, type Luks2KdfType } from '../luks2/index.ts';
import { DEFAULT_ITER_TIME_MS, type LuksType } from '../protocol/contract.ts';

/** What a caller asks of a new key slot's KDF; undefined fields take the version's defaults. */
export interface KdfRequest {
  readonly pbkdf?: Luks2KdfType;
  readonly memoryKiB?: number;
  readonly parallel?: number;
  /** Target unlock time (default DEFAULT_ITER_TIME_MS); ignored when a count is forced. */
  readonly iterTimeMs?: number;
  readonly forcedIterations?: number;
}

/** The KDF of a new key slot: PBKDF2 with its hash and iterations (LUKS1 knows only this), or Argon2 with its cost. */
export type KdfChoice = Luks2KdfChoice;

/** Throws unless a forced count fits the KDF: PBKDF2 iterations 1000..2^26, Argon2 passes 4..32 (cryptsetup's own bounds). */
export function validateForcedIterations(pbkdf: Luks2KdfType, forced: number | undefined): void {
  if (forced === undefined) return;
  const [min, max] = pbkdf === 'pbkdf2' ? [MIN_DIGEST_ITERATIONS, MAX_PBKDF2_ITERATIONS] : [MIN_ARGON2_TIME, MAX_ARGON2_TIME];
  if (forced < min || forced > max) throw new UsageError(`option --pbkdf-force-iterations expects an integer from ${min} to ${max} for ${pbkdf}, received '${forced}'`);
}

/** Refuses what a version cannot carry: LUKS1 key slots are PBKDF2 only, with no memory or lanes. */
function validateForType(type: LuksType, request: KdfRequest): Luks2KdfType {
  if (type === 'luks2') return request.pbkdf ?? 'argon2id';
  if (request.pbkdf !== undefined && request.pbkdf !== 'pbkdf2') throw new UsageError(`option --pbkdf ${request.pbkdf} needs a luks2 volume (LUKS1 uses pbkdf2)`);
  if (request.memoryKiB !== undefined || request.parallel !== undefined) throw new UsageError('--pbkdf-memory and --pbkdf-parallel need a luks2 volume');
  return 'pbkdf2';
}

/** PBKDF2 iterations: the forced count, or what the benchmark (the caller's, when it ran one) says reaches the unlock time. */
async function pbkdf2Iterations(request: KdfRequest, hash: LuksHash, keyBytes: number, benchmark: Pbkdf2Benchmark | undefined): Promise<number> {
  if (request.forcedIterations !== undefined) return request.forcedIterations;
  return slotIterationsFor(benchmark ?? (await benchmarkPbkdf2(hash, keyBytes)), request.iterTimeMs ?? DEFAULT_ITER_TIME_MS);
}

/**
 * The KDF for a new key slot of a `type` volume whose AF and digest hash is `hash` and whose key is `keyBytes` long. `benchmark`
 * is a PBKDF2 measurement of that hash and size the caller already made (format makes one for the digest too).
 */
export async function chooseKdf(type: LuksType, request: KdfRequest, hash: LuksHash, keyBytes: number, benchmark?: Pbkdf2Benchmark): Promise<KdfChoice> {
  const pbkdf = validateForType(type, request);
  validateForcedIterations(pbkdf, request.forcedIterations);
  if (pbkdf === 'pbkdf2') return { type: pbkdf, hash, iterations: await pbkdf2Iterations(request, hash, keyBytes, benchmark) };
  const memoryKiB = request.memoryKiB ?? DEFAULT_ARGON2_MEMORY_KIB;
  const cpus = request.parallel ?? DEFAULT_ARGON2_PARALLELISM;
  // Argon2 needs 8 KiB per lane: refused here rather than by the parser of the header we would write.
  if (memoryKiB < 8 * cpus) throw new UsageError(`option --pbkdf-memory expects at least 8 KiB per lane (${8 * cpus} for ${cpus} lanes), received '${memoryKiB}'`);
  const time = request.forcedIterations ?? (await argon2TimeFor(pbkdf, memoryKiB, cpus, request.iterTimeMs ?? DEFAULT_ITER_TIME_MS));
  return { type: pbkdf, time, memoryKiB, cpus };
}

/** A LUKS1 key slot's iterations: chooseKdf gives a LUKS1 volume nothing but PBKDF2. */
export function luks1Iterations(kdf: KdfChoice): number {
  if (kdf.type !== 'pbkdf2') throw new InternalError(`a LUKS1 key slot was given ${kdf.type}`);
  return kdf.iterations;
}
