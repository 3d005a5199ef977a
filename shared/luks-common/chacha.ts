// XChaCha12, the stream cipher inside Adiantum (Crowley and Biggers, "Adiantum: length-preserving encryption for entry-level
// processors", 2018), as Linux's chacha_generic runs it: HChaCha12 of the key and the nonce's first 16 bytes gives a subkey, and
// ChaCha12 under that subkey, with the nonce's last 8 bytes and a 64-bit block counter from 0, gives the stream. Node's crypto
// has ChaCha20 only, so the rounds are here.
import { zeroize } from '../bytes.ts';
import { InternalError } from '../errors.ts';

export const XCHACHA_KEY_BYTES = 32;
export const XCHACHA_NONCE_BYTES = 24;
const ROUNDS = 12;
const BLOCK_BYTES = 64;
/** "expand 32-byte k" as four little-endian words. */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

const rotl = (v: number, n: number): number => ((v << n) | (v >>> (32 - n))) >>> 0;

function quarterRound(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 16);
  x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 12);
  x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 8);
  x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 7);
}

/** The ChaCha permutation: ROUNDS/2 double rounds (columns, then diagonals), in place. */
function permute(x: Uint32Array): void {
  for (let i = 0; i < ROUNDS; i += 2) {
    quarterRound(x, 0, 4, 8, 12); quarterRound(x, 1, 5, 9, 13); quarterRound(x, 2, 6, 10, 14); quarterRound(x, 3, 7, 11, 15);
    quarterRound(x, 0, 5, 10, 15); quarterRound(x, 1, 6, 11, 12); quarterRound(x, 2, 7, 8, 13); quarterRound(x, 3, 4, 9, 14);
  }
}

/** The initial state: constants, the 32-byte key, then four words from `tail` (16 bytes). */
function initialState(key: Uint8Array, tail: Uint8Array): Uint32Array {
  const state = new Uint32Array(16);
  state.set(SIGMA, 0);
  const keyView = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let i = 0; i < 8; i++) state[4 + i] = keyView.getUint32(i * 4, true);
  for (let i = 0; i < 4; i++) state[12 + i] = tailView.getUint32(i * 4, true);
  return state;
}

/** HChaCha12: words 0-3 and 12-15 of the permuted state, as the 32-byte subkey (no feed-forward). */
function hchacha(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const x = initialState(key, nonce16);
  permute(x);
  const subkey = new Uint8Array(32);
  const view = new DataView(subkey.buffer);
  for (let i = 0; i < 4; i++) {
    view.setUint32(i * 4, x[i]!, true);
    view.setUint32(16 + i * 4, x[12 + i]!, true);
  }
  x.fill(0);
  return subkey;
}

/** `data` XORed with the XChaCha12 stream of `key` and the 24-byte `nonce`, from stream position 0. */
export function xchacha12Xor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Buffer {
  if (key.length !== XCHACHA_KEY_BYTES || nonce.length !== XCHACHA_NONCE_BYTES) throw new InternalError('xchacha12 needs a 32-byte key and a 24-byte nonce');
  const subkey = hchacha(key, nonce.subarray(0, 16));
  // Words 12-13: the 64-bit block counter; words 14-15: the nonce's last 8 bytes.
  const tail = new Uint8Array(16);
  tail.set(nonce.subarray(16, 24), 8);
  const state = initialState(subkey, tail);
  zeroize(subkey);
  const x = new Uint32Array(16);
  const block = new Uint8Array(BLOCK_BYTES);
  const blockView = new DataView(block.buffer);
  const out = Buffer.alloc(data.length);
  for (let offset = 0; offset < data.length; offset += BLOCK_BYTES) {
    x.set(state);
    permute(x);
    for (let i = 0; i < 16; i++) blockView.setUint32(i * 4, (x[i]! + state[i]!) >>> 0, true);
    const end = Math.min(BLOCK_BYTES, data.length - offset);
    for (let i = 0; i < end; i++) out[offset + i] = data[offset + i]! ^ block[i]!;
    state[12] = (state[12]! + 1) >>> 0;
    if (state[12] === 0) state[13] = (state[13]! + 1) >>> 0;
  }
  state.fill(0);
  x.fill(0);
  zeroize(block);
  return out;
}
