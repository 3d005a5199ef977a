// NH-Poly1305, Adiantum's hash of the bulk of a message, as Linux's crypto/nhpoly1305.c computes it: the message, zero-padded to
// 16-byte units, is cut into 1024-byte pieces; NH hashes each piece into four 64-bit sums (32 bytes); Poly1305's core absorbs
// those 32-byte values in order and its 16-byte result is the hash.
import { InternalError } from '../errors.ts';
import { Poly1305Core, POLY1305_BLOCK_BYTES } from './poly1305.ts';

const NH_UNIT_BYTES = 16;
const NH_PIECE_BYTES = 1024;
const NH_PASSES = 4;
/** One key word per message word of a piece, plus 2 * 2 * (passes - 1) for the passes' offsets into the key. */
const NH_KEY_WORDS = NH_PIECE_BYTES / 4 + 2 * 2 * (NH_PASSES - 1);
export const NH_POLY1305_KEY_BYTES = POLY1305_BLOCK_BYTES + NH_KEY_WORDS * 4;
const TWO32 = 2 ** 32;

/** Adds the 64-bit product a * b of two 32-bit numbers to the sum (lo, hi) at `sums[2i..2i+1]`, mod 2^64, exactly in doubles. */
function addProduct(sums: Float64Array, i: number, a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid = a1 * b0 + a0 * b1;
  const lo = sums[2 * i]! + a0 * b0 + (mid % 0x10000) * 0x10000;
  sums[2 * i] = lo % TWO32;
  sums[2 * i + 1] = (sums[2 * i + 1]! + a1 * b1 + Math.floor(mid / 0x10000) + Math.floor(lo / TWO32)) % TWO32;
}

/** NH of one piece (a whole number of 16-byte units, at most 1024 bytes) into 32 bytes: four little-endian 64-bit sums. */
function nh(key: Uint32Array, piece: Uint8Array, out: Uint8Array): void {
  const sums = new Float64Array(2 * NH_PASSES);
  const view = new DataView(piece.buffer, piece.byteOffset, piece.byteLength);
  for (let offset = 0; offset < piece.length; offset += NH_UNIT_BYTES) {
    const k = offset / 4;
    const m0 = view.getUint32(offset, true);
    const m1 = view.getUint32(offset + 4, true);
    const m2 = view.getUint32(offset + 8, true);
    const m3 = view.getUint32(offset + 12, true);
    for (let pass = 0; pass < NH_PASSES; pass++) {
      const p = k + 4 * pass;
      addProduct(sums, pass, (m0 + key[p]!) >>> 0, (m2 + key[p + 2]!) >>> 0);
      addProduct(sums, pass, (m1 + key[p + 1]!) >>> 0, (m3 + key[p + 3]!) >>> 0);
    }
  }
  const outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let pass = 0; pass < NH_PASSES; pass++) {
    outView.setUint32(pass * 8, sums[2 * pass]!, true);
    outView.setUint32(pass * 8 + 4, sums[2 * pass + 1]!, true);
  }
  sums.fill(0);
}

export class NhPoly1305 {
  private readonly polyKey: Uint8Array;
  private readonly nhKey: Uint32Array;

  /** `key`: 16 bytes of Poly1305 key, then the NH key's 268 little-endian 32-bit words. */
  constructor(key: Uint8Array) {
    if (key.length !== NH_POLY1305_KEY_BYTES) throw new InternalError(`an nhpoly1305 key is ${NH_POLY1305_KEY_BYTES} bytes`);
    this.polyKey = Uint8Array.from(key.subarray(0, POLY1305_BLOCK_BYTES));
    const view = new DataView(key.buffer, key.byteOffset + POLY1305_BLOCK_BYTES, NH_KEY_WORDS * 4);
    this.nhKey = Uint32Array.from({ length: NH_KEY_WORDS }, (_, i) => view.getUint32(i * 4, true));
  }

  /** The 16-byte hash of `message` (any length; the last unit is zero-padded). */
  hash(message: Uint8Array): Buffer {
    const poly = new Poly1305Core(this.polyKey);
    const padded = new Uint8Array(Math.ceil(message.length / NH_UNIT_BYTES) * NH_UNIT_BYTES);
    padded.set(message);
    const value = new Uint8Array(NH_PASSES * 8);
    for (let offset = 0; offset < padded.length; offset += NH_PIECE_BYTES) {
      nh(this.nhKey, padded.subarray(offset, offset + NH_PIECE_BYTES), value);
      poly.blocks(value);
    }
    padded.fill(0);
    value.fill(0);
    return poly.emit();
  }

  wipe(): void {
    this.polyKey.fill(0);
    this.nhKey.fill(0);
  }
}
