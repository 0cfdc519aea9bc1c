import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { findChainBreak } from '../../src/audit/chain.js';
import { OrchestrationError } from '../../src/errors.js';
import { SqliteStore } from '../../src/sqlite.js';
import { indexEntries, statusOf, uniqueKeys } from '../../src/stores/indexing.js';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite-schema.js';
import { type AnyEntity, createdAtOf, type EntityKind } from '../../src/stores/store.js';
import { storeConformanceCases } from '../../src/testing/conformance.js';
import {
  actionEntity,
  actorEntity,
  changeOf,
  draftOf,
  expectOk,
  insertOf,
  policyEntity,
  updateOf,
} from '../../src/testing/fixtures.js';
import type { Actor, AuditEvent } from '../../src/types.js';
import { sqliteTestFiles } from '../helpers/sqlite-files.js';
import { legacyAuditWriter, sqliteAtVersion } from '../helpers/sqlite-legacy.js';
import { sealedChain } from '../helpers/stores.js';

const { open, dir, freshFile, openStore } = sqliteTestFiles('oc-sqlite-');

describe('SqliteStore conformance (file)', () => {
  for (const c of storeConformanceCases()) it(c.name, async () => c.run(await openStore(freshFile())));
});

describe('SqliteStore conformance (:memory:)', () => {
  for (const c of storeConformanceCases()) it(c.name, async () => c.run(await openStore(':memory:')));
});

// The conformance cases hold fewer audit records and entities than a batch: with small batches their
// queries also go through the audit key rows and the index rows, and through both those and the records
// and entities that wait at once (new ones, and changed ones marked in oc_dirty).
for (const batch of [1, 3]) {
  describe(`SqliteStore conformance (audit keys and index rows written every ${batch})`, () => {
    for (const c of storeConformanceCases())
      it(c.name, async () => c.run(await openStore(freshFile(), { auditIndexBatch: batch, entityIndexBatch: batch })));
  });
}

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
    expect(() => new SqliteStore({ filename: join(dir(), 'missing', 'x.db') })).toThrow(
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
    expect(() => new SqliteStore({ filename: ':memory:', checkpoint: 'never' as unknown as 'inline' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    expect(() => new SqliteStore({ filename: ':memory:', entityIndexBatch: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  describe('migration from v2', () => {
    /** A database at schema v2 holding what the v2 store wrote: entity rows, index rows, unique keys, records. */
    function v2Database(file: string, entities: Array<[EntityKind, AnyEntity]>, events: AuditEvent[]): void {
      const db = sqliteAtVersion(file, 2);
      const entity = db.prepare(
        'INSERT INTO oc_entities (kind, id, version, status, created_at, data) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const index = db.prepare('INSERT INTO oc_index (kind, field, value, id, created_at) VALUES (?, ?, ?, ?, ?)');
      const unique = db.prepare('INSERT INTO oc_unique (kind, key, value, id) VALUES (?, ?, ?, ?)');
      const audit = legacyAuditWriter(db);
      db.transaction(() => {
        for (const [kind, e] of entities) {
          const at = createdAtOf(e);
          entity.run(kind, e.id, e.version, statusOf(e) ?? null, at, JSON.stringify(e));
          for (const [field, value] of indexEntries(kind, e)) index.run(kind, field, value, e.id, at);
          for (const [key, value] of uniqueKeys(kind, e)) unique.run(kind, key, value, e.id);
        }
        for (const ev of events) audit(ev);
      })();
      db.close();
    }

    it('upgrades a v2 database on first open: entities, index rows, unique keys and the audit chain carry over', async () => {
      const file = freshFile();
      const actors = Array.from({ length: 30 }, (_, i) =>
        actorEntity({
          status: i % 3 === 0 ? 'busy' : 'active',
          capabilities: i % 2 === 0 ? ['deploy', 'read'] : ['read'],
          createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 30 - i)).toISOString(),
        }),
      );
      const action = actionEntity({ idempotencyKey: 'from-v2', actorId: actors[0]?.id as string });
      const policy = policyEntity();
      const events = sealedChain(300);
      v2Database(
        file,
        [...actors.map((a) => ['actor', a] as [EntityKind, AnyEntity]), ['action', action], ['policy', policy]],
        events,
      );

      const store = await openStore(file, { auditIndexBatch: 7 });
      const raw = new Database(file, { readonly: true });
      open.push(raw);
      expect(raw.prepare('SELECT max(version) AS v FROM oc_migrations').get()).toEqual({
        v: SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version,
      });

      // Entities, unique keys, counts and indexed, keyset-paged queries.
      expect(await store.get('actor', actors[5]?.id as string)).toEqual(actors[5]);
      expect(await store.get('policy', policy.id)).toEqual(policy);
      expect(await store.getByUnique('action', 'idempotencyKey', 'from-v2')).toEqual(action);
      expect(await store.count('actor')).toEqual({ total: 30, byStatus: { active: 20, busy: 10 } });
      expect(await store.count('policy')).toEqual({ total: 1, byStatus: {} });
      const byTime = [...actors].sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
      const busyDeploy = byTime.filter((a) => a.status === 'busy' && a.capabilities.includes('deploy'));
      const filters: Array<[string, string]> = [
        ['status', 'busy'],
        ['capability', 'deploy'],
      ];
      const page1 = await store.query('actor', { filters, limit: 2 });
      const page2 = await store.query('actor', { filters, limit: 10, after: page1[1]?.id as string });
      expect([...page1, ...page2].map((a) => a.id)).toEqual(busyDeploy.map((a) => a.id));
      const all = await store.query('actor', { filters: [], limit: 100 });
      expect(all.map((a) => a.id)).toEqual(byTime.map((a) => a.id));

      // The audit chain and its filters, before and after the records indexed by the migration.
      expect(await store.auditHead()).toEqual({ seq: 300, hash: events[299]?.hash });
      expect(await store.readAudit(1, 1000)).toEqual(events);
      expect(await store.countAudit('actor_created')).toBe(100);
      expect(await store.queryAudit({ entityId: 'e1', actorId: 'actor_0', limit: 1000 })).toEqual(
        events.filter((e) => e.entityId === 'e1' && e.actorId === 'actor_0'),
      );
      const from = new Date(Date.UTC(2025, 0, 1, 0, 1, 0)).toISOString();
      const to = new Date(Date.UTC(2025, 0, 1, 0, 2, 0)).toISOString();
      expect(await store.queryAudit({ from, to, eventType: 'actor_created', after: events[70]?.id, limit: 5 })).toEqual(
        events
          .filter((e) => e.timestamp >= from && e.timestamp <= to && e.eventType === 'actor_created' && e.seq > 71)
          .slice(0, 5),
      );

      // New writes keep the migrated index rows and unique keys right.
      const moved = actors[2] as Actor;
      expectOk(
        await store.commit(
          changeOf([updateOf('actor', moved, { status: 'busy', capabilities: ['ops'] })], [draftOf()]),
        ),
      );
      expect(
        (await store.query('actor', { filters: [['capability', 'deploy']], limit: 100 })).map((a) => a.id),
      ).not.toContain(moved.id);
      expect((await store.query('actor', { filters: [['capability', 'ops']], limit: 100 })).map((a) => a.id)).toEqual([
        moved.id,
      ]);
      expect(await store.count('actor')).toEqual({ total: 30, byStatus: { active: 19, busy: 11 } });
      const taken = await store.commit(changeOf([insertOf('action', actionEntity({ idempotencyKey: 'from-v2' }))]));
      expect(taken).toMatchObject({ ok: false, conflict: { reason: 'unique', key: 'idempotencyKey' } });
      for (let i = 0; i < 20; i++) expectOk(await store.commit(changeOf([], [draftOf({ entityId: 'e1' })])));
      const trail = await store.readAudit(1, 1000);
      expect(trail).toHaveLength(321);
      expect(findChainBreak(trail, null)).toBeUndefined();
      expect(await store.queryAudit({ entityId: 'e1', limit: 1000 })).toEqual(trail.filter((e) => e.entityId === 'e1'));
    });

    it('upgrades once when several stores open the same v2 database at once', async () => {
      const file = freshFile();
      const actor = actorEntity();
      v2Database(file, [['actor', actor]], sealedChain(5));
      const stores = [new SqliteStore({ filename: file }), new SqliteStore({ filename: file })];
      open.push(...stores);
      await Promise.all(stores.map((s) => s.init()));
      const raw = new Database(file, { readonly: true });
      open.push(raw);
      expect(raw.prepare('SELECT version FROM oc_migrations ORDER BY version').all()).toEqual(
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
      );
      for (const s of stores) {
        expect(await s.get('actor', actor.id)).toEqual(actor);
        expect(await s.countAudit()).toBe(5);
      }
    });
  });
});
