import { OrchestrationError } from '../errors.js';

/** Deepest nesting accepted in params and outputs. */
export const MAX_DEPTH = 64;

/**
 * Checks that `value` is plain JSON data within `maxBytes` and `MAX_DEPTH`, and returns a normalised
 * copy (what a durable store would give back). Throws `code` with a message that says what to fix.
 */
export function toJsonData<T>(
  value: T,
  maxBytes: number,
  what: string,
  code: 'INVALID_INPUT' | 'INVALID_PARAMS' = 'INVALID_INPUT',
): T {
  const depth = measureDepth(value, 0);
  if (depth > MAX_DEPTH) {
    throw new OrchestrationError(code, `${what} are nested deeper than ${MAX_DEPTH} levels. Flatten them.`, {
      maxDepth: MAX_DEPTH,
    });
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    throw new OrchestrationError(code, `${what} must be plain JSON data (no cycles, BigInt or functions).`, {});
  }
  if (text === undefined) return value;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new OrchestrationError(
      code,
      `${what} take ${bytes} bytes as JSON, more than the limit of ${maxBytes}. Send a reference instead, or raise policy max_params_bytes.`,
      { bytes, maxBytes },
    );
  }
  return JSON.parse(text) as T;
}

function measureDepth(value: unknown, depth: number): number {
  if (value === null || typeof value !== 'object') return depth;
  if (depth > MAX_DEPTH) return depth;
  let max = depth + 1;
  const items = Array.isArray(value) ? value : Object.values(value as object);
  for (const v of items) {
    const d = measureDepth(v, depth + 1);
    if (d > max) max = d;
    if (max > MAX_DEPTH) break;
  }
  return max;
}
