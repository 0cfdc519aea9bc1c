import { describe, expect, it } from 'vitest';
import { OrchestrationError } from '../../src/errors.js';
import type { ExecutionContext } from '../../src/execution/executor.js';
import { NonRetryableError } from '../../src/execution/executor.js';
import { executionContext, runAttempts } from '../../src/execution/runner.js';
import type { StopListener, StopSource } from '../../src/kernel.js';

/** Fast backoff: these tests are about which attempts happen, not how long they wait. */
const fast = { minBackoffMs: 1, maxBackoffMs: 2 };

/** An attempt function that fails `failures` times (with `error()`), then returns `value`. */
function flaky(failures: number, error: () => unknown, value: unknown = 'done') {
  const seen: number[] = [];
  const fn = async ({ attempt }: { signal: AbortSignal; attempt: number }) => {
    seen.push(attempt);
    if (seen.length <= failures) throw error();
    return value;
  };
  return { fn, seen };
}

describe('runAttempts', () => {
  it('returns the value of a first successful attempt', async () => {
    const { fn, seen } = flaky(0, () => new Error('never'));
    expect(await runAttempts(fn, { retries: 3, timeoutMs: 1000, ...fast })).toEqual({
      ok: true,
      value: 'done',
      attempts: 1,
    });
    expect(seen).toEqual([1]);
  });

  it('retries a failing attempt and succeeds on attempt 3, numbering attempts 1, 2, 3', async () => {
    const { fn, seen } = flaky(2, () => new Error('flaky'));
    expect(await runAttempts(fn, { retries: 3, timeoutMs: 1000, ...fast })).toEqual({
      ok: true,
      value: 'done',
      attempts: 3,
    });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('gives up after `retries` retries with HANDLER_ERROR and the last message', async () => {
    let n = 0;
    const r = await runAttempts(
      async () => {
        n++;
        throw new Error(`boom ${n}`);
      },
      { retries: 2, timeoutMs: 1000, ...fast },
    );
    expect(r).toEqual({ ok: false, error: { code: 'HANDLER_ERROR', message: 'boom 3' }, attempts: 3 });
    expect(n).toBe(3);
  });

  it('makes exactly one attempt with retries: 0', async () => {
    const { fn, seen } = flaky(5, () => new Error('down'));
    const r = await runAttempts(fn, { retries: 0, timeoutMs: 1000, ...fast });
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { code: 'HANDLER_ERROR' } });
    expect(seen).toEqual([1]);
  });

  it('does not retry a NonRetryableError', async () => {
    const { fn, seen } = flaky(5, () => new NonRetryableError('card declined'));
    const r = await runAttempts(fn, { retries: 5, timeoutMs: 1000, ...fast });
    expect(r).toEqual({ ok: false, error: { code: 'HANDLER_ERROR', message: 'card declined' }, attempts: 1 });
    expect(seen).toEqual([1]);
  });

  it('does not retry an error marked `retryable: false`', async () => {
    const { fn, seen } = flaky(5, () => Object.assign(new Error('quota'), { retryable: false }));
    const r = await runAttempts(fn, { retries: 5, timeoutMs: 1000, ...fast });
    expect(r).toMatchObject({ ok: false, attempts: 1 });
    expect(seen).toEqual([1]);
  });

  it('does not retry an INVALID_PARAMS OrchestrationError and keeps its code', async () => {
    const { fn, seen } = flaky(5, () => new OrchestrationError('INVALID_PARAMS', 'amount must be positive'));
    const r = await runAttempts(fn, { retries: 5, timeoutMs: 1000, ...fast });
    expect(r).toEqual({
      ok: false,
      error: { code: 'INVALID_PARAMS', message: 'amount must be positive' },
      attempts: 1,
    });
    expect(seen).toEqual([1]);
  });

  it('retries a REMOTE_ERROR unless its details say retryable: false', async () => {
    const retried = flaky(1, () => new OrchestrationError('REMOTE_ERROR', 'connection reset'));
    expect(await runAttempts(retried.fn, { retries: 3, timeoutMs: 1000, ...fast })).toMatchObject({
      ok: true,
      attempts: 2,
    });
    const final = flaky(5, () => new OrchestrationError('REMOTE_ERROR', 'tool said no', { retryable: false }));
    expect(await runAttempts(final.fn, { retries: 3, timeoutMs: 1000, ...fast })).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: 'REMOTE_ERROR' },
    });
  });

  it('retries TypeErrors and thrown non-Errors like any other failure', async () => {
    const typeErr = flaky(2, () => new TypeError('x is undefined'));
    expect(await runAttempts(typeErr.fn, { retries: 3, timeoutMs: 1000, ...fast })).toMatchObject({
      ok: true,
      attempts: 3,
    });
    const str = flaky(9, () => 'plain string');
    expect(await runAttempts(str.fn, { retries: 1, timeoutMs: 1000, ...fast })).toEqual({
      ok: false,
      error: { code: 'HANDLER_ERROR', message: 'plain string' },
      attempts: 2,
    });
  });

  it('catches a synchronous throw of the attempt function', async () => {
    const r = await runAttempts(
      () => {
        throw new NonRetryableError('sync');
      },
      { retries: 2, timeoutMs: 1000, ...fast },
    );
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { message: 'sync' } });
  });

  it('aborts the signal of an attempt at its timeout and reports TIMEOUT', async () => {
    const signals: AbortSignal[] = [];
    const r = await runAttempts(
      ({ signal }) => {
        signals.push(signal);
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      { retries: 0, timeoutMs: 30, ...fast },
    );
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { code: 'TIMEOUT' } });
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('gives each attempt a fresh signal and retries timeouts by default', async () => {
    const signals: AbortSignal[] = [];
    const r = await runAttempts(
      ({ signal, attempt }) => {
        signals.push(signal);
        expect(signal.aborted).toBe(false);
        if (attempt === 2) return Promise.resolve('second time lucky');
        return new Promise(() => {}); // ignores its signal: the runner moves on anyway
      },
      { retries: 2, timeoutMs: 30, ...fast },
    );
    expect(r).toEqual({ ok: true, value: 'second time lucky', attempts: 2 });
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
  });

  it('does not retry a timeout when retryTimeouts is false', async () => {
    let n = 0;
    const r = await runAttempts(
      () => {
        n++;
        return new Promise(() => {});
      },
      { retries: 3, timeoutMs: 20, retryTimeouts: false, ...fast },
    );
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { code: 'TIMEOUT' } });
    expect(n).toBe(1);
  });

  it('stops at once when the outer signal aborts, aborting the running attempt even if it ignores its signal', async () => {
    const outer = new AbortController();
    const inner: AbortSignal[] = [];
    const r = await runAttempts(
      ({ signal }) => {
        inner.push(signal);
        setTimeout(() => outer.abort(new OrchestrationError('INVALID_STATE', 'closed')), 0);
        return new Promise(() => {}); // never settles, ignores its signal
      },
      // A timeout far beyond the test timeout: only the outer abort can end this attempt.
      { retries: 5, timeoutMs: 600_000, signal: outer.signal, ...fast },
    );
    expect(r).toEqual({ ok: false, error: { code: 'INVALID_STATE', message: 'closed' }, attempts: 1 });
    expect(inner).toHaveLength(1);
    expect(inner[0]?.aborted).toBe(true);
  });

  it('never calls the attempt when the outer signal is already aborted, and counts no attempt', async () => {
    const outer = new AbortController();
    outer.abort(new OrchestrationError('INVALID_STATE', 'The connector was closed.'));
    let n = 0;
    const r = await runAttempts(
      async () => {
        n++;
        return 'ran';
      },
      { retries: 3, timeoutMs: 1000, signal: outer.signal, ...fast },
    );
    expect(n).toBe(0);
    expect(r).toEqual({
      ok: false,
      error: { code: 'INVALID_STATE', message: 'The connector was closed.' },
      attempts: 0,
    });
  });

  it('does not wait out a backoff after the outer signal aborts', async () => {
    const outer = new AbortController();
    let n = 0;
    const pending = runAttempts(
      async () => {
        n++;
        setTimeout(() => outer.abort(new Error('shutdown')), 0);
        throw new Error('transient');
      },
      // A backoff far longer than the test timeout: only an abort-aware wait lets this finish.
      { retries: 3, timeoutMs: 1000, signal: outer.signal, minBackoffMs: 600_000, maxBackoffMs: 600_000 },
    );
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(n).toBe(1);
  });

  it('makes the signal on first read: read after the timeout, it is already aborted', async () => {
    let read: (() => AbortSignal) | undefined;
    const r = await runAttempts(
      (ctx) => {
        read = () => ctx.signal;
        return new Promise(() => {}); // never settles; the timeout ends it
      },
      { retries: 0, timeoutMs: 20, ...fast },
    );
    const late = read?.();
    expect(r).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    expect(late?.aborted).toBe(true);
    expect(late?.reason).toBeInstanceOf(Error);
  });

  it('aborts a signal read before the timeout when the timeout comes', async () => {
    const seen: AbortSignal[] = [];
    await runAttempts(
      ({ signal }) => {
        seen.push(signal);
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      { retries: 0, timeoutMs: 20, ...fast },
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.aborted).toBe(true);
  });

  it('gives executors a context whose signal survives spreading', async () => {
    const outer = new AbortController();
    let spread: ExecutionContext | undefined;
    const pending = runAttempts(
      (attempt) => {
        spread = { ...executionContext(attempt, 'exec_1', 'action_1', 'agent') };
        return new Promise(() => {});
      },
      { retries: 0, timeoutMs: 10_000, stop: stopOf(outer.signal), ...fast },
    );
    await new Promise((r) => setTimeout(r, 5));
    outer.abort(new Error('closing'));
    expect(await pending).toMatchObject({ ok: false, error: { message: 'closing' } });
    expect(spread).toMatchObject({ attempt: 1, executionId: 'exec_1', proposalId: 'action_1', actorId: 'agent' });
    expect(spread?.signal.aborted).toBe(true);
  });
});

/** A StopSource over a signal, as the kernel offers its lifetime. */
function stopOf(signal: AbortSignal): StopSource {
  const listeners = new Set<StopListener>();
  signal.addEventListener('abort', () => {
    for (const l of listeners) l.stopped(signal.reason);
  });
  return {
    signal,
    add(listener) {
      listeners.add(listener);
    },
    remove(listener) {
      listeners.delete(listener);
    },
  };
}
