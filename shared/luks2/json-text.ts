// The LUKS2 JSON area as cryptsetup reads it (lib/luks2/luks2_disk_metadata.c: parse_json_len, validate_json_area), with our own
// reader instead of JSON.parse because two facts json-c keeps are lost by JSON.parse: whether a number was written as an integer
// (cryptsetup refuses 1000.0 where it wants an int) and how deep the nesting goes (json-c stops at 32 levels).
// We read RFC 8259 JSON only: json-c's lenient extensions (comments, single quotes, trailing commas, leading zeros, NaN, raw
// control characters, invalid UTF-8, NUL inside strings) are refused, see docs/LUKS2-RULES.md.
import { ParseError } from '../errors.ts';

/** A JSON number written with a fraction or an exponent: json-c's json_type_double, never accepted where cryptsetup wants an int. */
export class JsonDouble {
  constructor(readonly value: number) {}
  /** Serializes as the number it is (tokens are carried along and written back). */
  toJSON(): number {
    return this.value;
  }
}

export type JsonValue = null | boolean | number | string | JsonDouble | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** json-c's JSON_TOKENER_DEFAULT_DEPTH: the top-level object is level 1, deeper than 32 is a parse error for cryptsetup. */
export const JSON_C_MAX_DEPTH = 32;

/** isspace() in the C locale: json-c skips all six between tokens and after the value. */
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Reader {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly fail: (at: number, reason: string) => never,
  ) {}

  document(): JsonObject {
    const value = this.value(1);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail(this.pos, 'text after the JSON object');
    return value as JsonObject;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && SPACE.has(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private value(depth: number): JsonValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{' || c === '[') {
      if (depth > JSON_C_MAX_DEPTH) this.fail(this.pos, `nested deeper than json-c's ${JSON_C_MAX_DEPTH} levels`);
      return c === '{' ? this.object(depth) : this.array(depth);
    }
    if (c === '"') return this.string();
    for (const [word, literal] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return literal;
      }
    }
    return this.number();
  }

  private object(depth: number): JsonObject {
    const result: JsonObject = {};
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === '}') return this.pos++, result;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail(this.pos, 'expected a quoted key');
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos++] !== ':') this.fail(this.pos - 1, "expected ':'");
      // defineProperty, not assignment: a key "__proto__" stays a plain key. A repeated key replaces the value, as in json-c.
      Object.defineProperty(result, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === '}') return result;
      if (next !== ',') this.fail(this.pos - 1, "expected ',' or '}'");
    }
  }

  private array(depth: number): JsonValue[] {
    const result: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === ']') return this.pos++, result;
    for (;;) {
      result.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text[this.pos++];
      if (next === ']') return result;
      if (next !== ',') this.fail(this.pos - 1, "expected ',' or ']'");
    }
  }

  private string(): string {
    const start = this.pos++;
    let out = '';
    for (;;) {
      // The run up to the next quote, backslash or control character is taken whole.
      const run = STRING_RUN;
      run.lastIndex = this.pos;
      out += run.exec(this.text)![0];
      this.pos = run.lastIndex;
      const c = this.text[this.pos++];
      if (c === undefined) this.fail(start, 'unterminated string');
      if (c === '"') return out;
      const code = c.charCodeAt(0);
      // Why: json-c would read a string with a NUL as cut at the NUL, so two readers would see two values.
      if (code < 0x20) this.fail(this.pos - 1, 'control character inside a string');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const escape = this.text[this.pos++] ?? '';
      if (escape === 'u') {
        const hex = this.text.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(this.pos, 'bad \\u escape');
        const unit = parseInt(hex, 16);
        if (unit === 0) this.fail(this.pos, '\\u0000 inside a string');
        out += String.fromCharCode(unit);
        this.pos += 4;
      } else if (Object.hasOwn(ESCAPES, escape)) out += ESCAPES[escape];
      else this.fail(this.pos - 1, 'bad escape');
    }
  }

  private number(): number | JsonDouble {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail(this.pos, 'not a JSON value');
    this.pos += match[0].length;
    const value = Number(match[0]);
    return match[1] === undefined && match[2] === undefined ? value : new JsonDouble(value);
  }
}

/**
 * The JSON object of one copy's JSON area (the bytes after the binary header): it must start with '{', the value (plus trailing
 * white space, which json-c consumes) must end before the area does, and only NUL bytes may follow. `base` is the area's device
 * offset, for error messages.
 */
export function readLuks2JsonArea(area: Uint8Array, copy: string, base: number): { readonly value: JsonObject; readonly text: Uint8Array } {
  const fail = (at: number, reason: string): never => {
    throw new ParseError(`luks2 ${copy} header`, 'JSON area', base + at, reason);
  };
  if (area[0] !== 0x7b) fail(0, "does not start with '{'");
  const end = area.indexOf(0);
  if (end < 0) fail(area.length, 'no NUL after the JSON text');
  for (let i = end; i < area.length; i++) if (area[i] !== 0) fail(i, 'bytes after the JSON text are not NUL');
  const bytes = area.subarray(0, end);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(0, 'not valid UTF-8');
  }
  // Offsets in the messages count UTF-16 units of the text, which equal bytes for the ASCII cryptsetup writes.
  return { value: new Reader(text, fail).document(), text: bytes };
}
