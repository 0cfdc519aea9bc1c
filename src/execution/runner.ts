import pRetry from 'p-retry';
import { type ExecutionErrorCode, isOrchestrationError } from '../errors.js';

/** How one execution is attempted. */
export interface AttemptOptions {
  /** Retries after the first attempt. */
  retries: number;
  /** Limit of each attempt; its signal aborts then. */
  timeoutMs: number;
  /** Stops everything (no further attempts) when aborted. */
  signal?: AbortSignal;
  /** First backoff delay; doubles per retry. @default 50 */
  minBackoffMs?: number;
  /** @default 2000 */
  maxBackoffMs?: number;
  /** Whether a timed-out attempt may be retried (it may have had effects). @default true */
  retryTimeouts?: boolean;
}

/** The outcome of all attempts. */
export type AttemptOutcome =
  | { ok: true; value: unknown; attempts: number }
  | { ok: false; error: { code: ExecutionErrorCode; message: string }; attempts: number };

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`The tool did not finish within ${ms} ms.`);
    this.name = 'AttemptTimeout';
  }
}

class Stopped extends Error {
  constructor(readonly original: unknown) {
    super('stopped');
  }
}

function isNonRetryable(err: unknown): boolean {
  if (isOrchestrationError(err)) {
    if (err.code === 'REMOTE_ERROR' || err.code === 'STORE_ERROR') return err.details.retryable === false;
    return err.code !== 'TIMEOUT';
  }
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false;
}

function describeError(err: unknown): { code: ExecutionErrorCode; message: string } {
  if (err instanceof AttemptTimeout) return { code: 'TIMEOUT', message: err.message };
  if (isOrchestrationError(err)) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'HANDLER_ERROR', message: err.message || err.name };
  return { code: 'HANDLER_ERROR', message: typeof err === 'string' ? err : 'The tool threw a non-Error value.' };
}

/**
 * Runs `attempt` with a per-attempt timeout (its signal aborts) and exponential backoff retries
 * (p-retry). Never throws: a failure is in the outcome. A handler that ignores its signal keeps
 * running in the background after its timeout; its late result is ignored. When `signal` aborts,
 * the running attempt is abandoned and no further attempt starts.
 */
export async function runAttempts(
  attempt: (ctx: { signal: AbortSignal; attempt: number }) => Promise<unknown>,
  opts: AttemptOptions,
): Promise<AttemptOutcome> {
  // Attempts actually started: an abort before the first one leaves it at 0.
  let attempts = 0;
  // p-retry turns a success into a failure when its signal aborts right after; the tool did run.
  let succeeded: { value: unknown } | undefined;
  const one = async (n: number): Promise<unknown> => {
    if (opts.signal?.aborted) throw new Stopped(opts.signal.reason);
    attempts = n;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onOuterAbort: (() => void) | undefined;
    // Settles at the timeout or when the outer signal aborts, so that a handler ignoring its signal
    // holds up neither the retries nor a closing connector.
    const cutOff = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new AttemptTimeout(opts.timeoutMs);
        controller.abort(err);
        reject(err);
      }, opts.timeoutMs);
      onOuterAbort = () => {
        controller.abort(opts.signal?.reason);
        reject(new Stopped(opts.signal?.reason));
      };
      opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    });
    try {
      const value = await Promise.race([
        Promise.resolve().then(() => attempt({ signal: controller.signal, attempt: n })),
        cutOff,
      ]);
      succeeded = { value };
      return value;
    } catch (err) {
      if (err instanceof Stopped) throw err;
      if (opts.signal?.aborted) throw new Stopped(err);
      if (err instanceof AttemptTimeout && opts.retryTimeouts === false) throw new Stopped(err);
      if (isNonRetryable(err)) throw new Stopped(err);
      // p-retry does not retry TypeErrors; wrap non-Errors and TypeErrors so every plain failure retries.
      if (!(err instanceof Error) || err instanceof TypeError) throw new WrappedFailure(err);
      throw err;
    } finally {
      clearTimeout(timer);
      if (onOuterAbort) opts.signal?.removeEventListener('abort', onOuterAbort);
    }
  };
  const retryOptions = {
    retries: opts.retries,
    factor: 2,
    minTimeout: opts.minBackoffMs ?? 50,
    maxTimeout: opts.maxBackoffMs ?? 2000,
    randomize: true,
    shouldRetry: ({ error }: { error: unknown }) => !(error instanceof Stopped),
    // The backoff wait ends when the outer signal aborts (p-retry then rejects with its reason).
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  };
  try {
    let value: unknown;
    if (plainRetryOptions(retryOptions)) {
      // Most calls succeed at once, and setting p-retry up costs more than a quick tool: the first
      // attempt runs on its own, and only a failure hands over to p-retry, which is given that
      // failure as its own first attempt, so retries, backoff and abort handling stay p-retry's.
      let failure: { error: unknown } | undefined;
      try {
        value = await one(1);
      } catch (error) {
        failure = { error };
      }
      if (failure !== undefined) {
        const first = failure.error;
        if (first instanceof Stopped) throw first; // p-retry would not retry it either
        value = await pRetry((n: number) => (n === 1 ? Promise.reject(first) : one(n)), retryOptions);
      }
    } else value = await pRetry(one, retryOptions);
    return { ok: true, value, attempts };
  } catch (err) {
    if (succeeded !== undefined) return { ok: true, value: succeeded.value, attempts };
    let cause: unknown = err;
    if (cause instanceof Stopped) cause = cause.original;
    if (cause instanceof WrappedFailure) cause = cause.original;
    return { ok: false, error: describeError(cause), attempts };
  }
}

/** Options p-retry accepts as they are (else it rejects them before any attempt, which it must then do). */
function plainRetryOptions(o: { retries: number; minTimeout: number; maxTimeout: number }): boolean {
  const ok = (n: number) => typeof n === 'number' && n >= 0 && !Number.isNaN(n);
  return ok(o.retries) && ok(o.minTimeout) && Number.isFinite(o.minTimeout) && ok(o.maxTimeout);
}

class WrappedFailure extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}
