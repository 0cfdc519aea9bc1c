import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findChainBreak } from '../../src/audit/chain.js';
import { OrchestrationError } from '../../src/errors.js';
import { SqliteStore } from '../../src/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite-schema.js';
import { storeConformanceCases } from '../../src/testing/conformance.js';
import {
  actionEntity,
  actorEntity,
  changeOf,
  draftOf,
  expectOk,
  insertOf,
  updateOf,
} from '../../src/testing/fixtures.js';
import type { Actor } from '../../src/types.js';

let dir: string;
let n = 0;
const open: Array<{ close(): unknown }> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oc-sqlite-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freshFile = () => join(dir, `store-${++n}.db`);

async function openStore(filename: string, options: { busyTimeoutMs?: number } = {}): Promise<SqliteStore> {
  const store = new SqliteStore({ filename, ...options });
  open.push(store);
  await store.init();
  return store;
}

describe('SqliteStore conformance (file)', () => {
  for (const c of storeConformanceCases()) it(c.name, async () => c.run(await openStore(freshFile())));
});

describe('SqliteStore conformance (:memory:)', () => {
  for (const c of storeConformanceCases()) it(c.name, async () => c.run(await openStore(':memory:')));
});

describe('SqliteStore', () => {
  it('declares durable only for a file, and shared', async () => {
    expect((await openStore(freshFile())).capabilities).toEqual({ durable: true, shared: true, notifications: false });
    expect((await openStore(':memory:')).capabilities).toEqual({ durable: false, shared: true, notifications: false });
  });

  it('keeps entities, unique keys and the audit chain across close and reopen', async () => {
    const file = freshFile();
    const first = new SqliteStore({ filename: file });
    await first.init();
    const actor = actorEntity({ capabilities: ['deploy'] });
    const action = actionEntity({ idempotencyKey: 'persist', actorId: actor.id });
    expectOk(await first.commit(changeOf([insertOf('actor', actor), insertOf('action', action)])));
    expectOk(await first.commit(changeOf([updateOf('actor', actor, { status: 'busy' })])));
    const head = await first.auditHead();
    await first.close();

    const second = await openStore(file);
    expect(await second.get('actor', actor.id)).toEqual({
      ...actor,
      status: 'busy',
      version: 2,
      updatedAt: expect.any(String),
    });
    expect(await second.getByUnique('action', 'idempotencyKey', 'persist')).toEqual(action);
    expect((await second.query('actor', { filters: [['status', 'busy']], limit: 10 })).map((a) => a.id)).toEqual([
      actor.id,
    ]);
    expect(await second.auditHead()).toEqual(head);
    const events = await second.readAudit(1, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(findChainBreak(events, null)).toBeUndefined();
    expectOk(await second.commit(changeOf([], [draftOf()])));
    expect((await second.auditHead())?.seq).toBe(4);
  });

  it('two stores on one file see each other and only one of two racing conditional updates applies', async () => {
    const file = freshFile();
    const [a, b] = [await openStore(file), await openStore(file)];
    const actor = actorEntity();
    expectOk(await a.commit(changeOf([insertOf('actor', actor)])));
    expect(await b.get('actor', actor.id)).toEqual(actor);
    const results = await Promise.all([
      a.commit(changeOf([updateOf('actor', actor, { name: 'from a' })])),
      b.commit(changeOf([updateOf('actor', actor, { name: 'from b' })])),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toEqual({
      ok: false,
      conflict: { kind: 'actor', id: actor.id, reason: 'version' },
    });
    expect((await a.get('actor', actor.id))?.name).toBe((await b.get('actor', actor.id))?.name);

    // Interleaved commits through both connections keep one gapless chain.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).commit(changeOf([], [draftOf(), draftOf()]))),
    );
    const events = await b.readAudit(1, 1000);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    expect(findChainBreak(events, null)).toBeUndefined();
    expect(await a.auditHead()).toEqual(await b.auditHead());
  });

  it('runs migrations once, however often init is called', async () => {
    const file = freshFile();
    const a = await openStore(file);
    await a.init();
    const actor = actorEntity();
    expectOk(await a.commit(changeOf([insertOf('actor', actor)])));
    const b = await openStore(file);
    await Promise.all([a.init(), b.init()]);
    const raw = new Database(file);
    open.push(raw);
    const rows = raw.prepare('SELECT version FROM oc_migrations ORDER BY version').all();
    expect(rows).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    expect(await b.get('actor', actor.id)).toEqual(actor);
  });

  it('turns a write lock held past busyTimeoutMs into a retryable STORE_ERROR and writes nothing', async () => {
    const file = freshFile();
    const store = await openStore(file, { busyTimeoutMs: 100 });
    const actor = actorEntity();
    expectOk(await store.commit(changeOf([insertOf('actor', actor)])));
    const other = new Database(file);
    open.push(other);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const err = await store.commit(changeOf([updateOf('actor', actor, { status: 'busy' })])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OrchestrationError);
      expect((err as OrchestrationError).code).toBe('STORE_ERROR');
      expect((err as OrchestrationError).details.retryable).toBe(true);
      expect((err as OrchestrationError).message).toMatch(/retry/);
      // Readers are not blocked by the writer.
      expect(await store.get('actor', actor.id)).toEqual(actor);
    } finally {
      other.prepare('ROLLBACK').run();
    }
    expect(await store.get('actor', actor.id)).toEqual(actor);
    expect(await store.countAudit()).toBe(1);
    expectOk(await store.commit(changeOf([updateOf('actor', actor, { status: 'busy' })])));
    expect((await store.get('actor', actor.id))?.status).toBe('busy');
  });

  it('leaves a caller-owned database open on close', async () => {
    const db = new Database(freshFile());
    open.push(db);
    const store = new SqliteStore({ database: db });
    await store.init();
    expectOk(await store.commit(changeOf([insertOf('actor', actorEntity())])));
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM oc_entities').get()).toEqual({ n: 1 });
    await expect(store.count('actor')).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });

  it('reports driver failures as STORE_ERROR, never as raw driver errors', async () => {
    expect(() => new SqliteStore({ filename: join(dir, 'missing', 'x.db') })).toThrow(
      expect.objectContaining({ code: 'STORE_ERROR' }),
    );
    const store = await openStore(freshFile());
    const bad = changeOf([insertOf('actor', { ...actorEntity(), name: 1n } as unknown as Actor)]);
    await expect(store.commit(bad)).rejects.toMatchObject({ code: 'STORE_ERROR', details: { retryable: false } });
    expect(await store.count('actor')).toEqual({ total: 0, byStatus: {} });
  });

  it('rejects invalid options with INVALID_INPUT', () => {
    expect(() => new SqliteStore({})).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => new SqliteStore({ filename: ':memory:', busyTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => new SqliteStore({ filename: ':memory:', synchronous: 'OFF' as unknown as 'FULL' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});
