// The LUKS anti-forensic splitter: a key stretched over `stripes` blocks so that destroying any part of them destroys the key.
import { createHash, randomBytes } from 'node:crypto';
import { zeroize } from '../bytes.ts';
import { LUKS_HASHES, type LuksHash } from './constants.ts';

/** diffuse: the buffer cut into digest-size blocks, block j replaced by H(be32(j) || block_j), the last partial block truncated. */
function diffuse(hash: LuksHash, data: Buffer): void {
  const digestBytes = LUKS_HASHES[hash];
  const index = Buffer.alloc(4);
  for (let j = 0, offset = 0; offset < data.length; j++, offset += digestBytes) {
    const end = Math.min(offset + digestBytes, data.length);
    index.writeUInt32BE(j, 0);
    const digest = createHash(hash).update(index).update(data.subarray(offset, end)).digest();
    digest.copy(data, offset, 0, end - offset);
    zeroize(digest);
  }
}

function xorInto(target: Buffer, source: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= source[i]!;
}

/** Recovers the key from its AF-split material (keyBytes * stripes bytes). */
export function afMerge(material: Uint8Array, keyBytes: number, stripes: number, hash: LuksHash): Buffer {
  const buffer = Buffer.alloc(keyBytes);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(buffer, material.subarray(i * keyBytes, (i + 1) * keyBytes));
    diffuse(hash, buffer);
  }
  xorInto(buffer, material.subarray((stripes - 1) * keyBytes, stripes * keyBytes));
  return buffer;
}

/** Splits a key into keyBytes * stripes bytes of AF material with random stripes from the CSPRNG. */
export function afSplit(key: Uint8Array, stripes: number, hash: LuksHash): Buffer {
  const keyBytes = key.length;
  const material = randomBytes(keyBytes * stripes);
  const buffer = Buffer.alloc(keyBytes);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(buffer, material.subarray(i * keyBytes, (i + 1) * keyBytes));
    diffuse(hash, buffer);
  }
  const last = material.subarray((stripes - 1) * keyBytes);
  for (let i = 0; i < keyBytes; i++) last[i] = buffer[i]! ^ key[i]!;
  zeroize(buffer);
  return material;
}
