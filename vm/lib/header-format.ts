// Formatting a new header area in the header DisposableVM, for either LUKS version, with the cost of the key slot's KDF chosen
// here (where the passphrase will later be checked) from a benchmark against the requested unlock time, or forced.
import { UsageError } from '../../shared/errors.ts';
import { MIN_DIGEST_ITERATIONS } from '../../shared/luks1/constants.ts';
import { formatLuks1 } from '../../shared/luks1/format.ts';
import { benchmarkPbkdf2, digestIterationsFor, slotIterationsFor } from '../../shared/luks-common/pbkdf2.ts';
import { argon2TimeFor, DEFAULT_ARGON2_MEMORY_KIB, DEFAULT_ARGON2_PARALLELISM, formatLuks2, MAX_ARGON2_TIME, MIN_ARGON2_TIME, type Luks2KdfChoice } from '../../shared/luks2/index.ts';
import { DEFAULT_ITER_TIME_MS } from '../../shared/protocol/contract.ts';
import type { FormatRequest } from '../../shared/protocol/messages.ts';

async function luks2Kdf(request: FormatRequest): Promise<Luks2KdfChoice> {
  const type = request.pbkdf ?? 'argon2id';
  const forced = request.forcedIterations;
  if (type === 'pbkdf2') {
    if (forced !== undefined && forced < MIN_DIGEST_ITERATIONS) throw new UsageError(`PBKDF2 needs at least ${MIN_DIGEST_ITERATIONS} iterations, received ${forced}`);
    const iterations = forced ?? slotIterationsFor(await benchmarkPbkdf2(request.hash, request.keyBytes), request.iterTimeMs ?? DEFAULT_ITER_TIME_MS);
    return { type, hash: request.hash, iterations };
  }
  if (forced !== undefined && (forced < MIN_ARGON2_TIME || forced > MAX_ARGON2_TIME)) throw new UsageError(`Argon2 takes ${MIN_ARGON2_TIME} to ${MAX_ARGON2_TIME} passes, received ${forced}`);
  const memoryKiB = request.pbkdfMemoryKiB ?? DEFAULT_ARGON2_MEMORY_KIB;
  const cpus = DEFAULT_ARGON2_PARALLELISM;
  const time = forced ?? (await argon2TimeFor(type, memoryKiB, cpus, request.iterTimeMs ?? DEFAULT_ITER_TIME_MS));
  return { type, time, memoryKiB, cpus };
}

/** The new header area (exactly the type's header-area size) with `secret` in key slot 0. */
export async function formatHeaderArea(request: FormatRequest, secret: Uint8Array): Promise<Buffer> {
  if (request.luksType === 'luks1') {
    if (request.pbkdf !== undefined && request.pbkdf !== 'pbkdf2') throw new UsageError(`LUKS1 key slots use PBKDF2 only, not ${request.pbkdf}`);
    if (request.sectorSize !== undefined && request.sectorSize !== 512) throw new UsageError('LUKS1 has 512-byte sectors only');
    const forced = request.forcedIterations;
    if (forced !== undefined && forced < MIN_DIGEST_ITERATIONS) throw new UsageError(`PBKDF2 needs at least ${MIN_DIGEST_ITERATIONS} iterations, received ${forced}`);
    const benchmark = forced === undefined ? await benchmarkPbkdf2(request.hash, request.keyBytes) : undefined;
    const { area } = await formatLuks1(secret, {
      keyBytes: request.keyBytes,
      hash: request.hash,
      slotIterations: forced ?? slotIterationsFor(benchmark!, request.iterTimeMs ?? DEFAULT_ITER_TIME_MS),
      digestIterations: digestIterationsFor(benchmark),
    });
    return Buffer.from(area);
  }
  const kdf = await luks2Kdf(request);
  const benchmark = request.forcedIterations === undefined ? await benchmarkPbkdf2(request.hash, request.keyBytes) : undefined;
  const { area } = await formatLuks2(secret, {
    keyBytes: request.keyBytes,
    sectorSize: request.sectorSize ?? 512,
    kdf,
    hash: request.hash,
    digestIterations: digestIterationsFor(benchmark),
  });
  return area;
}
