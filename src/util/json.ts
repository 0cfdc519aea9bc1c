import { OrchestrationError } from '../errors.js';
import { copyData } from './copy.js';

/** Deepest nesting accepted in params and outputs. */
export const MAX_DEPTH = 64;

/**
 * Checks that `value` is plain JSON data within `maxBytes` and `MAX_DEPTH`, and returns a normalised
 * copy (what a durable store would give back: `undefined` members dropped, `NaN` and `Infinity` as
 * `null`, dates as strings). Throws with a message that says what to fix: going over the size or depth
 * limit is `INVALID_INPUT`; data JSON cannot hold (cycles, BigInt, functions, throwing getters) is `code`.
 */
export function toJsonData<T>(
  value: T,
  maxBytes: number,
  what: string,
  code: 'INVALID_INPUT' | 'INVALID_PARAMS' = 'INVALID_INPUT',
): T {
  const copy = plainCopy(value);
  if (copy !== undefined) {
    // Plain data (the usual params) is already what the round trip gives: the copy is kept, and
    // measured as text only when its length could pass the limit (a UTF-16 unit is at most 3 bytes).
    const text = JSON.stringify(copy);
    if (text.length * 3 > maxBytes) assertSize(Buffer.byteLength(text), maxBytes, what);
    return copy;
  }
  let depth: number;
  let text: string | undefined;
  try {
    depth = measureDepth(value, 0);
    if (depth <= MAX_DEPTH) text = JSON.stringify(value);
  } catch {
    // A cycle, a BigInt, a getter or Proxy trap that throws: none of it is data.
    throw notJson(code, what);
  }
  if (depth > MAX_DEPTH) {
    throw new OrchestrationError('INVALID_INPUT', `${what} are nested deeper than ${MAX_DEPTH} levels. Flatten them.`, {
      maxDepth: MAX_DEPTH,
    });
  }
  if (text === undefined) {
    if (value === undefined) return value;
    throw notJson(code, what);
  }
  assertSize(Buffer.byteLength(text), maxBytes, what);
  return JSON.parse(text) as T;
}

function notJson(code: 'INVALID_INPUT' | 'INVALID_PARAMS', what: string): OrchestrationError {
  return new OrchestrationError(code, `${what} must be plain JSON data (no cycles, BigInt, functions or symbols).`, {});
}

function assertSize(bytes: number, maxBytes: number, what: string): void {
  if (bytes > maxBytes) {
    throw new OrchestrationError(
      'INVALID_INPUT',
      `${what} take ${bytes} bytes as JSON, more than the limit of ${maxBytes}. Send a reference instead, or raise policy max_params_bytes.`,
      { bytes, maxBytes },
    );
  }
}

function measureDepth(value: unknown, depth: number, ancestors = new Set<object>()): number {
  // JSON.stringify would drop these silently; refusing them says the caller sent something odd.
  if (typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`a ${typeof value}`);
  if (value === null || typeof value !== 'object') return depth;
  if (depth > MAX_DEPTH) return depth;
  if (ancestors.has(value)) throw new TypeError('a cycle');
  ancestors.add(value);
  let max = depth + 1;
  const items = Array.isArray(value) ? value : Object.values(value as object);
  for (const v of items) {
    const d = measureDepth(v, depth + 1, ancestors);
    if (d > max) max = d;
    if (max > MAX_DEPTH) break;
  }
  ancestors.delete(value);
  return max;
}

/**
 * `JSON.parse(JSON.stringify(value))` for a value that JSON can hold as it is, without the text in
 * between: plain data is copied directly; anything else (a Date, a class instance, `undefined`
 * members, `NaN`, `-0`) takes the JSON round trip, so the result is always what the round trip gives.
 * Throws what `JSON.stringify` throws (cycles, BigInt).
 */
export function jsonCopy(value: unknown): unknown {
  const copy = plainCopy(value);
  if (copy !== undefined) return copy;
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * A copy of `value` when it is plain JSON data (see {@link isPlainJson}), else undefined. The copy is
 * made first and checked after, so that what is checked is what is kept: a getter or Proxy is read
 * once, and one that answers differently the next time cannot slip anything into the copy. Anything
 * that throws while being copied (a revoked Proxy, a cycle) is left to the caller's JSON round trip.
 */
function plainCopy<T>(value: T): T | undefined {
  let copy: T;
  try {
    copy = copyData(value);
  } catch {
    return undefined;
  }
  return isPlainJson(copy, 0) ? copy : undefined;
}

/** True when `value` is made of plain objects, dense arrays, strings, finite numbers, booleans and null only. */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // JSON writes -0 as 0, and NaN and the infinities as null.
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const obj = value as Record<string, unknown>;
  if (typeof obj.toJSON === 'function') return false;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key) || key === '__proto__' || !isPlainJson(obj[key], depth + 1)) return false;
  }
  return true;
}
