/**
 * PostgreSQL cannot store every JavaScript string: `text` rejects NUL, `jsonb` rejects `\u0000` and
 * lone surrogates. Such characters (and the escape character itself) are stored as
 * `U+FFFF` followed by four hex digits, which is reversible and leaves every other string as it is.
 * Values are encoded deterministically, so equality filters on encoded columns keep working.
 */

const ESC = '\uffff';
const ESC_CODE = 0xffff;

/** Index of the first character PostgreSQL cannot store, or -1. */
function firstUnsafe(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === ESC_CODE) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/** A string PostgreSQL accepts in `text` and `jsonb`; {@link decodeText} reverses it. */
export function encodeText(s: string): string {
  let i = firstUnsafe(s);
  if (i < 0) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s.slice(i, i + 2);
        i++;
        continue;
      }
    }
    out += c === 0 || c === ESC_CODE || (c >= 0xd800 && c <= 0xdfff) ? ESC + c.toString(16).padStart(4, '0') : s[i];
  }
  return out;
}

/** Reverses {@link encodeText}. */
export function decodeText(s: string): string {
  if (!s.includes(ESC)) return s;
  return s.replace(/\uffff([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty: a `__proto__` key is data (as JSON.parse makes it); assigning it would set the prototype.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, f(k), {
        value: mapStrings(v, f),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/** JSON text of `value` that `jsonb` accepts. Walks the value only when it holds an unsafe string. */
export function encodeJson(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify writes NUL as \u0000 and lone surrogates as \udXXX; a false positive only costs a walk.
  if (!text.includes('\\u0000') && !text.includes(ESC) && !/\\ud[89a-f]/.test(text)) return text;
  return JSON.stringify(mapStrings(JSON.parse(text), encodeText));
}

/** Parses JSON text written by {@link encodeJson}. */
export function decodeJson<T>(text: string): T {
  const value: unknown = JSON.parse(text);
  return (text.includes(ESC) ? mapStrings(value, decodeText) : value) as T;
}
