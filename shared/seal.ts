// Sealing secrets to a recipient's ephemeral X25519 key (tweetnacl box with a one-time sender key), so the hop in between — dom0 — only
// ever forwards ciphertext. Used for the volume key (header VM -> device VM) and for passphrases and key files (dom0 -> header VM).
import nacl from 'tweetnacl';
import { OperationError } from './errors.ts';
import { zeroize } from './bytes.ts';

export const PUBLIC_KEY_BYTES = nacl.box.publicKeyLength; // 32
export const NONCE_BYTES = nacl.box.nonceLength; // 24
export const BOX_OVERHEAD_BYTES = nacl.box.overheadLength; // 16

export interface SealedBox {
  readonly senderPublicKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly box: Uint8Array;
}

export interface BoxKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A fresh key pair from the CSPRNG; the caller zeroes secretKey when done. */
export function newBoxKeyPair(): BoxKeyPair {
  return nacl.box.keyPair();
}

// tweetnacl's box() and box.open() copy the plaintext into padded arrays they never clear, and keep the shared key in another;
// its low-level functions take our own arrays, which we zero. (Its scalar multiplication still leaves a transient of its own.)
interface NaclLowLevel {
  crypto_box_beforenm(k: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): number;
  crypto_secretbox(c: Uint8Array, m: Uint8Array, d: number, n: Uint8Array, k: Uint8Array): number;
  crypto_secretbox_open(m: Uint8Array, c: Uint8Array, d: number, n: Uint8Array, k: Uint8Array): number;
}
const lowlevel = (nacl as unknown as { lowlevel: NaclLowLevel }).lowlevel;
/** NaCl's zero padding in front of a message (32 bytes) and of a ciphertext (16 bytes). */
const ZERO_BYTES = 32;
const BOX_ZERO_BYTES = 16;

function sharedKey(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (publicKey.length !== PUBLIC_KEY_BYTES || secretKey.length !== nacl.box.secretKeyLength) throw new OperationError('bad key size for a sealed box');
  const key = new Uint8Array(nacl.box.sharedKeyLength);
  lowlevel.crypto_box_beforenm(key, publicKey, secretKey);
  return key;
}

/** Encrypts `plaintext` so that only the holder of `recipientPublicKey`'s secret key can read it. Leaves no copy of it behind. */
export function sealTo(recipientPublicKey: Uint8Array, plaintext: Uint8Array): SealedBox {
  const sender = nacl.box.keyPair();
  const nonce = nacl.randomBytes(NONCE_BYTES);
  const key = sharedKey(recipientPublicKey, sender.secretKey);
  const padded = new Uint8Array(ZERO_BYTES + plaintext.length);
  padded.set(plaintext, ZERO_BYTES);
  const cipher = new Uint8Array(padded.length);
  try {
    lowlevel.crypto_secretbox(cipher, padded, padded.length, nonce, key);
    return { senderPublicKey: sender.publicKey, nonce, box: cipher.slice(BOX_ZERO_BYTES) };
  } finally {
    zeroize(sender.secretKey, key, padded);
  }
}

/** Opens a sealed box with the recipient's secret key; a forged or damaged box is refused. The caller zeroes the plaintext. */
export function openSealed(sealed: SealedBox, recipientSecretKey: Uint8Array): Uint8Array {
  if (sealed.nonce.length !== NONCE_BYTES || sealed.box.length < BOX_OVERHEAD_BYTES) throw new OperationError('the sealed box is malformed');
  const key = sharedKey(sealed.senderPublicKey, recipientSecretKey);
  const cipher = new Uint8Array(BOX_ZERO_BYTES + sealed.box.length);
  cipher.set(sealed.box, BOX_ZERO_BYTES);
  const padded = new Uint8Array(cipher.length);
  try {
    if (lowlevel.crypto_secretbox_open(padded, cipher, cipher.length, sealed.nonce, key) !== 0) {
      throw new OperationError('the sealed box does not open with this VM\'s key (damaged, forged or sealed to another key)');
    }
    return padded.slice(ZERO_BYTES);
  } finally {
    zeroize(key, padded);
  }
}

/** The box length that carries a plaintext of `plaintextBytes`: what dom0 checks before forwarding a sealed key. */
export function sealedLength(plaintextBytes: number): number {
  return plaintextBytes + BOX_OVERHEAD_BYTES;
}
