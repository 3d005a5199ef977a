// The KDF of a new key slot from the command line: PBKDF2 iterations or Argon2 passes forced, or measured for --iter-time.
import { UsageError } from '../../shared/errors.ts';
import { benchmarkPbkdf2, slotIterationsFor } from '../../shared/luks-common/pbkdf2.ts';
import { argon2TimeFor, DEFAULT_ARGON2_MEMORY_KIB, DEFAULT_ARGON2_PARALLELISM, type Luks2KdfChoice } from '../../shared/luks2/index.ts';
import type { Luks2Hash } from '../../shared/luks2/constants.ts';
import { validateForcedIterations, type IterationChoice, type KdfOptions } from './cli.ts';

/** The KDF for a new LUKS2 key slot (argon2id unless --pbkdf says otherwise). */
export async function luks2KdfChoice(kdf: KdfOptions, iterations: IterationChoice, hash: Luks2Hash, keyBytes: number): Promise<Luks2KdfChoice> {
  const type = kdf.pbkdf ?? 'argon2id';
  validateForcedIterations(type, iterations.forcedIterations);
  if (type === 'pbkdf2') {
    const count = iterations.forcedIterations ?? slotIterationsFor(await benchmarkPbkdf2(hash, keyBytes), iterations.iterTimeMs);
    return { type, hash, iterations: count };
  }
  const memoryKiB = kdf.memoryKiB ?? DEFAULT_ARGON2_MEMORY_KIB;
  const cpus = kdf.parallel ?? DEFAULT_ARGON2_PARALLELISM;
  if (memoryKiB < 8 * cpus) throw new UsageError(`option --pbkdf-memory expects at least 8 KiB per lane (${8 * cpus} for ${cpus} lanes), received '${memoryKiB}'`);
  const time = iterations.forcedIterations ?? (await argon2TimeFor(type, memoryKiB, cpus, iterations.iterTimeMs));
  return { type, time, memoryKiB, cpus };
}

/** Refuses LUKS2-only KDF options on a LUKS1 volume, and checks a forced count as PBKDF2 iterations. */
export function validateLuks1Kdf(kdf: KdfOptions, iterations: IterationChoice): void {
  if (kdf.pbkdf !== undefined && kdf.pbkdf !== 'pbkdf2') throw new UsageError(`option --pbkdf ${kdf.pbkdf} needs a luks2 volume (LUKS1 uses pbkdf2)`);
  if (kdf.memoryKiB !== undefined || kdf.parallel !== undefined) throw new UsageError('--pbkdf-memory and --pbkdf-parallel need a luks2 volume');
  validateForcedIterations('pbkdf2', iterations.forcedIterations);
}
