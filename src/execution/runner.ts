import pRetry from 'p-retry';
import { type ExecutionErrorCode, isOrchestrationError } from '../errors.js';
import type { StopSource } from '../kernel.js';
import type { ExecutionContext } from './executor.js';

/** How one execution is attempted. */
export interface AttemptOptions {
  /** Retries after the first attempt. */
  retries: number;
  /** Limit of each attempt; its signal aborts then. */
  timeoutMs: number;
  /** Stops everything (no further attempts) when aborted. */
  signal?: AbortSignal;
  /** Like `signal`, with a cheaper subscription (the connector's lifetime); wins over `signal`. */
  stop?: StopSource;
  /** First backoff delay; doubles per retry. @default 50 */
  minBackoffMs?: number;
  /** @default 2000 */
  maxBackoffMs?: number;
  /** Whether a timed-out attempt may be retried (it may have had effects). @default true */
  retryTimeouts?: boolean;
}

/** What one attempt gets: its signal (made on first read) and its number. */
export interface Attempt {
  readonly signal: AbortSignal;
  readonly attempt: number;
}

/**
 * The abort of one attempt. Its AbortController is made only when the attempt reads its signal:
 * most handlers never do, and a controller with its signal costs more than the rest of a quick call.
 */
class AttemptAbort implements Attempt {
  private controller: AbortController | undefined;
  private reason: unknown;
  private aborted = false;

  constructor(readonly attempt: number) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * The context an executor gets for one attempt: a plain object whose `signal` is a getter on the
 * attempt's lazy abort (an own, enumerable member, so spreading the context keeps it).
 */
export function executionContext(
  a: Attempt,
  executionId: string,
  proposalId?: string,
  actorId?: string,
): ExecutionContext {
  return {
    get signal() {
      return a.signal;
    },
    attempt: a.attempt,
    executionId,
    ...(proposalId !== undefined ? { proposalId } : {}),
    ...(actorId !== undefined ? { actorId } : {}),
  };
}

/** A StopSource over a plain signal. */
function stopOfSignal(signal: AbortSignal): StopSource {
  return {
    signal,
    subscribe(cb) {
      const listener = () => cb(signal.reason);
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
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
  attempt: (ctx: Attempt) => Promise<unknown>,
  opts: AttemptOptions,
): Promise<AttemptOutcome> {
  const stop = opts.stop ?? (opts.signal !== undefined ? stopOfSignal(opts.signal) : undefined);
  const outer = stop?.signal;
  // Attempts actually started: an abort before the first one leaves it at 0.
  let attempts = 0;
  // p-retry turns a success into a failure when its signal aborts right after; the tool did run.
  let succeeded: { value: unknown } | undefined;
  /** Why attempt `err` failed, as p-retry should see it: `Stopped` when no further attempt may start. */
  const classify = (err: unknown): unknown => {
    if (err instanceof Stopped) return err;
    if (outer?.aborted) return new Stopped(err);
    if (err instanceof AttemptTimeout && opts.retryTimeouts === false) return new Stopped(err);
    if (isNonRetryable(err)) return new Stopped(err);
    // p-retry does not retry TypeErrors; wrap non-Errors and TypeErrors so every plain failure retries.
    if (!(err instanceof Error) || err instanceof TypeError) return new WrappedFailure(err);
    return err;
  };
  // One attempt: a promise that settles with the handler, at the timeout, or when the outer signal
  // aborts, whichever comes first (so that a handler ignoring its signal holds up neither the retries
  // nor a closing connector). It is the only promise an attempt adds to the handler's own.
  const one = (n: number): Promise<unknown> => {
    if (outer?.aborted) return Promise.reject(new Stopped(outer.reason));
    attempts = n;
    const abort = new AttemptAbort(n);
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let unsubscribe: (() => void) | undefined;
      const end = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        unsubscribe?.();
        return true;
      };
      const done = (value: unknown) => {
        if (!end()) return;
        succeeded = { value };
        resolve(value);
      };
      const fail = (err: unknown) => {
        if (end()) reject(classify(err));
      };
      const timer = setTimeout(() => {
        const err = new AttemptTimeout(opts.timeoutMs);
        abort.abort(err);
        fail(err);
      }, opts.timeoutMs);
      if (stop !== undefined) {
        unsubscribe = stop.subscribe((reason) => {
          abort.abort(reason);
          fail(new Stopped(reason));
        });
      }
      let running: unknown;
      try {
        running = attempt(abort);
      } catch (err) {
        fail(err);
        return;
      }
      Promise.resolve(running).then(done, fail);
    });
  };
  const retryOptions = {
    retries: opts.retries,
    factor: 2,
    minTimeout: opts.minBackoffMs ?? 50,
    maxTimeout: opts.maxBackoffMs ?? 2000,
    randomize: true,
    shouldRetry: ({ error }: { error: unknown }) => !(error instanceof Stopped),
    // The backoff wait ends when the outer signal aborts (p-retry then rejects with its reason).
    ...(outer !== undefined ? { signal: outer } : {}),
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
