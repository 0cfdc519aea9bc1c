import { OrchestrationError } from '../errors.js';

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
  const notJson = () =>
    new OrchestrationError(code, `${what} must be plain JSON data (no cycles, BigInt, functions or symbols).`, {});
  let depth: number;
  let text: string | undefined;
  try {
    depth = measureDepth(value, 0);
    if (depth <= MAX_DEPTH) text = JSON.stringify(value);
  } catch {
    // A cycle, a BigInt, a getter or Proxy trap that throws: none of it is data.
    throw notJson();
  }
  if (depth > MAX_DEPTH) {
    throw new OrchestrationError('INVALID_INPUT', `${what} are nested deeper than ${MAX_DEPTH} levels. Flatten them.`, {
      maxDepth: MAX_DEPTH,
    });
  }
  if (text === undefined) {
    if (value === undefined) return value;
    throw notJson();
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new OrchestrationError(
      'INVALID_INPUT',
      `${what} take ${bytes} bytes as JSON, more than the limit of ${maxBytes}. Send a reference instead, or raise policy max_params_bytes.`,
      { bytes, maxBytes },
    );
  }
  return JSON.parse(text) as T;
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
