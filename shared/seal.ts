// Sealing secrets to a recipient's ephemeral X25519 key (tweetnacl box with a one-time sender key), so the hop in between — dom0 — only
// ever forwards ciphertext. Used for the volume key (header VM -> device VM) and for passphrases and key files (dom0 -> header VM).
import nacl from 'tweetnacl';
import { InternalError, OperationError } from './errors.ts';
import { zeroize } from './bytes.ts';
import { BOX_OVERHEAD_BYTES, NONCE_BYTES, PUBLIC_KEY_BYTES } from './sealed-box-sizes.ts';

export { BOX_OVERHEAD_BYTES, NONCE_BYTES, PUBLIC_KEY_BYTES, sealedLength } from './sealed-box-sizes.ts';

// The sizes schemas check (sealed-box-sizes.ts) must be the ones tweetnacl seals with.
if (nacl.box.publicKeyLength !== PUBLIC_KEY_BYTES || nacl.box.nonceLength !== NONCE_BYTES || nacl.box.overheadLength !== BOX_OVERHEAD_BYTES) {
  throw new InternalError('sealed-box-sizes.ts does not match tweetnacl');
}

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
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): number;
  crypto_core_hsalsa20(out: Uint8Array, input: Uint8Array, k: Uint8Array, c: Uint8Array): number;
  crypto_secretbox(c: Uint8Array, m: Uint8Array, d: number, n: Uint8Array, k: Uint8Array): number;
  crypto_secretbox_open(m: Uint8Array, c: Uint8Array, d: number, n: Uint8Array, k: Uint8Array): number;
}
const lowlevel = (nacl as unknown as { lowlevel: NaclLowLevel }).lowlevel;
/** NaCl's zero padding in front of a message (32 bytes) and of a ciphertext (16 bytes). */
const ZERO_BYTES = 32;
const BOX_ZERO_BYTES = 16;
/** crypto_box_beforenm is HSalsa20(key = X25519 shared secret, input = 16 zero bytes, constant = "expand 32-byte k"). */
const HSALSA20_INPUT = new Uint8Array(16);
const HSALSA20_SIGMA = new TextEncoder().encode('expand 32-byte k');

/** Whose public key `sharedKey` was given, for its refusal: the recipient's when sealing, the sender's when opening. */
type KeyOwner = 'recipient' | 'sender';

/** crypto_box_beforenm, done in two steps so the X25519 result can be checked and zeroed. */
function sharedKey(publicKey: Uint8Array, secretKey: Uint8Array, owner: KeyOwner): Uint8Array {
  if (publicKey.length !== PUBLIC_KEY_BYTES || secretKey.length !== nacl.box.secretKeyLength) throw new OperationError('bad key size for a sealed box');
  const shared = new Uint8Array(nacl.scalarMult.groupElementLength);
  try {
    lowlevel.crypto_scalarmult(shared, secretKey, publicKey);
    // Both public keys come from a peer. A low-order point (all zeros among them) gives the all-zero shared secret whatever our
    // secret key is, so the box key would be one anybody can compute: sealing to it publishes the secret, and a box "from" it
    // may have been forged by anyone. libsodium refuses these; tweetnacl does not, so we do (RFC 7748 section 6.1).
    if (isAllZero(shared)) {
      throw new OperationError(owner === 'sender'
        ? 'the sealed box\'s sender key is a low-order point: anybody could have made the box'
        : 'the recipient\'s public key is a low-order point: a box sealed to it could be opened by anybody');
    }
    const key = new Uint8Array(nacl.box.sharedKeyLength);
    lowlevel.crypto_core_hsalsa20(key, HSALSA20_INPUT, shared, HSALSA20_SIGMA);
    return key;
  } finally {
    zeroize(shared);
  }
}

/** True when every byte is zero, in time independent of where a non-zero byte is (the shared secret is secret). */
function isAllZero(bytes: Uint8Array): boolean {
  let any = 0;
  for (const byte of bytes) any |= byte;
  return any === 0;
}

/** Encrypts `plaintext` so that only the holder of `recipientPublicKey`'s secret key can read it. Leaves no copy of it behind. */
export function sealTo(recipientPublicKey: Uint8Array, plaintext: Uint8Array): SealedBox {
  const sender = nacl.box.keyPair();
  const nonce = nacl.randomBytes(NONCE_BYTES);
  let key: Uint8Array | undefined;
  let padded: Uint8Array | undefined;
  try {
    // Inside the try: a refused recipient key still zeroes the one-time sender key.
    key = sharedKey(recipientPublicKey, sender.secretKey, 'recipient');
    padded = new Uint8Array(ZERO_BYTES + plaintext.length);
    padded.set(plaintext, ZERO_BYTES);
    const cipher = new Uint8Array(padded.length);
    lowlevel.crypto_secretbox(cipher, padded, padded.length, nonce, key);
    return { senderPublicKey: sender.publicKey, nonce, box: cipher.slice(BOX_ZERO_BYTES) };
  } finally {
    zeroize(sender.secretKey, key, padded);
  }
}

/** Opens a sealed box with the recipient's secret key; a forged or damaged box is refused. The caller zeroes the plaintext. */
export function openSealed(sealed: SealedBox, recipientSecretKey: Uint8Array): Uint8Array {
  if (sealed.nonce.length !== NONCE_BYTES || sealed.box.length < BOX_OVERHEAD_BYTES) throw new OperationError('the sealed box is malformed');
  const key = sharedKey(sealed.senderPublicKey, recipientSecretKey, 'sender');
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
