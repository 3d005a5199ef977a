// Adiantum (Crowley and Biggers, 2018), the length-preserving tweakable cipher of `xchacha12,aes-adiantum-plain64`, with Linux's
// crypto/adiantum.c semantics: a 32-byte key, a 32-byte tweak, messages of 16 bytes or more. The key is the XChaCha12 key; the
// other keys come from its stream under the nonce 1,0,...: AES-256 key, Poly1305 key for the tweak, NH-Poly1305 key for the bulk.
// A message P = P_L || P_R (P_R its last 16 bytes) encrypts as
//   P_M = P_R + H(T, P_L);  C_M = AES(P_M);  C_L = P_L xor XChaCha12(nonce C_M || 1 || 0...);  C_R = C_M - H(T, C_L)
// with H(T, X) = Poly1305(le64(8 * |X|) || 0^8 || T) + NH-Poly1305(X), all sums mod 2^128 little-endian.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { zeroize } from '../bytes.ts';
import { InternalError } from '../errors.ts';
import { XCHACHA_KEY_BYTES, XCHACHA_NONCE_BYTES, xchacha12Xor } from './chacha.ts';
import { NH_POLY1305_KEY_BYTES, NhPoly1305 } from './nh-poly1305.ts';
import { Poly1305Core, POLY1305_BLOCK_BYTES } from './poly1305.ts';

export const ADIANTUM_KEY_BYTES = XCHACHA_KEY_BYTES;
export const ADIANTUM_TWEAK_BYTES = 32;
const BLOCK_BYTES = 16;
const AES_KEY_BYTES = 32;

/** The subkeys of one Adiantum key, derived once per use; `wipe` zeroes them. */
export class AdiantumKey {
  private readonly streamKey: Uint8Array;
  private readonly blockKey: Uint8Array;
  private readonly tweakKey: Uint8Array;
  private readonly bulkHash: NhPoly1305;

  constructor(key: Uint8Array) {
    if (key.length !== ADIANTUM_KEY_BYTES) throw new InternalError(`an adiantum key is ${ADIANTUM_KEY_BYTES} bytes, not ${key.length}`);
    this.streamKey = Uint8Array.from(key);
    const nonce = new Uint8Array(XCHACHA_NONCE_BYTES);
    nonce[0] = 1;
    const derived = xchacha12Xor(key, nonce, new Uint8Array(AES_KEY_BYTES + POLY1305_BLOCK_BYTES + NH_POLY1305_KEY_BYTES));
    this.blockKey = Uint8Array.from(derived.subarray(0, AES_KEY_BYTES));
    this.tweakKey = Uint8Array.from(derived.subarray(AES_KEY_BYTES, AES_KEY_BYTES + POLY1305_BLOCK_BYTES));
    this.bulkHash = new NhPoly1305(derived.subarray(AES_KEY_BYTES + POLY1305_BLOCK_BYTES));
    zeroize(derived);
  }

  /** H(T, X) for a bulk X. */
  private hash(tweak: Uint8Array, bulk: Uint8Array): Buffer {
    const header = Buffer.alloc(BLOCK_BYTES);
    header.writeBigUInt64LE(BigInt(bulk.length) * 8n, 0);
    const tweakHash = new Poly1305Core(this.tweakKey).blocks(header).blocks(tweak).emit();
    const bulkHash = this.bulkHash.hash(bulk);
    addLe128(bulkHash, tweakHash, 1);
    zeroize(tweakHash);
    return bulkHash;
  }

  private aes(direction: 'encrypt' | 'decrypt', block: Uint8Array): Buffer {
    const cipher = direction === 'encrypt' ? createCipheriv('aes-256-ecb', this.blockKey, null) : createDecipheriv('aes-256-ecb', this.blockKey, null);
    cipher.setAutoPadding(false);
    const out = cipher.update(block);
    cipher.final();
    return out;
  }

  /** Encrypts or decrypts one message (at least 16 bytes) under a 32-byte tweak. */
  crypt(direction: 'encrypt' | 'decrypt', tweak: Uint8Array, message: Uint8Array): Buffer {
    if (tweak.length !== ADIANTUM_TWEAK_BYTES) throw new InternalError(`an adiantum tweak is ${ADIANTUM_TWEAK_BYTES} bytes`);
    if (message.length < BLOCK_BYTES) throw new InternalError('adiantum encrypts messages of 16 bytes or more');
    const bulkLength = message.length - BLOCK_BYTES;
    const inBulk = message.subarray(0, bulkLength);
    // Forward: P_M = P_R + H(T, P_L), C_M = AES(P_M); backward: C_M = C_R + H(T, C_L), P_M = AES^-1(C_M).
    const firstHash = this.hash(tweak, inBulk);
    const right = Buffer.from(message.subarray(bulkLength));
    addLe128(right, firstHash, 1);
    const middle = direction === 'encrypt' ? this.aes('encrypt', right) : right;
    const nonce = new Uint8Array(XCHACHA_NONCE_BYTES);
    nonce.set(middle, 0);
    nonce[BLOCK_BYTES] = 1;
    const outBulk = xchacha12Xor(this.streamKey, nonce, inBulk);
    const otherMiddle = direction === 'encrypt' ? middle : this.aes('decrypt', middle);
    // Both directions subtract the hash of the bulk just produced: C_L when encrypting, P_L when decrypting.
    const secondHash = this.hash(tweak, outBulk);
    addLe128(otherMiddle, secondHash, -1);
    const out = Buffer.concat([outBulk, otherMiddle]);
    zeroize(firstHash, secondHash, right, middle, otherMiddle, nonce, outBulk);
    return out;
  }

  wipe(): void {
    zeroize(this.streamKey, this.blockKey, this.tweakKey);
    this.bulkHash.wipe();
  }
}

/** a = a + sign * b mod 2^128, both 16 bytes little-endian, in place. */
function addLe128(a: Uint8Array, b: Uint8Array, sign: 1 | -1): void {
  let carry = 0;
  for (let i = 0; i < BLOCK_BYTES; i++) {
    const v = a[i]! + sign * b[i]! + carry;
    a[i] = v & 0xff;
    carry = v >> 8;
  }
}
