// A volume's pin: proof that an unlock gave the key the user knows, without revealing the key. HMAC-SHA256 keyed with the
// volume key over a fixed label and the mapping's parameters, computed by the device VM from the key it actually maps with.
// A substituted volume (another header that opens with the user's passphrase: a null-cipher key slot, an old header copy
// whose passphrase leaked) carries another key or layout, so another pin. HMAC's output says nothing about its key.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Versioned, so a future change of what is pinned can never make an old pin match by accident. */
const PIN_LABEL = 'split-dm-crypt volume pin v1';
export const PIN_PATTERN = /^[0-9a-f]{64}$/;

export interface PinnedLayout {
  /** The dm-crypt cipher specification mapped with (aes-xts-plain64). */
  readonly cipher: string;
  readonly keyBytes: number;
  readonly sectorSize: number;
  /** In 512-byte sectors. */
  readonly dataOffset: number;
}

/** The pin as 64 lowercase hex digits. Fields are NUL-separated and named, so no two layouts encode alike. */
export function volumePin(volumeKey: Uint8Array, layout: PinnedLayout): string {
  const message = [PIN_LABEL, `cipher=${layout.cipher}`, `key-bytes=${layout.keyBytes}`, `sector-size=${layout.sectorSize}`, `data-offset=${layout.dataOffset}`].join('\0');
  return createHmac('sha256', volumeKey).update(message, 'utf8').digest('hex');
}

/** Constant-time comparison of two well-formed pins. */
export function pinsEqual(a: string, b: string): boolean {
  return PIN_PATTERN.test(a) && PIN_PATTERN.test(b) && timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}
