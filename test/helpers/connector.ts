import { afterAll, afterEach, expect } from 'vitest';
import type { ConnectorConfig } from '../../src/config.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { type ErrorCode, OrchestrationError } from '../../src/errors.js';
import type { Store } from '../../src/stores/store.js';
import type { AuditEvent, AuditHead, Stats } from '../../src/types.js';
import type { StoreUnderTest } from './stores.js';

/**
 * Opens connectors on fresh stores of one kind and closes them after each test.
 * Call it inside the store's `describe`.
 */
export function connectorsOn(s: StoreUnderTest) {
  const open: OrchestrationConnector[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });
  afterAll(() => s.cleanup());
  /** A connector and the fresh store under it. */
  async function makeWithStore(
    config: Omit<ConnectorConfig, 'store'> = {},
  ): Promise<{ connector: OrchestrationConnector; store: Store }> {
    const store = await s.make();
    const connector = new OrchestrationConnector({ ...config, store });
    open.push(connector);
    return { connector, store };
  }
  return {
    makeWithStore,
    /** A connector on a fresh store. */
    make: async (config: Omit<ConnectorConfig, 'store'> = {}) => (await makeWithStore(config)).connector,
    /** A second connector on a store another connector already uses (closed after the test too). */
    on(store: Store, config: Omit<ConnectorConfig, 'store'> = {}): OrchestrationConnector {
      const connector = new OrchestrationConnector({ ...config, store });
      open.push(connector);
      return connector;
    },
  };
}

/** Awaits a call that must fail with an `OrchestrationError` of `code`; returns the error. */
export async function expectError(
  call: Promise<unknown> | (() => unknown),
  code: ErrorCode,
  details?: Record<string, unknown>,
): Promise<OrchestrationError> {
  let error: unknown;
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    error = err;
  }
  expect(error, `expected an OrchestrationError with code ${code}`).toBeInstanceOf(OrchestrationError);
  const e = error as OrchestrationError;
  expect(e).toBeInstanceOf(Error);
  expect({ code: e.code, message: e.message }).toEqual({ code, message: expect.any(String) });
  expect(e.message.length).toBeGreaterThan(0);
  if (details !== undefined) expect(e.details).toMatchObject(details);
  return e;
}

/** What a rejected call must leave untouched: counts, the whole audit trail and its head. */
export interface Snapshot {
  stats: Stats;
  audit: AuditEvent[];
  head: AuditHead;
}

export async function snapshot(c: OrchestrationConnector): Promise<Snapshot> {
  return { stats: await c.getStats(), audit: await c.queryAuditEvents({ limit: 1000 }), head: await c.getAuditHead() };
}

/** Asserts that nothing changed since `before`. */
export async function expectUnchanged(c: OrchestrationConnector, before: Snapshot): Promise<void> {
  expect(await snapshot(c)).toEqual(before);
}

/** A clock the test moves by hand. */
export function manualClock(start = '2026-01-15T10:00:00.000Z') {
  let now = new Date(start).getTime();
  return {
    now: () => new Date(now),
    set(iso: string) {
      now = new Date(iso).getTime();
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Collects every event of `type` the connector emits. */
export function collect<T extends 'audit' | AuditEvent['eventType']>(c: OrchestrationConnector, type: T): AuditEvent[] {
  const seen: AuditEvent[] = [];
  c.on(type, ((e: AuditEvent) => {
    seen.push(e);
  }) as never);
  return seen;
}

/** Collects the connector's `'error'` events. */
export function collectErrors(c: OrchestrationConnector): Array<{ error: unknown; context: unknown }> {
  const seen: Array<{ error: unknown; context: unknown }> = [];
  c.on('error', (error, context) => {
    seen.push({ error, context });
  });
  return seen;
}
