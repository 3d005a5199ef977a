// The one cipher table: what the device VM maps, and that names are looked up as own keys only.
import { describe, expect, it } from 'vitest';
import { cipherKeyBytes, cipherSpec, isMappable } from '../../../shared/luks-common/ciphers.ts';

describe('the cipher table', () => {
  // Each row: a cipher name, a key size, whether a data segment of it is mapped, and why.
  it.each([
    ['aes-xts-plain64', 64, true, 'AES-256-XTS, the default'],
    ['aes-xts-plain64', 32, true, 'AES-128-XTS'],
    ['aes-xts-plain64', 48, false, 'not an XTS key size'],
    ['aes-xts-plain', 64, false, 'a key-slot cipher, never mapped'],
    ['aes-cbc-essiv:sha256', 32, false, 'a key-slot cipher, never mapped'],
    ['serpent-xts-plain64', 64, false, 'not implemented'],
    ['constructor', 64, false, 'a prototype name is no cipher'],
  ] as const)('%s with %i-byte keys mapped: %s (%s)', (name, keyBytes, mapped, _why) => {
    expect(isMappable(name, keyBytes)).toBe(mapped);
  });

  it('gives cryptsetup key sizes per cipher and nothing for unknown names', () => {
    expect(cipherKeyBytes('aes-cbc-plain64')).toEqual([16, 24, 32]);
    expect(cipherKeyBytes('aes-xts-plain')).toEqual([32, 64]);
    expect(cipherSpec('toString')).toBeUndefined();
  });
});
