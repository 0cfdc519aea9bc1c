/** The placeholder shown for redacted values. */
export const REDACTED = '[REDACTED]';

/**
 * A copy of `params` with every listed path (`'password'`, `'token.value'`) replaced by
 * `[REDACTED]`. Paths through arrays apply to every element. The input is not changed.
 */
export function redactParams(
  params: Record<string, unknown>,
  paths: readonly string[] | undefined,
): Record<string, unknown> {
  if (paths === undefined || paths.length === 0) return params;
  let out: unknown = params;
  for (const path of paths) out = redactPath(out, path.split('.'), 0);
  return out as Record<string, unknown>;
}

function redactPath(value: unknown, parts: string[], i: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactPath(v, parts, i));
  const key = parts[i] as string;
  const obj = value as Record<string, unknown>;
  if (!Object.hasOwn(obj, key)) return value;
  const copy: Record<string, unknown> = { ...obj };
  Object.defineProperty(copy, key, {
    value: i === parts.length - 1 ? REDACTED : redactPath(obj[key], parts, i + 1),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}
