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

/** Secrets shorter than this are not scrubbed from messages: they would match ordinary words. */
const MIN_SCRUBBED_LENGTH = 4;

/** The string (and number) values found at `paths` in `params`, longest first. */
export function secretValues(params: unknown, paths: readonly string[] | undefined): string[] {
  if (paths === undefined || paths.length === 0) return [];
  const found = new Set<string>();
  const collect = (value: unknown, depth: number): void => {
    if (depth > 64) return;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      const text = String(value);
      if (text.length >= MIN_SCRUBBED_LENGTH) found.add(text);
    } else if (value !== null && typeof value === 'object') {
      for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, depth + 1);
    }
  };
  const walk = (value: unknown, parts: string[], i: number): void => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, parts, i);
      return;
    }
    const key = parts[i] as string;
    if (!Object.hasOwn(value, key)) return;
    const next = (value as Record<string, unknown>)[key];
    if (i === parts.length - 1) collect(next, 0);
    else walk(next, parts, i + 1);
  };
  for (const path of paths) walk(params, path.split('.'), 0);
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every value found at the redacted `paths` of `params` replaced by `[REDACTED]`: a tool
 * that fails with "wrong password hunter2" must not put the password into results and audit records.
 */
export function scrubSecrets(text: string, params: unknown, paths: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secretValues(params, paths)) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}
