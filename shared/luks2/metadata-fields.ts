// Field readers shared by the LUKS2 metadata decoders: typed errors naming the JSON path, strict base64, 64-bit decimal strings.
import { ParseError, UnsupportedError } from '../errors.ts';
import { LUKS2_BINARY_HEADER_BYTES } from './constants.ts';

/** A ParseError for a JSON field; the offset is the start of the JSON area (JSON has no stable byte positions worth reporting). */
export function fail(field: string, reason: string): never {
  throw new ParseError('luks2 metadata', field, LUKS2_BINARY_HEADER_BYTES, reason);
}

/**
 * A decimal string cryptsetup's rules accepted (below 2^64) as a number. Above 2^53 a JS number is no longer exact; no device
 * comes near 8 PiB, so such a value is a feature we refuse by name rather than a header we misread.
 */
export function safeInteger(value: string | bigint, field: string): number {
  const big = typeof value === 'bigint' ? value : BigInt(value);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new UnsupportedError(`unsupported luks2 value ${big} in ${field}: more than 2^53 (8 PiB) is not implemented`);
  return Number(big);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (canonical padding, no whitespace), optionally of an exact decoded length. */
export function decodeSalt(value: string, field: string, exactBytes?: number): Uint8Array {
  if (!BASE64.test(value)) fail(field, 'not canonical base64');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) fail(field, 'not canonical base64');
  if (exactBytes !== undefined && bytes.length !== exactBytes) fail(field, `${bytes.length} bytes (must be ${exactBytes})`);
  return new Uint8Array(bytes);
}
