// The shape of the LUKS2 JSON area as zod schemas: every object strict (unknown fields refused), every "type" from a closed list.
// Meaning (ranges, cross-references, caps, what we refuse to handle) is checked afterwards, in metadata.ts.
import { z } from 'zod';

/** cryptsetup writes 64-bit values as decimal strings. */
const u64String = z.string().regex(/^[0-9]{1,20}$/, 'expected a decimal string');
/** JSON integers cryptsetup writes as numbers (json-c int, at most 32 bits where it matters). */
const uint = z.number().int().nonnegative().max(2 ** 32 - 1);
const name = z.string().min(1).max(64);
/** Object ids: "0", "1", ... (cryptsetup's numbered()); two digits cover every cap (at most 32 objects). */
const id = z.string().regex(/^[0-9]{1,2}$/, 'expected a numbered id');
const idList = z.array(id).max(64);
const stringList = z.array(z.string().max(256)).max(64);

const pbkdf2Kdf = z.object({ type: z.literal('pbkdf2'), hash: name, iterations: uint, salt: z.string().max(256) }).strict();
const argon2Kdf = z.object({ type: z.enum(['argon2i', 'argon2id']), time: uint, memory: uint, cpus: uint, salt: z.string().max(256) }).strict();

const luks2Keyslot = z
  .object({
    type: z.literal('luks2'),
    key_size: uint,
    af: z.object({ type: z.literal('luks1'), stripes: uint, hash: name }).strict(),
    area: z.object({ type: z.literal('raw'), offset: u64String, size: u64String, encryption: name, key_size: uint }).strict(),
    kdf: z.discriminatedUnion('type', [pbkdf2Kdf, argon2Kdf]),
    priority: z.number().int().min(0).max(2).optional(),
  })
  .strict();
/** A reencryption key slot: recognised only to be refused with its reason, so its fields are not examined. */
const reencryptKeyslot = z.object({ type: z.literal('reencrypt') }).passthrough();

const cryptSegment = z
  .object({
    type: z.literal('crypt'),
    offset: u64String,
    size: z.union([z.literal('dynamic'), u64String]),
    iv_tweak: u64String,
    encryption: name,
    sector_size: uint,
    integrity: z.object({}).passthrough().optional(),
    flags: stringList.optional(),
  })
  .strict();
/** Segment types cryptsetup knows that we do not map (reencryption's linear segment, OPAL hardware encryption): refused by name. */
const otherSegment = z.object({ type: z.enum(['linear', 'hw-opal', 'hw-opal-crypt']) }).passthrough();

const pbkdf2Digest = z
  .object({
    type: z.literal('pbkdf2'),
    keyslots: idList,
    segments: idList,
    hash: name,
    iterations: uint,
    salt: z.string().max(256),
    digest: z.string().max(256),
  })
  .strict();

/** Tokens (keyring, systemd-tpm2, ...) are carried along untouched: only their type and key-slot references are checked. */
const token = z.object({ type: name, keyslots: idList }).passthrough();

const config = z
  .object({
    json_size: u64String,
    keyslots_size: u64String,
    flags: stringList.optional(),
    requirements: z.object({ mandatory: stringList.optional() }).passthrough().optional(),
  })
  .strict();

export const luks2JsonSchema = z
  .object({
    keyslots: z.record(id, z.discriminatedUnion('type', [luks2Keyslot, reencryptKeyslot])),
    tokens: z.record(id, token),
    segments: z.record(id, z.discriminatedUnion('type', [cryptSegment, otherSegment])),
    digests: z.record(id, pbkdf2Digest),
    config,
  })
  .strict();

export type Luks2Json = z.infer<typeof luks2JsonSchema>;
export type Luks2JsonKeyslot = z.infer<typeof luks2Keyslot>;
export type Luks2JsonCryptSegment = z.infer<typeof cryptSegment>;
export type Luks2JsonDigest = z.infer<typeof pbkdf2Digest>;
export type Luks2JsonToken = z.infer<typeof token>;
