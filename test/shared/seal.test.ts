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

// The low-order points of Curve25519 as u-coordinates, little-endian (libsodium's list in crypto_scalarmult/curve25519/ref10, the
// same as https://cr.yp.to/ecdh.html#validate): each gives the all-zero shared secret whatever the secret key.
const LOW_ORDER_POINTS: [string, string][] = [
  ['0 (order 4)', '00'.repeat(32)],
  ['1 (order 1)', `01${'00'.repeat(31)}`],
  ['325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'],
  ['39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'],
  ['p - 1 (order 2)', `ec${'ff'.repeat(30)}7f`],
  ['p, non-canonical 0', `ed${'ff'.repeat(30)}7f`],
  ['p + 1, non-canonical 1', `ee${'ff'.repeat(30)}7f`],
];
/** X25519 ignores the top bit of a public key (RFC 7748), so each point with it set is the same point, non-canonically encoded. */
const withTopBit = (hex: string): Uint8Array => {
  const bytes = Buffer.from(hex, 'hex');
  bytes[31]! |= 0x80;
  return bytes;
};
const LOW_ORDER_ENCODINGS: [string, Uint8Array][] = LOW_ORDER_POINTS.flatMap(([name, hex]): [string, Uint8Array][] => [
  [name, Buffer.from(hex, 'hex')],
  [`${name} with the top bit set`, withTopBit(hex)],
]);

describe('low-order public keys', () => {
  it.each(LOW_ORDER_ENCODINGS)('sealTo refuses a recipient key of %s', (_name, publicKey) => {
    expect(() => sealTo(publicKey, Buffer.from('volume key'))).toThrow(OperationError);
    expect(() => sealTo(publicKey, Buffer.from('volume key'))).toThrow(/low-order point/);
  });

  it.each(LOW_ORDER_ENCODINGS)('openSealed refuses a sender key of %s', (_name, senderPublicKey) => {
    const recipient = newBoxKeyPair();
    // A box made with the all-zero shared key, which is what whoever chose that point can compute: it would open without the check.
    const nonce = nacl.randomBytes(24);
    const box = nacl.secretbox(Buffer.from('forged volume key'), nonce, nacl.box.before(senderPublicKey, recipient.secretKey));
    expect(nacl.box.before(senderPublicKey, newBoxKeyPair().secretKey)).toEqual(nacl.box.before(senderPublicKey, recipient.secretKey));
    expect(nacl.box.open(box, nonce, senderPublicKey, recipient.secretKey)).not.toBeNull();
    expect(() => openSealed({ senderPublicKey, nonce, box }, recipient.secretKey)).toThrow(/sender key is a low-order point/);
    expect(() => openSealed({ senderPublicKey, nonce, box }, recipient.secretKey)).toThrow(OperationError);
  });

  it('every listed point really gives the all-zero shared secret (so the check is what refuses it)', () => {
    const secretKey = newBoxKeyPair().secretKey;
    for (const [, point] of LOW_ORDER_ENCODINGS) expect(nacl.scalarMult(secretKey, point).every((b) => b === 0)).toBe(true);
  });

  it('an ordinary key is still accepted on both sides', () => {
    const recipient = newBoxKeyPair();
    const sealed = sealTo(recipient.publicKey, Buffer.from('x'));
    expect(Buffer.from(openSealed(sealed, recipient.secretKey)).toString()).toBe('x');
  });
});
