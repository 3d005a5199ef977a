// The sizes of a sealed box (NaCl's crypto_box: X25519, XSalsa20, Poly1305), kept apart from the code that seals. Schemas and
// size checks need only these numbers; a process that never seals nor opens a box (most VM services) then does not load
// tweetnacl when it starts. seal.ts checks at load that they are tweetnacl's own.
export const PUBLIC_KEY_BYTES = 32;
export const NONCE_BYTES = 24;
/** Poly1305's tag: what a box adds to its plaintext. */
export const BOX_OVERHEAD_BYTES = 16;

/** The box length that carries a plaintext of `plaintextBytes`: what dom0 checks before forwarding a sealed key. */
export function sealedLength(plaintextBytes: number): number {
  return plaintextBytes + BOX_OVERHEAD_BYTES;
}
