// How many LUKS2 key slots the header VM derives at once: a fact of this machine, so it is read here and handed to shared/luks.
import { availableParallelism, totalmem } from 'node:os';
import type { UnlockConcurrency } from '../../shared/luks/index.ts';

/**
 * Argon2 memory together within half of the VM's memory (the rest for Node and the kernel), at most one slot per CPU. A 1 GiB
 * slot in a 2 GiB DisposableVM is then tried alone; three 256 MiB slots in parallel.
 */
export function unlockConcurrency(): UnlockConcurrency {
  const cpus = typeof availableParallelism === 'function' ? availableParallelism() : 1;
  return { memoryBudgetKiB: Math.floor(totalmem() / 1024 / 2), maxConcurrent: Math.max(1, cpus) };
}
