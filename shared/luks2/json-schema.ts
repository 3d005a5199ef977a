// The shapes of the LUKS2 JSON we decode, as zod schemas. They run after cryptsetup's own rules (rules.ts) passed and after what
// we do not implement was refused by name (metadata-refusals.ts), so they only narrow types. Unknown keys are dropped, as
// cryptsetup ignores them: never passed on, never written back. Meaning (ranges, caps) is checked afterwards, in metadata.ts.
import { z } from 'zod';

/** cryptsetup writes 64-bit values as decimal strings; rules.ts has checked them, metadata.ts converts them. */
const u64String = z.string();
/** JSON integers (json-c ints): rules.ts has refused numbers written with a fraction where cryptsetup wants an int. */
const int = z.number().int();
const name = z.string().min(1);
const id = z.string();
const idList = z.array(id);
const stringList = z.array(z.string());

const pbkdf2Kdf = z.object({ type: z.literal('pbkdf2'), hash: name, iterations: int, salt: z.string() });
const argon2Kdf = z.object({ type: z.enum(['argon2i', 'argon2id']), time: int, memory: int, cpus: int, salt: z.string() });

export const luks2KeyslotSchema = z.object({
  type: z.literal('luks2'),
  key_size: int,
  af: z.object({ type: z.literal('luks1'), stripes: int, hash: name }),
  area: z.object({ type: z.literal('raw'), offset: u64String, size: u64String, encryption: name, key_size: int }),
  kdf: z.discriminatedUnion('type', [pbkdf2Kdf, argon2Kdf]),
  /** cryptsetup does not check it when loading; we accept its three meanings only. */
  priority: z.number().int().min(0).max(2).optional(),
});

export const cryptSegmentSchema = z.object({
  type: z.literal('crypt'),
  offset: u64String,
  size: u64String,
  iv_tweak: u64String,
  encryption: name,
  sector_size: int,
  flags: stringList.optional(),
});

/** cryptsetup does not check a digest's own members when loading (only when a key is verified); we need them to verify. */
export const pbkdf2DigestSchema = z.object({
  type: z.literal('pbkdf2'),
  keyslots: idList,
  segments: idList,
  hash: name,
  iterations: int,
  salt: z.string(),
  digest: z.string(),
});

/** Tokens (keyring, systemd-tpm2, ...) are carried along untouched: only their type and key-slot references matter to us. */
export const tokenSchema = z.object({ type: name, keyslots: idList }).passthrough();

export const configSchema = z.object({
  json_size: u64String,
  keyslots_size: u64String,
  flags: stringList.optional(),
  requirements: z.object({ mandatory: stringList.optional() }).optional(),
});

/** The JSON form of the metadata we write (metadata-encode.ts) and decode. */
export interface Luks2Json {
  keyslots: Record<string, z.infer<typeof luks2KeyslotSchema>>;
  tokens: Record<string, z.infer<typeof tokenSchema>>;
  segments: Record<string, z.infer<typeof cryptSegmentSchema>>;
  digests: Record<string, z.infer<typeof pbkdf2DigestSchema>>;
  config: z.infer<typeof configSchema>;
}

export type Luks2JsonKeyslot = z.infer<typeof luks2KeyslotSchema>;
export type Luks2JsonCryptSegment = z.infer<typeof cryptSegmentSchema>;
export type Luks2JsonDigest = z.infer<typeof pbkdf2DigestSchema>;
export type Luks2JsonToken = z.infer<typeof tokenSchema>;
