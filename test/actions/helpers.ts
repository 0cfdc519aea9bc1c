import { expect } from 'vitest';
import type { ConnectorConfig } from '../../src/config.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { isOrchestrationError } from '../../src/errors.js';
import type { ToolDefinition } from '../../src/execution/executor.js';

/** A clock the test moves by hand. Starts at 2030-01-01T00:00:00Z. */
export interface ManualClock {
  clock: () => Date;
  advance(ms: number): void;
  nowMs(): number;
}

export function manualClock(start = Date.parse('2030-01-01T00:00:00.000Z')): ManualClock {
  let t = start;
  return {
    clock: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
    nowMs: () => t,
  };
}

/** The error code a call fails with, or 'ok' when it succeeds. Non-library errors fail the test. */
export async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isOrchestrationError(err)) return err.code;
    throw err;
  }
}

/** Asserts that `p` rejects with an OrchestrationError of `code`. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'OrchestrationError', code });
}

/** A connector over `store` with a standard cast of actors: an agent proposer and three reviewers. */
export async function connectorWithActors(
  config: ConnectorConfig & { tools?: Record<string, ToolDefinition> },
  extraActors: Array<{ id: string; role: string; status?: 'active' | 'inactive' | 'busy' }> = [],
): Promise<OrchestrationConnector> {
  const c = new OrchestrationConnector(config);
  for (const a of [
    { id: 'agent', role: 'agent' },
    { id: 'alice', role: 'reviewer' },
    { id: 'bob', role: 'reviewer' },
    { id: 'carol', role: 'reviewer' },
    ...extraActors,
  ]) {
    await c.createActor({ id: a.id, name: a.id, role: a.role, ...(a.status ? { status: a.status } : {}) });
  }
  return c;
}

/** A promise with its resolve function outside, to hold a handler until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Waits until `cond()` holds, polling on the event loop (no timing assertions: a bound only against hangs). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
