// What dom0 says about a header a VM parsed for it: one summary used by `inspect` and the destructive commands, and the warnings
// dom0 draws itself from the typed report. The report's own `warnings` are a VM's words: shown, sanitized and attributed, never
// taken as the whole story (a compromised header VM would simply say nothing).
import { sanitizePeerText } from '../shared/protocol/channel.ts';
import type { HeaderParsed, KeyslotSummary } from '../shared/protocol/messages.ts';
import { offsetWords } from './device-steps.ts';
import { DEFAULT_DATA_OFFSET, isUsualDataOffset } from './layout-checks.ts';

/**
 * PBKDF2 iterations below which a key slot is called weak even for PBKDF2: OWASP's Password Storage Cheat Sheet (2023) figures
 * for PBKDF2-HMAC with each hash. Any PBKDF2 slot is warned about (GPUs run it cheaply); these mark the ones weak by its own standard.
 */
export const PBKDF2_MIN_ITERATIONS: Readonly<Record<string, number>> = { sha1: 1_300_000, sha256: 600_000, sha512: 210_000 };
/** Argon2 memory below which a key slot is warned about: cryptsetup's default cost for new LUKS2 slots is far above it. */
export const ARGON2_MIN_MEMORY_KIB = 256 * 1024;

export function slotWords(slot: KeyslotSummary): string {
  const cost = slot.kdf === 'pbkdf2' ? `${slot.hash}, ${slot.iterations} iterations` : `${slot.iterations} passes, ${slot.memoryKiB} KiB, ${slot.parallel} lanes`;
  return `${slot.id} ${slot.kdf} (${cost})`;
}

/** Two lines or more: the header's facts, its key slots, then the header VM's own warnings. */
export function describeHeader(parsed: HeaderParsed): string {
  const copy = parsed.copy === 'primary' ? '' : ' (read from its secondary copy)';
  return [
    `${parsed.luksType} header ${parsed.uuid}${copy}: ${parsed.cipher}, ${parsed.keyBytes * 8}-bit key, ${parsed.sectorSize}-byte sectors, data at ${offsetWords(parsed)}`,
    `  key slots: ${parsed.keyslots.length === 0 ? 'none' : parsed.keyslots.map(slotWords).join('; ')}`,
    ...vmWarnings(parsed).map((warning) => `  header VM's warning: ${warning}`),
  ].join('\n');
}

export function vmWarnings(parsed: HeaderParsed): string[] {
  return parsed.warnings.map((warning) => sanitizePeerText(warning, 200));
}

/** dom0's own warnings about a parsed header: what makes it weaker or odder than what cryptsetup makes today. */
export function headerWarnings(parsed: HeaderParsed): string[] {
  const warnings: string[] = [];
  if (parsed.luksType === 'luks1') warnings.push('LUKS1: its key slots can only use PBKDF2; LUKS2 with Argon2id resists GPU guessing far better (cryptsetup convert)');
  if (parsed.copy === 'secondary') warnings.push('the primary LUKS2 header copy does not load: this was read from the secondary copy');
  if (parsed.keyslots.length === 0) warnings.push('no key slot: no passphrase or key file can open this volume');
  for (const slot of parsed.keyslots) {
    if (slot.kdf === 'pbkdf2') {
      const floor = PBKDF2_MIN_ITERATIONS[slot.hash];
      const below = floor !== undefined && slot.iterations < floor ? `, below the ${floor} iterations OWASP asks for PBKDF2-${slot.hash}` : '';
      warnings.push(`key slot ${slot.id} uses PBKDF2 (${slot.iterations} iterations${below}): cheap to guess on GPUs, unlike Argon2id`);
    } else {
      if (slot.memoryKiB < ARGON2_MIN_MEMORY_KIB) warnings.push(`key slot ${slot.id} uses ${slot.kdf} with ${slot.memoryKiB} KiB of memory, below 256 MiB`);
      if (slot.kdf === 'argon2i') warnings.push(`key slot ${slot.id} uses argon2i: argon2id is the recommended variant`);
    }
    // cryptsetup encrypts a new slot's key material with the data's cipher; another one was chosen on purpose, by someone.
    if (slot.areaCipher !== parsed.cipher) warnings.push(`key slot ${slot.id}'s key material is encrypted with ${slot.areaCipher}, not with the data's cipher ${parsed.cipher}`);
  }
  const usual = DEFAULT_DATA_OFFSET[parsed.luksType];
  if (!isUsualDataOffset(parsed.luksType, parsed.dataOffset)) warnings.push(`the data starts at ${offsetWords(parsed)}, not at cryptsetup's default (sector ${usual})`);
  return warnings;
}
