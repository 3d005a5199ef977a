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

/** Encrypts `plaintext` so that only the holder of `recipientPublicKey`'s secret key can read it. */
export function sealTo(recipientPublicKey: Uint8Array, plaintext: Uint8Array): SealedBox {
  const sender = nacl.box.keyPair();
  const nonce = nacl.randomBytes(NONCE_BYTES);
  const box = nacl.box(plaintext, nonce, recipientPublicKey, sender.secretKey);
  zeroize(sender.secretKey);
  return { senderPublicKey: sender.publicKey, nonce, box };
}

/** Opens a sealed box with the recipient's secret key; a forged or damaged box is refused. */
export function openSealed(sealed: SealedBox, recipientSecretKey: Uint8Array): Uint8Array {
  const plaintext = nacl.box.open(sealed.box, sealed.nonce, sealed.senderPublicKey, recipientSecretKey);
  if (!plaintext) throw new OperationError('the sealed box does not open with this VM\'s key (damaged, forged or sealed to another key)');
  return plaintext;
}

/** The box length that carries a plaintext of `plaintextBytes`: what dom0 checks before forwarding a sealed key. */
export function sealedLength(plaintextBytes: number): number {
  return plaintextBytes + BOX_OVERHEAD_BYTES;
}
