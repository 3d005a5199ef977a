// What one key slot costs to try, from the cost a header VM reports for it: both sides use the same estimate, the header VM to
// announce each slot it tries, dom0 to bound its wait for the answer (never the VM's own figure).
import type { KeyslotSummary } from './messages.ts';

/**
 * A generous estimate of one key slot's derivation in a DisposableVM, for waiting only (it never decides anything): PBKDF2 at a
 * million iterations a second, Argon2 at 4 s per GiB and pass (hash-wasm, single-threaded; bench/results.json has measured figures).
 */
export function expectedSlotMs(slot: Pick<KeyslotSummary, 'kdf' | 'iterations' | 'memoryKiB'>): number {
  if (slot.kdf === 'pbkdf2') return Math.ceil(slot.iterations / 1000);
  return Math.ceil(((slot.memoryKiB * slot.iterations) / (1024 * 1024)) * 4000);
}
