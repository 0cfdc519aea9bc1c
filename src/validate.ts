import type { z } from 'zod';
import { OrchestrationError } from './errors.js';

/** Longest issue message, path segment and summary that an INVALID_INPUT error repeats. */
const MAX_ECHO = 120;

/** Shortens text that came (or may have come) from the caller, so that an error never repeats a huge input. */
function clip(text: string, max = MAX_ECHO): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * Parses a method's input with its schema; a failure is INVALID_INPUT listing each problem.
 * Input that cannot even be read (a getter or Proxy trap that throws, a revoked Proxy) is
 * INVALID_INPUT too: nothing but an {@link OrchestrationError} leaves here.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, method: string): z.output<S> {
  let all: z.core.$ZodIssue[];
  try {
    const r = schema.safeParse(input === undefined ? {} : input);
    if (r.success) return r.data;
    all = r.error.issues; // zod builds the issues on first read, and may look at the input again then
  } catch {
    // What was thrown came from the input (a getter, a Proxy trap): it is not looked at either.
    throw new OrchestrationError(
      'INVALID_INPUT',
      `${method}: the input could not be read (a getter or Proxy threw). Pass a plain object of JSON data.`,
      { method, issues: [{ path: [], message: 'the input could not be read', code: 'unreadable' }] },
    );
  }
  const issues = all.slice(0, 20).map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? clip(String(p)) : typeof p === 'string' ? clip(p) : p)),
    message: clip(i.message, 300),
    code: i.code,
  }));
  const summary = issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? clip(i.path.join('.')) : 'input'}: ${clip(i.message)}`)
    .join('; ');
  throw new OrchestrationError(
    'INVALID_INPUT',
    `${method}: invalid input — ${summary}${all.length > 5 ? ` (and ${all.length - 5} more)` : ''}. Fix these fields and call again.`,
    { method, issues, ...(all.length > issues.length ? { issueCount: all.length } : {}) },
  );
}
