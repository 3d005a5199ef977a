// Hex encoding of secrets into Buffers (never JS strings, which cannot be zeroed).
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** Lowercase hex of `bytes` as ASCII bytes in a Buffer the caller zeroes. */
export function hexBytes(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = DIGITS[bytes[i]! >> 4]!;
    out[2 * i + 1] = DIGITS[bytes[i]! & 15]!;
  }
  return out;
}
