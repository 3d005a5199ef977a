// Sealed boxes built on tweetnacl's low-level functions (so our copies can be zeroed) stay byte-compatible with nacl.box.
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { OperationError } from '../../shared/errors.ts';
import { newBoxKeyPair, openSealed, sealedLength, sealTo } from '../../shared/seal.ts';

describe('sealed boxes', () => {
  it.each([0, 1, 32, 64, 1000])('a %i-byte secret round-trips, and nacl.box.open reads what sealTo makes', (size) => {
    const recipient = newBoxKeyPair();
    const secret = nacl.randomBytes(size);
    const sealed = sealTo(recipient.publicKey, secret);
    expect(sealed.box.length).toBe(sealedLength(size));
    expect(Buffer.from(openSealed(sealed, recipient.secretKey)).equals(Buffer.from(secret))).toBe(true);
    const viaNacl = nacl.box.open(sealed.box, sealed.nonce, sealed.senderPublicKey, recipient.secretKey);
    expect(viaNacl && Buffer.from(viaNacl).equals(Buffer.from(secret))).toBe(true);
  });

  it('openSealed reads what nacl.box makes', () => {
    const recipient = newBoxKeyPair();
    const sender = nacl.box.keyPair();
    const nonce = nacl.randomBytes(24);
    const box = nacl.box(Buffer.from('volume key bytes'), nonce, recipient.publicKey, sender.secretKey);
    expect(Buffer.from(openSealed({ senderPublicKey: sender.publicKey, nonce, box }, recipient.secretKey)).toString()).toBe('volume key bytes');
  });

  it('refuses a box for another key, a flipped bit, and malformed sizes, with a typed error', () => {
    const recipient = newBoxKeyPair();
    const sealed = sealTo(recipient.publicKey, Buffer.from('secret'));
    expect(() => openSealed(sealed, newBoxKeyPair().secretKey)).toThrow(OperationError);
    const flipped = Uint8Array.from(sealed.box);
    flipped[20]! ^= 1;
    expect(() => openSealed({ ...sealed, box: flipped }, recipient.secretKey)).toThrow(OperationError);
    expect(() => openSealed({ ...sealed, box: sealed.box.subarray(0, 15) }, recipient.secretKey)).toThrow(OperationError);
    expect(() => openSealed({ ...sealed, nonce: sealed.nonce.subarray(0, 23) }, recipient.secretKey)).toThrow(OperationError);
    expect(() => sealTo(recipient.publicKey.subarray(0, 31), Buffer.from('x'))).toThrow(OperationError);
  });
});
