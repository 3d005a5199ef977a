import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { afMerge, afSplit } from '../../../shared/luks-common/af.ts';

describe('AF splitter', () => {
  it.each([
    ['sha1', 32],
    ['sha256', 64],
    ['sha512', 64],
    ['sha1', 16],
  ] as const)('merge(split(key)) is the key with %s and %i-byte keys', (hash, keyBytes) => {
    const key = randomBytes(keyBytes);
    const material = afSplit(key, 4000, hash);
    expect(material.length).toBe(keyBytes * 4000);
    expect(afMerge(material, keyBytes, 4000, hash)).toEqual(key);
  });

  it('loses the key when any single stripe byte changes (anti-forensic property)', () => {
    const key = randomBytes(64);
    const material = afSplit(key, 4000, 'sha256');
    for (const offset of [0, 64 * 1234 + 7, material.length - 1]) {
      const damaged = Buffer.from(material);
      damaged[offset]! ^= 1;
      expect(afMerge(damaged, 64, 4000, 'sha256')).not.toEqual(key);
    }
  });

  it('splits the same key differently each time (random stripes)', () => {
    const key = randomBytes(32);
    expect(afSplit(key, 10, 'sha256')).not.toEqual(afSplit(key, 10, 'sha256'));
  });
});
