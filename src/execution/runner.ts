import pRetry from 'p-retry';
import { type ExecutionErrorCode, isOrchestrationError } from '../errors.js';
import type { StopListener, StopSource } from '../kernel.js';
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
  const listeners = new Map<StopListener, () => void>();
  return {
    signal,
    add(listener) {
      const onAbort = () => listener.stopped(signal.reason);
      listeners.set(listener, onAbort);
      signal.addEventListener('abort', onAbort, { once: true });
    },
    remove(listener) {
      const onAbort = listeners.get(listener);
      if (onAbort === undefined) return;
      listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
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
  const run = new AttemptRun(
    attempt,
    opts,
    opts.stop ?? (opts.signal !== undefined ? stopOfSignal(opts.signal) : undefined),
  );
  try {
    let value: unknown;
    if (plainRetryOptions(opts)) {
      // Most calls succeed at once, and setting p-retry up costs more than a quick tool: the first
      // attempt runs on its own, and only a failure hands over to p-retry, which is given that
      // failure as its own first attempt, so retries, backoff and abort handling stay p-retry's.
      let failure: { error: unknown } | undefined;
      try {
        value = await run.one(1);
      } catch (error) {
        failure = { error };
      }
      if (failure !== undefined) {
        const first = failure.error;
        if (first instanceof Stopped) throw first; // p-retry would not retry it either
        value = await pRetry((n: number) => (n === 1 ? Promise.reject(first) : run.one(n)), run.retryOptions());
      }
    } else value = await pRetry((n: number) => run.one(n), run.retryOptions());
    return { ok: true, value, attempts: run.attempts };
  } catch (err) {
    if (run.succeeded !== undefined) return { ok: true, value: run.succeeded.value, attempts: run.attempts };
    let cause: unknown = err;
    if (cause instanceof Stopped) cause = cause.original;
    if (cause instanceof WrappedFailure) cause = cause.original;
    return { ok: false, error: describeError(cause), attempts: run.attempts };
  }
}

/**
 * The attempts of one {@link runAttempts} call. Its parts are methods, not closures made per call:
 * a quick tool's run costs little more than the handler.
 */
class AttemptRun {
  /** Attempts actually started: an abort before the first one leaves it at 0. */
  attempts = 0;
  /** p-retry turns a success into a failure when its signal aborts right after; the tool did run. */
  succeeded: { value: unknown } | undefined;
  readonly outer: AbortSignal | undefined;

  constructor(
    readonly attempt: (ctx: Attempt) => Promise<unknown>,
    readonly opts: AttemptOptions,
    readonly stop: StopSource | undefined,
  ) {
    this.outer = stop?.signal;
  }

  /**
   * One attempt: a promise that settles with the handler, at the timeout, or when the outer signal
   * aborts, whichever comes first (so that a handler ignoring its signal holds up neither the retries
   * nor a closing connector).
   */
  one(n: number): Promise<unknown> {
    const outer = this.outer;
    if (outer?.aborted) return Promise.reject(new Stopped(outer.reason));
    this.attempts = n;
    return new AttemptRace(this, n).start();
  }

  /** Why an attempt failed, as p-retry should see it: `Stopped` when no further attempt may start. */
  classify(err: unknown): unknown {
    if (err instanceof Stopped) return err;
    if (this.outer?.aborted) return new Stopped(err);
    if (err instanceof AttemptTimeout && this.opts.retryTimeouts === false) return new Stopped(err);
    if (isNonRetryable(err)) return new Stopped(err);
    // p-retry does not retry TypeErrors; wrap non-Errors and TypeErrors so every plain failure retries.
    if (!(err instanceof Error) || err instanceof TypeError) return new WrappedFailure(err);
    return err;
  }

  retryOptions() {
    const opts = this.opts;
    return {
      retries: opts.retries,
      factor: 2,
      minTimeout: opts.minBackoffMs ?? 50,
      maxTimeout: opts.maxBackoffMs ?? 2000,
      randomize: true,
      shouldRetry: ({ error }: { error: unknown }) => !(error instanceof Stopped),
      // The backoff wait ends when the outer signal aborts (p-retry then rejects with its reason).
      ...(this.outer !== undefined ? { signal: this.outer } : {}),
    };
  }
}

/** One attempt under way: the handler against the timeout and the outer stop. */
class AttemptRace implements StopListener {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private resolve: (value: unknown) => void = noop;
  private reject: (err: unknown) => void = noop;
  private readonly abort: AttemptAbort;

  constructor(
    private readonly run: AttemptRun,
    n: number,
  ) {
    this.abort = new AttemptAbort(n);
  }

  start(): Promise<unknown> {
    const settled = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(timeOut, this.run.opts.timeoutMs, this);
    this.run.stop?.add(this);
    let running: unknown;
    try {
      running = this.run.attempt(this.abort);
    } catch (err) {
      this.fail(err);
      return settled;
    }
    void this.follow(running);
    return settled;
  }

  /** Settles with the handler's outcome (never rejects). */
  private async follow(running: unknown): Promise<void> {
    let value: unknown;
    try {
      value = await running;
    } catch (err) {
      this.fail(err);
      return;
    }
    this.done(value);
  }

  /** The outer stop: aborts the attempt's signal and abandons it. */
  stopped(reason: unknown): void {
    this.abort.abort(reason);
    this.fail(new Stopped(reason));
  }

  timedOut(): void {
    const err = new AttemptTimeout(this.run.opts.timeoutMs);
    this.abort.abort(err);
    this.fail(err);
  }

  private end(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.run.stop?.remove(this);
    return true;
  }

  private done(value: unknown): void {
    if (!this.end()) return;
    this.run.succeeded = { value };
    this.resolve(value);
  }

  private fail(err: unknown): void {
    if (this.end()) this.reject(this.run.classify(err));
  }
}

function timeOut(race: AttemptRace): void {
  race.timedOut();
}

function noop(): void {}

function nonNegative(n: unknown): n is number {
  return typeof n === 'number' && n >= 0 && !Number.isNaN(n);
}

/** Options p-retry accepts as they are (else it rejects them before any attempt, which it must then do). */
function plainRetryOptions(o: AttemptOptions): boolean {
  const min = o.minBackoffMs ?? 50;
  return nonNegative(o.retries) && nonNegative(min) && Number.isFinite(min) && nonNegative(o.maxBackoffMs ?? 2000);
}

class WrappedFailure extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}
