import type { z } from 'zod';
import { OrchestrationError } from './errors.js';

/** Parses a method's input with its schema; a failure is INVALID_INPUT listing each problem. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, method: string): z.output<S> {
  const r = schema.safeParse(input === undefined ? {} : input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: i.message,
    code: i.code,
  }));
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`)
    .join('; ');
  throw new OrchestrationError(
    'INVALID_INPUT',
    `${method}: invalid input — ${summary}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}. Fix these fields and call again.`,
    { method, issues },
  );
}
