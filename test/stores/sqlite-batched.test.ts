/**
 * Schema v4 of SqliteStore: index rows written in batches (new entities by row id, changed ones marked
 * in oc_dirty), checked against MemoryStore on random histories; the upgrade of a populated v3
 * database, also by several processes at once; background checkpoints.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { findChainBreak } from '../../src/audit/chain.js';
import { SqliteStore } from '../../src/sqlite.js';
import { indexEntries, uniqueKeys } from '../../src/stores/indexing.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite-schema.js';
import { type AnyEntity, createdAtOf, type EntityKind, type Store, type Write } from '../../src/stores/store.js';
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
import type { ActionProposal, Actor, AuditEvent } from '../../src/types.js';
import { sqliteTestFiles } from '../helpers/sqlite-files.js';
import { legacyAuditWriter, sqliteAtVersion } from '../helpers/sqlite-legacy.js';
import { sealedChain } from '../helpers/stores.js';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../..');

const { open, freshFile, openStore } = sqliteTestFiles('oc-sqlite-v4-');

/** A small seeded PRNG (mulberry32), so that a failing history can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['active', 'busy', 'inactive'] as const;
const ROLES = ['r1', 'r2'];
const CAPS = ['c1', 'c2', 'c3'];
const ACTION_STATUSES = ['pending', 'approved', 'executed'] as const;
const TOOLS = ['t1', 't2'];
// Few creation times, so that many entities tie and order by id; ids are explicit and unordered.
const TIMES = Array.from({ length: 4 }, (_, i) => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString());

/** Every query the comparison runs on a kind: no filter, each indexed value, and some pairs. */
function filtersOf(kind: 'actor' | 'action'): Array<Array<[string, string]>> {
  const single: Array<[string, string]> =
    kind === 'actor'
      ? [
          ...STATUSES.map((v): [string, string] => ['status', v]),
          ...ROLES.map((v): [string, string] => ['role', v]),
          ...CAPS.map((v): [string, string] => ['capability', v]),
        ]
      : [
          ...ACTION_STATUSES.map((v): [string, string] => ['status', v]),
          ...TOOLS.map((v): [string, string] => ['tool', v]),
          ['actorId', 'x1'],
          ['workflowId', 'w1'],
        ];
  const pairs: Array<Array<[string, string]>> =
    kind === 'actor'
      ? [
          [
            ['status', 'busy'],
            ['capability', 'c2'],
          ],
          [
            ['capability', 'c1'],
            ['role', 'r2'],
            ['status', 'active'],
          ],
        ]
      : [
          [
            ['status', 'pending'],
            ['tool', 't1'],
          ],
        ];
  return [[], ...single.map((f) => [f]), ...pairs];
}

/** Every page of a query, walked with `limit` and `after`. */
async function walk(store: Store, kind: EntityKind, filters: Array<[string, string]>, limit: number) {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.query(kind, { filters, limit, ...(after === undefined ? {} : { after }) });
    ids.push(...page.map((e) => e.id));
    if (page.length < limit) return ids;
    if (ids.length > 10_000) throw new Error(`paging ${kind} ${JSON.stringify(filters)} does not end`);
    after = page[page.length - 1]?.id;
  }
}

/** The same answers from both stores: counts, every query paged, pages after arbitrary ids, unique keys. */
async function expectSame(sqlite: Store, memory: Store, ids: string[], random: () => number): Promise<void> {
  for (const kind of ['actor', 'action'] as const) {
    expect(await sqlite.count(kind)).toEqual(await memory.count(kind));
    const limit = 1 + Math.floor(random() * 4);
    for (const filters of filtersOf(kind)) {
      const label = `${kind} ${JSON.stringify(filters)} limit ${limit}`;
      expect(await walk(sqlite, kind, filters, limit), label).toEqual(await walk(memory, kind, filters, limit));
      const after = ids[Math.floor(random() * ids.length)];
      if (after !== undefined) {
        const q = { filters, limit: 3, after };
        expect(
          (await sqlite.query(kind, q)).map((e) => e.id),
          `${label} after ${after}`,
        ).toEqual((await memory.query(kind, q)).map((e) => e.id));
      }
    }
  }
  for (const key of ['k1', 'k2', 'k3']) {
    expect(await sqlite.getByUnique('action', 'idempotencyKey', key)).toEqual(
      await memory.getByUnique('action', 'idempotencyKey', key),
    );
  }
}

/**
 * Applies the same random history to both stores: inserts, updates that change index entries (or not),
 * creation times that move, unique keys taken and released, changes of several writes, stale updates.
 */
async function randomHistory(sqlite: Store, memory: Store, seed: number, steps: number): Promise<void> {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const actors: Actor[] = [];
  const actions: ActionProposal[] = [];
  const ids: string[] = [];
  const newActor = () =>
    actorEntity({
      id: `a${Math.floor(random() * 1e6)}_${ids.length}`,
      status: pick(STATUSES),
      role: pick(ROLES),
      capabilities: CAPS.filter(() => random() < 0.4),
      createdAt: pick(TIMES),
    });
  const newAction = () =>
    actionEntity({
      id: `x${Math.floor(random() * 1e6)}_${ids.length}`,
      status: pick(ACTION_STATUSES),
      tool: pick(TOOLS),
      actorId: pick(['x1', 'x2']),
      ...(random() < 0.3 ? { workflowId: 'w1' } : {}),
      ...(random() < 0.2 ? { idempotencyKey: pick(['k1', 'k2', 'k3']) } : {}),
      createdAt: pick(TIMES),
    });
  const actorPatch = (): Partial<Actor> => {
    const r = random();
    if (r < 0.3) return { status: pick(STATUSES) };
    if (r < 0.5) return { capabilities: CAPS.filter(() => random() < 0.5) };
    if (r < 0.6) return { role: pick(ROLES) };
    if (r < 0.75) return { createdAt: pick(TIMES) };
    return { name: `n${random()}` };
  };
  const actionPatch = (a: ActionProposal): Partial<ActionProposal> => {
    const r = random();
    if (r < 0.5) return { status: pick(ACTION_STATUSES) };
    if (r < 0.65) return { tool: pick(TOOLS) };
    if (r < 0.8) return a.idempotencyKey === undefined ? { idempotencyKey: pick(['k1', 'k2', 'k3']) } : {};
    return { reason: `r${random()}` };
  };

  for (let step = 0; step < steps; step++) {
    const writes: Write[] = [];
    const after: Array<() => void> = [];
    const r = random();
    const one = (): void => {
      const s = random();
      if (s < 0.25 || actors.length === 0) {
        const a = newActor();
        writes.push(insertOf('actor', a));
        after.push(() => {
          actors.push(a);
          ids.push(a.id);
        });
      } else if (s < 0.45 || actions.length === 0) {
        const a = newAction();
        writes.push(insertOf('action', a));
        after.push(() => {
          actions.push(a);
          ids.push(a.id);
        });
      } else if (s < 0.75) {
        const i = Math.floor(random() * actors.length);
        const w = updateOf('actor', actors[i] as Actor, actorPatch());
        writes.push(w);
        after.push(() => {
          actors[i] = w.entity as Actor;
        });
      } else {
        const i = Math.floor(random() * actions.length);
        const w = updateOf('action', actions[i] as ActionProposal, actionPatch(actions[i] as ActionProposal));
        writes.push(w);
        after.push(() => {
          actions[i] = w.entity as ActionProposal;
        });
      }
    };
    one();
    if (r < 0.15) one(); // two writes in one change (possibly of one entity: the second then conflicts)
    if (r > 0.95 && actors.length > 0) {
      // A stale update: conflicts on both, writes nothing.
      writes.push(updateOf('actor', actors[0] as Actor, { status: 'busy' }, (actors[0] as Actor).version - 1));
    }
    const change = changeOf(writes);
    const [a, b] = [await sqlite.commit(change), await memory.commit(changeOf(writes))];
    expect(a.ok, `step ${step}`).toBe(b.ok);
    if (!a.ok && !b.ok) expect(a.conflict).toEqual(b.conflict);
    if (a.ok) for (const f of after) f();
    if (step % 15 === 14 || step === steps - 1) await expectSame(sqlite, memory, ids, random);
  }
}

describe('SqliteStore v4: index rows in batches', () => {
  for (const entityIndexBatch of [1, 2, 5, 32]) {
    it(`answers as MemoryStore does on random histories (index rows every ${entityIndexBatch})`, async () => {
      for (const seed of [1, 2]) {
        const sqlite = await openStore(freshFile(), { entityIndexBatch, auditIndexBatch: 5 });
        await randomHistory(sqlite, new MemoryStore(), seed * 100 + entityIndexBatch, 150);
      }
    }, 60_000);
  }

  it('keeps fewer than a batch of new entities and of marked entities waiting', async () => {
    const file = freshFile();
    const store = await openStore(file, { entityIndexBatch: 8 });
    const raw = new Database(file, { readonly: true });
    open.push(raw);
    const waiting = () =>
      raw
        .prepare(
          `SELECT (SELECT coalesce(max(rid), 0) FROM oc_entities) - entities_upto AS fresh,
             (SELECT count(*) FROM oc_dirty) AS marked FROM oc_indexed`,
        )
        .get() as { fresh: number; marked: number };
    const actors: Actor[] = [];
    for (let i = 0; i < 50; i++) {
      const a = actorEntity({ status: 'active' });
      expectOk(await store.commit(changeOf([insertOf('actor', a)])));
      actors.push(a);
      expect(waiting().fresh).toBeLessThan(8);
    }
    for (const a of actors) {
      expectOk(await store.commit(changeOf([updateOf('actor', a, { status: 'busy' })])));
      const w = waiting();
      expect(w.fresh).toBeLessThan(8);
      expect(w.marked).toBeLessThan(8);
    }
    // A change of many inserts leaves none waiting.
    expectOk(await store.commit(changeOf(Array.from({ length: 20 }, () => insertOf('actor', actorEntity())))));
    expect(waiting()).toEqual({ fresh: 0, marked: 0 });
    expect(await store.count('actor')).toEqual({ total: 70, byStatus: { active: 20, busy: 50 } });
  });

  it('refuses a database of a newer schema version with a STORE_ERROR', async () => {
    const file = freshFile();
    await (await openStore(file)).close();
    const raw = new Database(file);
    raw.prepare("INSERT INTO oc_migrations (version, applied_at) VALUES (99, 'later')").run();
    raw.close();
    const store = new SqliteStore({ filename: file });
    open.push(store);
    await expect(store.init()).rejects.toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringMatching(/schema version 99, newer/),
    });
  });
});

describe('SqliteStore v4: migration from v3', () => {
  /**
   * A database at schema v3 holding what the v3 store wrote: entity rows with their keys, index rows,
   * unique keys, records, and the audit key rows of the records up to `indexedUpto`.
   */
  function v3Database(file: string, entities: Array<[EntityKind, AnyEntity]>, events: AuditEvent[], upto: number) {
    const db = sqliteAtVersion(file, 3);
    const entity = db.prepare(
      'INSERT INTO oc_entities (kind, id, version, created_at, keys, data) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const index = db.prepare('INSERT INTO oc_index (kind, field, value, created_at, id) VALUES (?, ?, ?, ?, ?)');
    const unique = db.prepare('INSERT INTO oc_unique (kind, key, value, id) VALUES (?, ?, ?, ?)');
    const audit = legacyAuditWriter(db);
    const key = db.prepare('INSERT OR IGNORE INTO oc_audit_keys (key, seq) VALUES (?, ?)');
    db.transaction(() => {
      for (const [kind, e] of entities) {
        const at = createdAtOf(e);
        const keys = [
          ...indexEntries(kind, e).map(([f, v]) => `${f}\u0000${v}`),
          ...uniqueKeys(kind, e).map(([k, v]) => `\u0001${k}\u0000${v}`),
        ];
        entity.run(kind, e.id, e.version, at, JSON.stringify(keys), JSON.stringify(e));
        for (const [field, value] of indexEntries(kind, e)) index.run(kind, field, value, at, e.id);
        for (const [k, value] of uniqueKeys(kind, e)) unique.run(kind, k, value, e.id);
      }
      for (const ev of events) {
        audit(ev);
        if (ev.seq > upto) continue;
        for (const k of [
          `e:${ev.eventType}`,
          `t:${ev.entityType}`,
          `n:${ev.entityId}`,
          `d:${ev.timestamp}`,
          `k:${ev.id}`,
          ...(ev.actorId === undefined ? [] : [`a:${ev.actorId}`]),
        ])
          key.run(k, ev.seq);
      }
      db.prepare('UPDATE oc_audit_indexed SET upto = ?').run(upto);
    })();
    db.close();
  }

  /** The entities of the v3 databases: actors created out of id order, actions with unique keys, the policy. */
  function population(): Array<[EntityKind, AnyEntity]> {
    const actors = Array.from({ length: 40 }, (_, i) =>
      actorEntity({
        id: `actor_${String((i * 7) % 40).padStart(2, '0')}`,
        status: STATUSES[i % 3],
        capabilities: i % 2 === 0 ? ['c1', 'c2'] : ['c2'],
        createdAt: TIMES[i % TIMES.length] as string,
      }),
    );
    const actions = Array.from({ length: 10 }, (_, i) =>
      actionEntity({ idempotencyKey: `key-${i}`, status: i % 2 === 0 ? 'pending' : 'executed' }),
    );
    return [
      ...actors.map((a): [EntityKind, AnyEntity] => ['actor', a]),
      ...actions.map((a): [EntityKind, AnyEntity] => ['action', a]),
      ['policy', policyEntity()],
    ];
  }

  it('upgrades a populated v3 database: entities, index rows, unique keys and the audit chain carry over', async () => {
    const file = freshFile();
    const entities = population();
    const events = sealedChain(300);
    v3Database(file, entities, events, 256);

    const store = await openStore(file, { entityIndexBatch: 4, auditIndexBatch: 7 });
    const raw = new Database(file, { readonly: true });
    open.push(raw);
    expect(raw.prepare('SELECT max(version) AS v FROM oc_migrations').get()).toEqual({ v: 4 });
    expect(raw.prepare('SELECT audit_upto, entities_upto FROM oc_indexed').get()).toEqual({
      audit_upto: 256,
      entities_upto: entities.length,
    });
    // The table an older process would use is gone: it fails instead of writing index rows of its own.
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'oc_audit_indexed'").get()).toEqual({
      n: 0,
    });

    // The same answers as a MemoryStore holding the same entities, before and after random writes.
    const memory = new MemoryStore();
    expectOk(await memory.commit(changeOf(entities.map(([kind, e]) => insertOf(kind, e) as Write))));
    const ids = entities.map(([, e]) => e.id);
    await expectSame(store, memory, ids, prng(7));
    expect(await store.get('policy', 'policy')).toEqual(entities[entities.length - 1]?.[1]);
    expect(await store.getByUnique('action', 'idempotencyKey', 'key-3')).toEqual(
      await memory.getByUnique('action', 'idempotencyKey', 'key-3'),
    );
    const taken = await store.commit(changeOf([insertOf('action', actionEntity({ idempotencyKey: 'key-3' }))]));
    expect(taken).toMatchObject({ ok: false, conflict: { reason: 'unique', key: 'idempotencyKey' } });

    // Migrated entities change: they are marked, and their index rows follow.
    const actors = entities.filter(([k]) => k === 'actor').map(([, e]) => e as Actor);
    for (const [i, a] of actors.entries()) {
      const patch: Partial<Actor> =
        i % 3 === 0
          ? { status: 'inactive' }
          : i % 3 === 1
            ? { capabilities: ['c3'] }
            : { createdAt: TIMES[0] as string };
      const w = updateOf('actor', a, patch);
      expectOk(await store.commit(changeOf([w])));
      expectOk(await memory.commit(changeOf([w])));
      if (i % 5 === 0) await expectSame(store, memory, ids, prng(i));
    }
    await expectSame(store, memory, ids, prng(99));

    // The audit chain and its filters, across the records indexed before the upgrade and after.
    expect(await store.readAudit(1, 300)).toEqual(events);
    expect(await store.countAudit('actor_created')).toBe(100);
    expect(await store.countAudit('actor_updated')).toBe(actors.length);
    for (let i = 0; i < 20; i++) expectOk(await store.commit(changeOf([], [draftOf({ entityId: 'e1' })])));
    const trail = await store.readAudit(1, 10_000);
    expect(findChainBreak(trail, null)).toBeUndefined();
    expect(await store.queryAudit({ entityId: 'e1', limit: 10_000 })).toEqual(trail.filter((e) => e.entityId === 'e1'));
    const from = new Date(Date.UTC(2025, 0, 1, 0, 1, 0)).toISOString();
    const to = new Date(Date.UTC(2025, 0, 1, 0, 4, 30)).toISOString();
    expect(await store.queryAudit({ from, to, actorId: 'actor_0', after: events[70]?.id, limit: 50 })).toEqual(
      trail
        .filter((e) => e.timestamp >= from && e.timestamp <= to && e.actorId === 'actor_0' && e.seq > 71)
        .slice(0, 50),
    );
  });

  it('upgrades once when several processes open the same v3 database at once', async () => {
    const file = freshFile();
    const entities = population();
    v3Database(file, entities, sealedChain(40), 32);
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(join(repoRoot, 'src/stores/sqlite.ts'))});
      const store = new SqliteStore({ filename: ${JSON.stringify(file)} });
      await store.init();
      const counts = await store.count('actor');
      await store.close();
      console.log(JSON.stringify(counts));`;
    const outs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot }),
      ),
    );
    const memory = new MemoryStore();
    expectOk(await memory.commit(changeOf(entities.map(([kind, e]) => insertOf(kind, e) as Write))));
    for (const o of outs) expect(JSON.parse(o.stdout)).toEqual(await memory.count('actor'));
    const raw = new Database(file, { readonly: true });
    open.push(raw);
    expect(raw.prepare('SELECT version FROM oc_migrations ORDER BY version').all()).toEqual(
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
    );
    expect(raw.prepare("SELECT count(*) AS n FROM oc_index WHERE field = ''").get()).toEqual({ n: entities.length });
    const store = await openStore(file);
    await expectSame(
      store,
      memory,
      entities.map(([, e]) => e.id),
      prng(3),
    );
  }, 60_000);
});

describe('SqliteStore: background checkpoints', () => {
  const walPages = (file: string) => statSync(`${file}-wal`).size / 4120;
  type Internals = { checkpointer: { state: Int32Array } | false | undefined };

  async function commitMany(store: SqliteStore, count: number): Promise<void> {
    const a = actorEntity();
    expectOk(await store.commit(changeOf([insertOf('actor', a)])));
    let current: Actor = a;
    for (let i = 1; i < count; i++) {
      const w = updateOf('actor', current, { name: `n${i}`, status: i % 2 === 0 ? 'busy' : 'active' });
      expectOk(await store.commit(changeOf([w], [draftOf({ details: { pad: 'x'.repeat(2000) } })])));
      current = w.entity as Actor;
    }
  }

  it('are the default with synchronous NORMAL: start after the first commits, keep the WAL bounded, stop on close', async () => {
    const file = freshFile();
    const store = await openStore(file, { synchronous: 'NORMAL' });
    await commitMany(store, 10);
    expect((store as unknown as Internals).checkpointer).toBeUndefined(); // no thread for a few commits
    await commitMany(store, 5000);
    const internals = store as unknown as Internals;
    expect(internals.checkpointer).toBeTruthy();
    // ~4 pages per commit: without checkpoints the WAL would hold ~20,000 pages. It starts over from
    // ~2,000 (the backstop is 4,000, passed only while the worker holds the checkpoint lock).
    expect(walPages(file)).toBeLessThan(7000);
    await store.close();
    expect(internals.checkpointer).toBe(false);
    // Closing the last connection checkpoints the WAL and removes it; nothing is lost.
    const again = await openStore(file);
    const trail = await again.readAudit(1, 10_000);
    expect(trail).toHaveLength(5010);
    expect(findChainBreak(trail, null)).toBeUndefined();
  }, 60_000);

  it('keep one gapless chain and exact index rows with several processes committing at once', async () => {
    const file = freshFile();
    await (await openStore(file)).close();
    const script = (prefix: string) => `
      const { SqliteStore } = await import(${JSON.stringify(join(repoRoot, 'src/stores/sqlite.ts'))});
      const f = await import(${JSON.stringify(join(repoRoot, 'src/testing/fixtures.ts'))});
      const store = new SqliteStore({ filename: ${JSON.stringify(file)}, synchronous: 'NORMAL', entityIndexBatch: 8 });
      for (let i = 0; i < 150; i++) {
        const a = f.actorEntity({ id: '${prefix}' + i, status: 'active' });
        for (;;) {
          try { f.expectOk(await store.commit(f.changeOf([f.insertOf('actor', a)]))); break; }
          catch (e) { if (e.details?.retryable !== true) throw e; }
        }
        for (;;) {
          try { f.expectOk(await store.commit(f.changeOf([f.updateOf('actor', a, { status: 'busy' })]))); break; }
          catch (e) { if (e.details?.retryable !== true) throw e; }
        }
      }
      console.log(JSON.stringify({ background: typeof store.checkpointer }));
      await store.close();`;
    const outs = await Promise.all(
      ['p', 'q', 'r'].map((prefix) =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(prefix)], { cwd: repoRoot }),
      ),
    );
    for (const o of outs) expect(JSON.parse(o.stdout)).toEqual({ background: 'object' });
    const store = await openStore(file);
    const trail = await store.readAudit(1, 10_000);
    expect(trail.map((e) => e.seq)).toEqual(Array.from({ length: 900 }, (_, i) => i + 1));
    expect(findChainBreak(trail, null)).toBeUndefined();
    expect(await store.count('actor')).toEqual({ total: 450, byStatus: { busy: 450 } });
    expect(await walk(store, 'actor', [['status', 'busy']], 7)).toHaveLength(450);
    expect(await walk(store, 'actor', [['status', 'active']], 7)).toEqual([]);
  }, 120_000);

  it('leave a caller-owned database with SQLite default checkpoints after close', async () => {
    const db = new Database(freshFile());
    open.push(db);
    const store = new SqliteStore({ database: db, synchronous: 'FULL', checkpoint: 'background' });
    await store.init();
    await commitMany(store, 200);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    await store.close();
    expect(db.open).toBe(true);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('fall back to inline checkpoints when the worker fails; none with inline (the default with FULL)', async () => {
    const file = freshFile();
    const store = await openStore(file, { checkpoint: 'background' });
    await commitMany(store, 100);
    const internals = store as unknown as Internals;
    const c = internals.checkpointer;
    if (!c) throw new Error('expected a checkpointer');
    Atomics.store(c.state, 4, 1); // as the worker does when it fails
    await commitMany(store, 1);
    expect(internals.checkpointer).toBe(false);
    expect((store as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint', { simple: true })).toBe(
      1000,
    );
    await commitMany(store, 100);

    for (const options of [{ checkpoint: 'inline' as const, synchronous: 'NORMAL' as const }, {}]) {
      const inline = await openStore(freshFile(), options);
      await commitMany(inline, 200);
      expect((inline as unknown as Internals).checkpointer).toBeUndefined();
    }

    const memory = await openStore(':memory:', { synchronous: 'NORMAL' });
    await commitMany(memory, 200);
    expect((memory as unknown as Internals).checkpointer).toBe(false);
  });
});
