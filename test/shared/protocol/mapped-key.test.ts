// The typed key on the wire (MappedKey) accepts exactly what the cipher table maps: every cipher of the table, and names outside
// it, with every key size, give the same answer from the schema as from the table; nothing free-form reaches a dm table.
import { describe, expect, it } from 'vitest';
import { CIPHER_SPECS, mappedCipherKey } from '../../../shared/luks-common/ciphers.ts';
import { MappedKey } from '../../../shared/protocol/messages.ts';

const NAMES = [...CIPHER_SPECS, 'serpent-xts-plain64', 'twofish-xts-plain64', 'cipher_null-ecb', 'xchacha20,aes-adiantum-plain64', 'aes-xts-plain64 0 /dev/xvda 0', 'constructor'];
const SIZES = [0, 16, 24, 32, 48, 64, 128];

describe('MappedKey', () => {
  it.each(NAMES.flatMap((cipher) => SIZES.map((keyBytes) => [cipher, keyBytes] as const)))('%s with %i bytes: as the table says', (cipher, keyBytes) => {
    const parsed = MappedKey.safeParse({ cipher, keyBytes });
    expect(parsed.success).toBe(mappedCipherKey(cipher, keyBytes) !== undefined);
    if (parsed.success) expect(parsed.data).toEqual(mappedCipherKey(cipher, keyBytes));
  });

  it('accepts three typed keys in all, and no extra field', () => {
    expect(NAMES.flatMap((cipher) => SIZES.filter((keyBytes) => MappedKey.safeParse({ cipher, keyBytes }).success)).length).toBe(3);
    expect(MappedKey.safeParse({ cipher: 'xchacha12,aes-adiantum-plain64', keyBytes: 32, options: 'allow_discards' }).success).toBe(false);
  });
});
