// Metadata back to JSON text, in the field order cryptsetup writes (json-c's plain form: no spaces, slashes unescaped).
import { OperationError } from '../errors.ts';
import type { Luks2Json } from './json-schema.ts';
import type { Luks2Digest, Luks2Keyslot, Luks2Metadata, Luks2Segment } from './metadata.ts';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const byId = <T extends { id: number }>(items: readonly T[]): T[] => [...items].sort((a, b) => a.id - b.id);

function encodeKeyslot(slot: Luks2Keyslot): Luks2Json['keyslots'][string] {
  const { kdf } = slot;
  return {
    type: 'luks2',
    key_size: slot.keyBytes,
    af: { type: 'luks1', stripes: slot.af.stripes, hash: slot.af.hash },
    area: { type: 'raw', offset: String(slot.area.offset), size: String(slot.area.size), encryption: slot.area.encryption, key_size: slot.area.keyBytes },
    kdf:
      kdf.type === 'pbkdf2'
        ? { type: 'pbkdf2', hash: kdf.hash, iterations: kdf.iterations, salt: b64(kdf.salt) }
        : { type: kdf.type, time: kdf.time, memory: kdf.memoryKiB, cpus: kdf.cpus, salt: b64(kdf.salt) },
    ...(slot.priority === undefined ? {} : { priority: slot.priority }),
  };
}

function encodeSegment(segment: Luks2Segment): Luks2Json['segments'][string] {
  return {
    type: 'crypt',
    offset: String(segment.offset),
    size: String(segment.size),
    iv_tweak: String(segment.ivTweak),
    encryption: segment.encryption,
    sector_size: segment.sectorSize,
    ...(segment.flags ? { flags: [...segment.flags] } : {}),
  };
}

function encodeDigest(digest: Luks2Digest): Luks2Json['digests'][string] {
  return {
    type: 'pbkdf2',
    keyslots: digest.keyslots.map(String),
    segments: digest.segments.map(String),
    hash: digest.hash,
    iterations: digest.iterations,
    salt: b64(digest.salt),
    digest: b64(digest.digest),
  };
}

/** The JSON object of the metadata (objects keyed by id in ascending order). */
export function encodeLuks2Metadata(metadata: Luks2Metadata): Luks2Json {
  const { config } = metadata;
  return {
    keyslots: Object.fromEntries(byId(metadata.keyslots).map((slot) => [String(slot.id), encodeKeyslot(slot)])),
    tokens: Object.fromEntries(byId(metadata.tokens).map((token) => [String(token.id), token.json])),
    segments: { [String(metadata.segment.id)]: encodeSegment(metadata.segment) },
    digests: Object.fromEntries(byId(metadata.digests).map((digest) => [String(digest.id), encodeDigest(digest)])),
    config: {
      json_size: String(config.jsonSize),
      keyslots_size: String(config.keyslotsSize),
      ...(config.flags ? { flags: [...config.flags] } : {}),
      ...(config.requirements ? { requirements: config.requirements as Luks2Json['config']['requirements'] } : {}),
    },
  };
}

/** The JSON text as bytes; it must leave room for at least one terminating NUL in the JSON area. */
export function luks2JsonText(metadata: Luks2Metadata): Buffer {
  const text = Buffer.from(JSON.stringify(encodeLuks2Metadata(metadata)), 'utf8');
  if (text.length >= metadata.config.jsonSize) throw new OperationError(`the new luks2 metadata (${text.length} bytes) does not fit the ${metadata.config.jsonSize}-byte JSON area`);
  return text;
}
