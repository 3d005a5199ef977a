// The one cipher table: what the device VM maps, and that names are looked up as own keys only.
import { describe, expect, it } from 'vitest';
import { cipherKeyBytes, cipherSpec, isMappable, LUKS1_CIPHER_SPECS, MAPPED_CIPHERS, mappedCipherKey } from '../../../shared/luks-common/ciphers.ts';

describe('the cipher table', () => {
  // Each row: a cipher name, a key size, whether a data segment of it is mapped, and why.
  it.each([
    ['aes-xts-plain64', 64, true, 'AES-256-XTS, the default'],
    ['aes-xts-plain64', 32, true, 'AES-128-XTS'],
    ['aes-xts-plain64', 48, false, 'not an XTS key size'],
    ['aes-xts-plain', 64, false, 'a key-slot cipher, never mapped'],
    ['aes-cbc-essiv:sha256', 32, false, 'a key-slot cipher, never mapped'],
    ['xchacha12,aes-adiantum-plain64', 32, true, 'Adiantum, its one key size'],
    ['xchacha12,aes-adiantum-plain64', 64, false, 'Adiantum takes no 512-bit key'],
    ['xchacha20,aes-adiantum-plain64', 32, false, 'Adiantum with XChaCha20: not in the table'],
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

  it('maps exactly AES-XTS and Adiantum, typed with their key sizes; LUKS1 carries only the aes rows', () => {
    expect(MAPPED_CIPHERS).toEqual(['aes-xts-plain64', 'xchacha12,aes-adiantum-plain64']);
    expect(mappedCipherKey('xchacha12,aes-adiantum-plain64', 32)).toEqual({ cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32 });
    expect(mappedCipherKey('aes-xts-plain', 64)).toBeUndefined();
    expect(LUKS1_CIPHER_SPECS.every((spec) => spec.startsWith('aes-'))).toBe(true);
    expect(LUKS1_CIPHER_SPECS).not.toContain('xchacha12,aes-adiantum-plain64');
  });
});
