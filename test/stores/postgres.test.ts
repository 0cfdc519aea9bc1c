import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSealer, findChainBreak } from '../../src/audit/chain.js';
import { isOrchestrationError } from '../../src/errors.js';
import { type PgClientLike, type PgPoolLike, PostgresStore } from '../../src/postgres.js';
import { SCHEMA_VERSION } from '../../src/stores/postgres-schema.js';
import type { AuditDraft, Change, CommitResult, Store } from '../../src/stores/store.js';
import { storeConformanceCases } from '../../src/testing/conformance.js';
import type { Actor, AuditEvent } from '../../src/types.js';
import { newId } from '../../src/util/ids.js';

const DATABASE_URL = process.env.DATABASE_URL;
const seal = createSealer();

function actor(over: Partial<Actor> = {}): Actor {
  const ts = new Date().toISOString();
  return {
    id: newId('actor'),
    name: 'A',
    role: 'agent',
    capabilities: [],
    status: 'active',
    createdAt: ts,
    updatedAt: ts,
    version: 1,
    ...over,
  };
}

function draft(entityId: string, over: Partial<AuditDraft> = {}): AuditDraft {
  const ts = new Date().toISOString();
  return {
    id: newId('evt'),
    eventType: 'actor_created',
    entityType: 'actor',
    entityId,
    timestamp: ts,
    details: {},
    ...over,
  };
}

function insert(...actors: Actor[]): Change {
  return { writes: actors.map((entity) => ({ kind: 'actor', entity })), audit: actors.map((a) => draft(a.id)), seal };
}

function update(current: Actor, patch: Partial<Actor>): Change {
  const entity = { ...current, ...patch, version: current.version + 1 };
  return {
    writes: [{ kind: 'actor', entity, expectedVersion: current.version }],
    audit: [draft(current.id, { eventType: 'actor_updated' })],
    seal,
  };
}

function eventsOf(r: CommitResult): AuditEvent[] {
  if (!r.ok) throw new Error(`unexpected conflict ${JSON.stringify(r.conflict)}`);
  return r.events;
}

async function expectValidChain(store: Store, count: number): Promise<void> {
  const events = await store.readAudit(1, 100_000);
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  expect(findChainBreak(events, null)).toBeUndefined();
  expect(await store.countAudit()).toBe(count);
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('PostgresStore without a database server', () => {
  it('constructor - rejects zero or several connection sources with INVALID_INPUT', () => {
    expect(() => new PostgresStore({})).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const pglite = { query: async () => ({ rows: [] }), transaction: async () => undefined as never };
    expect(() => new PostgresStore({ connectionString: 'postgres://x', pglite })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('constructor - rejects a schema name that is not a plain identifier', () => {
    for (const schema of ['', 'a-b', 'x"; drop table y; --', '1abc', 'a'.repeat(49)]) {
      expect(() => new PostgresStore({ connectionString: 'postgres://x', schema })).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    }
  });

  // A scripted stand-in for a pg pool: the only way to make a connection die exactly at COMMIT.
  function scriptedPool(failOn: string, error: Error & { code?: string }) {
    const sent: string[] = [];
    const released: Array<Error | boolean | undefined> = [];
    const client: PgClientLike = {
      query: async (text) => {
        sent.push(text.trim().split(/\s+/)[0] as string);
        if (text.startsWith(failOn)) throw error;
        return { rows: [], rowCount: 1 };
      },
      release: (err) => void released.push(err),
      on: () => undefined,
      removeListener: () => undefined,
    };
    const pool: PgPoolLike = {
      // the migration's fast path: the schema is current
      query: async (text) => ({
        rows: [text.includes('to_regclass') ? { present: true } : { version: SCHEMA_VERSION }],
        rowCount: 1,
      }),
      connect: async () => client,
      end: async () => undefined,
    };
    return { pool, sent, released };
  }

  it('commit - a connection lost at COMMIT is a retryable STORE_ERROR with outcomeUnknown; the client is destroyed', async () => {
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { pool, sent, released } = scriptedPool('COMMIT', lost);
    const store = new PostgresStore({ pool });
    const a = actor();
    const failure = await store.commit({ writes: [{ kind: 'actor', entity: a }], audit: [], seal }).catch((e) => e);
    expect(failure).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true, outcomeUnknown: true } });
    expect(failure).not.toBe(lost);
    expect(sent.at(-1)).toBe('COMMIT');
    expect(released).toEqual([lost]);
  });

  it('commit - a connection lost mid-transaction is a retryable STORE_ERROR; no ROLLBACK is tried on it', async () => {
    const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const { pool, sent, released } = scriptedPool('INSERT', lost);
    const store = new PostgresStore({ pool });
    const failure = await store
      .commit({ writes: [{ kind: 'actor', entity: actor() }], audit: [], seal })
      .catch((e) => e);
    expect(failure).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true, causeCode: '57P01' } });
    expect(failure.details.outcomeUnknown).toBeUndefined();
    expect(sent).toEqual(['BEGIN;', 'INSERT']);
    expect(released).toEqual([lost]);
  });

  it('commit - an SQL error rolls back and returns the client to the pool', async () => {
    const broken = Object.assign(new Error('relation does not exist'), { code: '42P01' });
    const { pool, sent, released } = scriptedPool('INSERT', broken);
    const store = new PostgresStore({ pool });
    await expect(store.commit({ writes: [{ kind: 'actor', entity: actor() }], audit: [], seal })).rejects.toMatchObject(
      { code: 'STORE_ERROR', details: { retryable: false, causeCode: '42P01' } },
    );
    expect(sent).toEqual(['BEGIN;', 'INSERT', 'ROLLBACK']);
    expect(released).toEqual([undefined]);
  });

  it('connectionString - an unreachable server gives a retryable STORE_ERROR, not a driver error', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    await expect(store.init()).rejects.toMatchObject({ code: 'STORE_ERROR', details: { retryable: true } });
    await store.close();
  });
});

describe('PostgresStore on PGlite', () => {
  // A fresh database per case, loaded from a dump of an empty one: the same as new PGlite(), but faster.
  let template: Blob;
  const open: PGlite[] = [];
  beforeAll(async () => {
    // dumpDataDir() on an instance that is still starting never settles: create() waits for it.
    const db = await PGlite.create();
    template = await db.dumpDataDir('none');
    await db.close();
  });
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
  });
  async function freshPglite(): Promise<PGlite> {
    const db = await PGlite.create({ loadDataDir: template });
    open.push(db);
    return db;
  }
  async function freshStore(): Promise<PostgresStore> {
    const store = new PostgresStore({ pglite: await freshPglite() });
    await store.init();
    return store;
  }

  for (const c of storeConformanceCases()) {
    it(`conformance - ${c.name}`, async () => {
      const store = await freshStore();
      try {
        await c.run(store);
      } finally {
        await store.close();
      }
    });
  }

  it('capabilities - in-memory PGlite is neither durable nor shared', async () => {
    const store = await freshStore();
    expect(store.capabilities).toEqual({ durable: false, shared: false, notifications: true });
  });

  it('strings PostgreSQL cannot store (NUL, lone surrogates, U+FFFF) round-trip and stay queryable', async () => {
    const store = await freshStore();
    const odd = 'a\u0000b\uffff0041c\ud800d\udc00e\u{1f600}';
    const a = actor({ name: odd, role: odd, capabilities: [odd, 'plain'] });
    const [event] = eventsOf(
      await store.commit({
        writes: [{ kind: 'actor', entity: a }],
        audit: [draft(a.id, { details: { [odd]: odd } })],
        seal,
      }),
    );
    expect(await store.get('actor', a.id)).toEqual(a);
    expect(await store.query('actor', { filters: [['capability', odd]], limit: 10 })).toEqual([a]);
    expect(await store.query('actor', { filters: [['role', 'a']], limit: 10 })).toEqual([]);
    expect(await store.readAudit(1, 10)).toEqual([event]);
    await expectValidChain(store, 1);
  });

  it('init - a second store on the same database reuses the schema and its data', async () => {
    const db = await freshPglite();
    const first = new PostgresStore({ pglite: db });
    const a = actor();
    eventsOf(await first.commit(insert(a)));
    await first.close();
    const second = new PostgresStore({ pglite: db });
    expect(await second.get('actor', a.id)).toEqual(a);
    const [event] = eventsOf(await second.commit(insert(actor())));
    expect(event?.seq).toBe(2);
    await expectValidChain(second, 2);
  });

  it('schemas - two stores in different schemas of one database do not see each other', async () => {
    const db = await freshPglite();
    const [left, right] = [
      new PostgresStore({ pglite: db, schema: 'left' }),
      new PostgresStore({ pglite: db, schema: 'right' }),
    ];
    const a = actor();
    eventsOf(await left.commit(insert(a)));
    expect(await right.get('actor', a.id)).toBeUndefined();
    expect(await right.countAudit()).toBe(0);
  });

  it('init - a schema migrated by a newer version is refused with a non-retryable STORE_ERROR', async () => {
    const db = await freshPglite();
    await new PostgresStore({ pglite: db }).init();
    await db.query(`INSERT INTO orchestration.oc_migrations (version, name) VALUES (999, 'future')`);
    await expect(new PostgresStore({ pglite: db }).init()).rejects.toMatchObject({
      code: 'STORE_ERROR',
      details: { retryable: false, schemaVersion: 999 },
    });
  });

  it('commit - four stores sharing one PGlite keep the chain gapless', async () => {
    const db = await freshPglite();
    const stores = Array.from({ length: 4 }, () => new PostgresStore({ pglite: db }));
    await Promise.all(
      stores.map(async (s) =>
        Promise.all(Array.from({ length: 25 }, async () => eventsOf(await s.commit(insert(actor()))))),
      ),
    );
    await expectValidChain(stores[0] as Store, 100);
  });

  it('watch - sees commits through PGlite LISTEN, also in a mixed-case schema', async () => {
    const store = new PostgresStore({ pglite: await freshPglite(), schema: 'Mixed_Case' });
    const seen: string[] = [];
    const unwatch = store.watch((kind, id) => seen.push(`${kind}:${id}`));
    const a = actor();
    await eventually(async () => {
      eventsOf(await store.commit(insert(actor())));
      return seen.length > 0;
    }, 'the first notification');
    eventsOf(await store.commit(insert(a)));
    await eventually(() => seen.includes(`actor:${a.id}`), 'the notification of the commit');
    unwatch();
  });

  it('close - later calls fail with a non-retryable STORE_ERROR', async () => {
    const store = await freshStore();
    await store.close();
    await store.close();
    await expect(store.get('actor', 'actor_x')).rejects.toMatchObject({
      code: 'STORE_ERROR',
      details: { retryable: false },
    });
  });
});

describe.skipIf(!DATABASE_URL)('PostgresStore on a PostgreSQL server', () => {
  const url = DATABASE_URL as string;
  let admin: pg.Pool;
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const schema of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
  afterAll(async () => {
    await admin.end();
  });

  function newSchema(): string {
    const schema = `oc_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return schema;
  }
  function withAppName(name: string): string {
    const u = new URL(url);
    u.searchParams.set('application_name', name);
    return u.toString();
  }
  function openStore(schema: string, options: { connectionString?: string; onError?: (e: Error) => void } = {}) {
    const store = new PostgresStore({
      connectionString: options.connectionString ?? url,
      schema,
      onError: options.onError,
    });
    stores.push(store);
    return store;
  }

  for (const c of storeConformanceCases()) {
    it(`conformance - ${c.name}`, async () => {
      const store = openStore(newSchema());
      await store.init();
      await c.run(store);
    });
  }

  it('close and reopen - data and the chain survive; the next record continues the chain', async () => {
    const schema = newSchema();
    const first = new PostgresStore({ connectionString: url, schema });
    const a = actor();
    eventsOf(await first.commit(insert(a)));
    const head = await first.auditHead();
    await first.close();
    const second = openStore(schema);
    expect(await second.get('actor', a.id)).toEqual(a);
    expect(await second.auditHead()).toEqual(head);
    const [event] = eventsOf(await second.commit(insert(actor())));
    expect(event).toMatchObject({ seq: 2, prevHash: head?.hash });
    await expectValidChain(second, 2);
  });

  it('pool - a given pool is borrowed, never ended by close()', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const store = new PostgresStore({ pool, schema: newSchema() });
    eventsOf(await store.commit(insert(actor())));
    await store.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it('commit - two stores racing a conditional update of one entity: exactly one applies', async () => {
    const schema = newSchema();
    const [a, b] = [openStore(schema), openStore(schema)];
    await Promise.all([a.init(), b.init()]);
    for (let round = 0; round < 20; round++) {
      const entity = actor();
      eventsOf(await a.commit(insert(entity)));
      const results = await Promise.all([a, b].map((s, i) => s.commit(update(entity, { name: `by ${i}` }))));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toEqual({
        ok: false,
        conflict: { kind: 'actor', id: entity.id, reason: 'version' },
      });
    }
    await expectValidChain(a, 40);
  });

  it('commit - 8 stores x 50 concurrent commits give seq 1..400 without gaps and a valid chain', async () => {
    const schema = newSchema();
    const many = Array.from({ length: 8 }, () => openStore(schema));
    await Promise.all(
      many.map(async (store) => {
        // five lanes per store, so the pools and the head lock both see real contention
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            for (let i = 0; i < 10; i++) eventsOf(await store.commit(insert(actor())));
          }),
        );
      }),
    );
    await expectValidChain(many[0] as Store, 400);
  });

  it('init - stores starting together on a new schema all succeed and migrate once', async () => {
    const schema = newSchema();
    const starting = Array.from({ length: 4 }, () => openStore(schema));
    await Promise.all(starting.map((s) => s.init()));
    const { rows } = await admin.query(`SELECT version FROM "${schema}".oc_migrations ORDER BY version`);
    expect(rows).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    eventsOf(await (starting[3] as PostgresStore).commit(insert(actor())));
  });

  it('watch - one store sees a commit of another store', async () => {
    const schema = newSchema();
    const [watcher, writer] = [openStore(schema), openStore(schema)];
    const seen: string[] = [];
    const unwatch = watcher.watch((kind, id) => seen.push(`${kind}:${id}`));
    // LISTEN starts in the background: commit until the first notification arrives.
    await eventually(async () => {
      eventsOf(await writer.commit(insert(actor())));
      return seen.length > 0;
    }, 'the LISTEN connection');
    const a = actor();
    eventsOf(await writer.commit(insert(a)));
    await eventually(() => seen.includes(`actor:${a.id}`), 'the notification of the commit');
    unwatch();
  });

  it('pg_terminate_backend mid-workload - only success or retryable STORE_ERROR, and the store recovers', async () => {
    const schema = newSchema();
    const app = `oc_kill_${randomBytes(4).toString('hex')}`;
    const background: Error[] = [];
    const victim = openStore(schema, { connectionString: withAppName(app), onError: (e) => background.push(e) });
    const writer = openStore(schema);
    await Promise.all([victim.init(), writer.init()]);
    const seen = new Set<string>();
    const unwatch = victim.watch((_, id) => seen.add(id));

    let stop = false;
    let retryable = 0;
    const unexpected: unknown[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const a = actor();
          eventsOf(await victim.commit(insert(a)));
          await victim.query('actor', { filters: [['status', 'active']], limit: 5 });
        } catch (err) {
          if (isOrchestrationError(err, 'STORE_ERROR') && err.details.retryable === true) retryable++;
          else unexpected.push(err);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let round = 0; round < 50 && (round < 5 || retryable === 0); round++) {
      await sleep(50);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
    }
    stop = true;
    await Promise.all(workers);

    expect(unexpected).toEqual([]);
    expect(retryable).toBeGreaterThan(0);
    for (const e of background) expect(e).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true } });
    // still works, and the LISTEN connection came back
    const a = actor();
    eventsOf(await victim.commit(insert(a)));
    expect(await victim.get('actor', a.id)).toEqual(a);
    await eventually(async () => {
      const b = actor();
      eventsOf(await writer.commit(insert(b)));
      await sleep(100);
      return seen.has(b.id);
    }, 'watch() to reconnect');
    unwatch();
    await expectValidChain(victim, await victim.countAudit());
  });
});
