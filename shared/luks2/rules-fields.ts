// The field tests cryptsetup's LUKS2 validation is built from (lib/luks2/luks2_json_metadata.c: json_contains, json_contains_string,
// numbered, json_str_to_uint64, validate_json_uint32), on our JSON values. A failed test is a ParseError naming the JSON path.
import { JsonDouble, type JsonObject, type JsonValue } from './json-text.ts';
import { fail } from './metadata-fields.ts';

export { fail };

export const UINT64_MAX = 2n ** 64n - 1n;
const UINT32_MAX = 2 ** 32 - 1;

export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonDouble);
}

/** A member of `obj` (own keys only: "__proto__" or "toString" are never inherited members). */
export function member(obj: JsonValue | undefined, key: string): JsonValue | undefined {
  return isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** json_contains(..., json_type_object). */
export function objectAt(obj: JsonValue | undefined, key: string, path: string): JsonObject {
  const value = member(obj, key);
  if (!isObject(value)) fail(path, 'missing or not an object');
  return value;
}

/** json_contains(..., json_type_array). */
export function arrayAt(obj: JsonValue | undefined, key: string, path: string): JsonValue[] {
  const value = member(obj, key);
  if (!Array.isArray(value)) fail(path, 'missing or not an array');
  return value;
}

/** json_contains_string: a string of at least one character. */
export function stringAt(obj: JsonValue | undefined, key: string, path: string): string {
  const value = member(obj, key);
  if (typeof value !== 'string' || value.length === 0) fail(path, 'missing or not a non-empty string');
  return value;
}

/** json_contains(..., json_type_int): a number written without fraction or exponent (json-c's int). */
export function intAt(obj: JsonValue | undefined, key: string, path: string): number {
  const value = member(obj, key);
  if (typeof value !== 'number') fail(path, value instanceof JsonDouble ? 'not an integer (written with a fraction or exponent)' : 'missing or not an integer');
  return value;
}

/** validate_json_uint32 on an int member. */
export function uint32At(obj: JsonValue | undefined, key: string, path: string): number {
  const value = intAt(obj, key, path);
  if (value < 0 || value > UINT32_MAX) fail(path, `${value} is not a 32-bit unsigned integer`);
  return value;
}

/** cryptsetup's numbered(): only decimal digits (the empty string passes too; json_contains_string has refused it before). */
export const numbered = (text: string): boolean => /^[0-9]*$/.test(text);

/** json_str_to_uint64 on a numbered string: its value, or undefined when it exceeds 2^64 - 1 (strtoull's ERANGE). */
export function numberedU64(text: string): bigint | undefined {
  const value = BigInt(text === '' ? '0' : text);
  return value > UINT64_MAX ? undefined : value;
}

/**
 * strtoull(text, &end, 10) with cryptsetup's "*end or errno is an error": leading white space and a sign are allowed, a minus
 * wraps modulo 2^64 as in C. Used where cryptsetup does not check numbered() first (config.json_size, config.keyslots_size).
 */
export function strtoull(text: string): bigint | undefined {
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(text);
  if (!match) return undefined;
  const magnitude = BigInt(match[2]!);
  if (magnitude > UINT64_MAX) return undefined;
  return match[1] === '-' ? (2n ** 64n - magnitude) % 2n ** 64n : magnitude;
}

/** A numbered uint64 string member (segment offset and size, key-slot area offset and size, iv_tweak). */
export function numberedU64At(obj: JsonValue | undefined, key: string, path: string): bigint {
  const text = stringAt(obj, key, path);
  if (!numbered(text)) fail(path, `'${text.slice(0, 24)}' is not a decimal number`);
  const value = numberedU64(text);
  if (value === undefined) fail(path, `${text.slice(0, 24)} exceeds 2^64 - 1`);
  return value;
}

/**
 * The number cryptsetup makes of an id with atoi() (strtol clamped to 2^63 - 1, then cut to a 32-bit int), printed back with
 * "%u": the name it looks the object up by. "01" becomes "1", so an object under "01" is never found by its number.
 */
export function atoiName(key: string): string {
  let value = BigInt(/^[0-9]+/.exec(key)?.[0] ?? '0');
  if (value > 2n ** 63n - 1n) value = 2n ** 63n - 1n;
  return String(value % 2n ** 32n);
}

/** The members of a section object in ascending id order (its keys, checked numbered by the caller). */
export function entries(section: JsonObject): [string, JsonValue][] {
  return Object.keys(section)
    .sort((a, b) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => [key, section[key]!]);
}
