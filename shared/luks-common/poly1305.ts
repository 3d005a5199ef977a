// The Poly1305 polynomial evaluation Adiantum uses twice, as Linux's poly1305_core_* runs it: a clamped 16-byte key r, whole
// 16-byte blocks each with the bit 2^128 set, h = (h + block) * r mod 2^130 - 5, and the result h mod p truncated to 128 bits
// with no nonce added (the "core" without Poly1305's final s). Numbers are kept in ten 13-bit limbs, so every product and sum
// stays exact in a double and the state lives in typed arrays that can be zeroed (a BigInt could not be).
import { InternalError } from '../errors.ts';

export const POLY1305_BLOCK_BYTES = 16;
const LIMBS = 10;
const LIMB_BITS = 13;
const LIMB = 2 ** LIMB_BITS;
const CLAMP = [0xff, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f];

/** 16 little-endian bytes (plus 2^128 when `hibit`) as ten 13-bit limbs. */
function toLimbs(bytes: Uint8Array, hibit: boolean, into: Float64Array): void {
  let acc = 0;
  let bits = 0;
  let next = 0;
  for (let i = 0; i < LIMBS; i++) {
    while (bits < LIMB_BITS && next < POLY1305_BLOCK_BYTES) {
      acc += bytes[next++]! * 2 ** bits;
      bits += 8;
    }
    into[i] = acc % LIMB;
    acc = Math.floor(acc / LIMB);
    bits -= LIMB_BITS;
  }
  // 128 = 9 * 13 + 11: the top bit lands in the last limb.
  if (hibit) into[LIMBS - 1] = into[LIMBS - 1]! + 2 ** (128 - (LIMBS - 1) * LIMB_BITS);
}

/** Carries every limb into the next; what leaves the top (multiples of 2^130) comes back times 5. */
function carry(h: Float64Array): void {
  for (let round = 0; round < 2; round++) {
    let c = 0;
    for (let i = 0; i < LIMBS; i++) {
      const v = h[i]! + c;
      h[i] = v % LIMB;
      c = Math.floor(v / LIMB);
    }
    h[0] = h[0]! + 5 * c;
  }
}

export class Poly1305Core {
  private readonly r = new Float64Array(LIMBS);
  private readonly h = new Float64Array(LIMBS);
  private readonly m = new Float64Array(LIMBS);
  private readonly d = new Float64Array(LIMBS);

  constructor(key: Uint8Array) {
    if (key.length !== POLY1305_BLOCK_BYTES) throw new InternalError('a poly1305 key r is 16 bytes');
    const clamped = key.map((byte, i) => byte & CLAMP[i]!);
    toLimbs(clamped, false, this.r);
    clamped.fill(0);
  }

  /** Absorbs whole 16-byte blocks. */
  blocks(data: Uint8Array): this {
    if (data.length % POLY1305_BLOCK_BYTES !== 0) throw new InternalError('poly1305 core takes whole 16-byte blocks');
    const { r, h, m, d } = this;
    for (let offset = 0; offset < data.length; offset += POLY1305_BLOCK_BYTES) {
      toLimbs(data.subarray(offset, offset + POLY1305_BLOCK_BYTES), true, m);
      for (let i = 0; i < LIMBS; i++) h[i] = h[i]! + m[i]!;
      // d = h * r mod 2^130 - 5: a limb product past the top wraps with a factor 5 (2^130 = 5 mod p).
      for (let i = 0; i < LIMBS; i++) {
        let sum = 0;
        for (let j = 0; j < LIMBS; j++) sum += j <= i ? h[j]! * r[i - j]! : h[j]! * 5 * r[i - j + LIMBS]!;
        d[i] = sum;
      }
      h.set(d);
      carry(h);
    }
    return this;
  }

  /** h mod 2^130 - 5, its low 128 bits little-endian; the state is zeroed after. */
  emit(): Buffer {
    const { h, m } = this;
    carry(h);
    // h + 5 reaches 2^130 exactly when h >= p; then the result is h + 5 - 2^130.
    m.set(h);
    m[0] = m[0]! + 5;
    for (let i = 0; i < LIMBS - 1; i++) {
      m[i + 1] = m[i + 1]! + Math.floor(m[i]! / LIMB);
      m[i] = m[i]! % LIMB;
    }
    const reduced = m[LIMBS - 1]! >= LIMB;
    if (reduced) m[LIMBS - 1] = m[LIMBS - 1]! - LIMB;
    const value = reduced ? m : h;
    const out = Buffer.alloc(POLY1305_BLOCK_BYTES);
    let acc = 0;
    let bits = 0;
    let next = 0;
    for (let i = 0; i < LIMBS && next < POLY1305_BLOCK_BYTES; i++) {
      acc += value[i]! * 2 ** bits;
      bits += LIMB_BITS;
      while (bits >= 8 && next < POLY1305_BLOCK_BYTES) {
        out[next++] = acc % 256;
        acc = Math.floor(acc / 256);
        bits -= 8;
      }
    }
    this.wipe();
    return out;
  }

  wipe(): void {
    for (const limbs of [this.r, this.h, this.m, this.d]) limbs.fill(0);
  }
}
