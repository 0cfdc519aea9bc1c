import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSealer, findChainBreak } from '../../src/audit/chain.js';
import { isOrchestrationError } from '../../src/errors.js';
import { type PgClientLike, type PgPoolLike, PostgresStore } from '../../src/postgres.js';
import { PgliteRunner, PgRunner, type SqlRunner } from '../../src/stores/postgres-runner.js';
import { migrate, SCHEMA_VERSION } from '../../src/stores/postgres-schema.js';
import { commitSql, sealBatch } from '../../src/stores/postgres-writes.js';
import type { AuditDraft, Change, CommitResult, Store } from '../../src/stores/store.js';
import { storeConformanceCases } from '../../src/testing/conformance.js';
import type { ActionProposal, Actor, AuditEvent } from '../../src/types.js';
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

/** Timestamps that go back and forth along seq, as with several writers whose clocks disagree. */
const SKEWED_MINUTES = [10, 5, 12, 11, 3, 20, 15, 15, 2, 30, 25, 31, 1, 40];
const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 0, minute)).toISOString();

/**
 * Every date range over {@link SKEWED_MINUTES} (records committed in that order, one per commit)
 * gives exactly the records whose timestamp is in it, in seq order, also page by page.
 */
async function expectExactDateRanges(store: Store): Promise<void> {
  const all = await store.readAudit(1, 1000);
  expect(all.map((e) => e.timestamp)).toEqual(SKEWED_MINUTES.map(at));
  const bounds = [undefined, ...[0, 2, 4, 5, 11, 12, 14, 15, 16, 29, 30, 35, 40, 41].map(at)];
  for (const from of bounds) {
    for (const to of bounds) {
      const expected = all.filter(
        (e) => (from === undefined || e.timestamp >= from) && (to === undefined || e.timestamp <= to),
      );
      const range = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
      expect(await store.queryAudit({ ...range, limit: 100 })).toEqual(expected);
      const paged: AuditEvent[] = [];
      for (;;) {
        const after = paged.at(-1)?.id;
        const page = await store.queryAudit({ ...range, limit: 2, ...(after !== undefined ? { after } : {}) });
        paged.push(...page);
        if (page.length < 2) break;
      }
      expect(paged).toEqual(expected);
    }
  }
}

async function commitSkewed(store: Store): Promise<void> {
  for (const minute of SKEWED_MINUTES) {
    const a = actor();
    eventsOf(
      await store.commit({
        writes: [{ kind: 'actor', entity: a }],
        audit: [draft(a.id, { timestamp: at(minute) })],
        seal,
      }),
    );
  }
}

/**
 * A schema at version 2 (before oc_commit and max_ts) holding what that version wrote: two actors
 * (one updated), their index rows, and records with timestamps that go backwards.
 */
async function buildV2Schema(db: SqlRunner, schema: string): Promise<{ ids: string[]; events: AuditEvent[] }> {
  await migrate(db, schema, 2);
  const s = `"${schema}"`;
  const first = actor({ createdAt: at(1), updatedAt: at(1) });
  const second = actor({ createdAt: at(2), updatedAt: at(2), role: 'reviewer' });
  const updated = { ...first, status: 'disabled' as const, version: 2 };
  for (const e of [updated, second]) {
    await db.query(
      `INSERT INTO ${s}.oc_entities (kind, id, version, created_at, data) VALUES ('actor', $1, $2, $3, $4::jsonb)`,
      [e.id, e.version, e.createdAt, JSON.stringify(e)],
    );
    for (const [field, value] of [
      ['status', e.status],
      ['role', e.role],
    ]) {
      await db.query(
        `INSERT INTO ${s}.oc_index (kind, field, value, id, created_at) VALUES ('actor', $1, $2, $3, $4)`,
        [field, value, e.id, e.createdAt],
      );
    }
  }
  const events: AuditEvent[] = [];
  let prev: AuditEvent | null = null;
  for (const [i, minute] of SKEWED_MINUTES.slice(0, 6).entries()) {
    const entityId = i % 2 === 0 ? first.id : second.id;
    const e: AuditEvent = seal(draft(entityId, { timestamp: at(minute) }), prev);
    await db.query(
      `INSERT INTO ${s}.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
       VALUES ($1, $2, $3, $4, $5, NULL, $6, $7::jsonb)`,
      [e.seq, e.id, e.eventType, e.entityType, e.entityId, e.timestamp, JSON.stringify(e)],
    );
    events.push(e);
    prev = e;
  }
  await db.query(`UPDATE ${s}.oc_audit_head SET seq = $1, hash = $2 WHERE singleton`, [prev?.seq, prev?.hash]);
  return { ids: [first.id, second.id], events };
}

/** The store upgrades the v2 schema on first use; its data stays readable and queryable, the chain goes on. */
async function expectV2Upgrade(store: PostgresStore, built: { ids: string[]; events: AuditEvent[] }) {
  const [firstId, secondId] = built.ids as [string, string];
  await store.init();
  expect(await store.readAudit(1, 100)).toEqual(built.events);
  expect((await store.get('actor', firstId))?.status).toBe('disabled');
  expect((await store.query('actor', { filters: [['role', 'reviewer']], limit: 10 })).map((a) => a.id)).toEqual([
    secondId,
  ]);
  // the date-range bound works on the migrated rows (timestamps 10, 5, 12, 11, 3, 20)
  expect((await store.queryAudit({ from: at(4), to: at(11), limit: 10 })).map((e) => e.seq)).toEqual([1, 2, 4]);
  // updates keep the index and unique rows right; the chain continues after the migrated head
  const first = (await store.get('actor', firstId)) as Actor;
  eventsOf(await store.commit(update(first, { status: 'active', role: 'reviewer' })));
  expect((await store.query('actor', { filters: [['role', 'reviewer']], limit: 10 })).map((a) => a.id)).toEqual([
    firstId,
    secondId,
  ]);
  expect(await store.query('actor', { filters: [['status', 'disabled']], limit: 10 })).toEqual([]);
  await commitSkewed(store);
  await expectValidChain(store, built.events.length + 1 + SKEWED_MINUTES.length);
}

/** An action with an idempotency key (a unique key), at `minute`. */
function action(over: Partial<ActionProposal> = {}): ActionProposal {
  return {
    id: newId('action'),
    actorId: 'agent',
    tool: 'noop',
    params: {},
    paramsHash: '0'.repeat(64),
    reason: 'test',
    status: 'pending',
    reviews: [],
    approvalsRequired: 1,
    createdAt: at(3),
    updatedAt: at(3),
    version: 1,
    ...over,
  };
}

/**
 * A schema at version 3 holding what that version's oc_commit wrote: actors (one updated, with
 * capabilities), an action with an idempotency key, and records with timestamps that go backwards.
 */
async function buildV3Schema(db: SqlRunner, schema: string) {
  await migrate(db, schema, 3);
  const s = `"${schema}"`;
  const channel = `${schema}_oc_changes`;
  let head: { seq: number; hash: string } | null = null;
  const events: AuditEvent[] = [];
  const commit = async (change: Change) => {
    const sealed = sealBatch([change], head, channel);
    await db.commitStatement(commitSql(s), sealed.params);
    head = sealed.last;
    events.push(...(sealed.events[0] ?? []));
  };
  const minutes = SKEWED_MINUTES.slice(0, 6);
  const first = actor({ createdAt: at(1), updatedAt: at(1), capabilities: ['read', 'write'] });
  const second = actor({ createdAt: at(2), updatedAt: at(2), role: 'reviewer' });
  const act = action({ idempotencyKey: 'key-1' });
  await commit({
    writes: [{ kind: 'actor', entity: first }],
    audit: [draft(first.id, { timestamp: at(minutes[0] as number) })],
    seal,
  });
  await commit({
    writes: [{ kind: 'actor', entity: second }],
    audit: [draft(second.id, { timestamp: at(minutes[1] as number) })],
    seal,
  });
  const updated: Actor = { ...first, status: 'inactive', capabilities: ['write', 'admin'], version: 2 };
  await commit({
    writes: [{ kind: 'actor', entity: updated, expectedVersion: 1 }],
    audit: [
      draft(first.id, { timestamp: at(minutes[2] as number) }),
      draft(first.id, { timestamp: at(minutes[3] as number) }),
    ],
    seal,
  });
  await commit({
    writes: [{ kind: 'action', entity: act }],
    audit: [draft(act.id, { entityType: 'action', eventType: 'action_proposed', timestamp: at(minutes[4] as number) })],
    seal,
  });
  await commit({ writes: [], audit: [draft(second.id, { timestamp: at(minutes[5] as number) })], seal });
  return { first: updated, second, action: act, events };
}

/** The store upgrades the v3 schema on first use; reads, queries, unique keys and the chain go on. */
async function expectV3Upgrade(store: PostgresStore, built: Awaited<ReturnType<typeof buildV3Schema>>) {
  const { first, second } = built;
  await store.init();
  expect(await store.readAudit(1, 100)).toEqual(built.events);
  expect(
    await store.getMany([
      ['actor', first.id],
      ['action', built.action.id],
      ['actor', second.id],
    ]),
  ).toEqual([first, built.action, second]);
  expect((await store.getByUnique('action', 'idempotencyKey', 'key-1'))?.id).toBe(built.action.id);
  const ids = async (filters: Array<[string, string]>) =>
    (await store.query('actor', { filters, limit: 10 })).map((a) => a.id);
  expect(await ids([['capability', 'write']])).toEqual([first.id]);
  expect(await ids([['capability', 'read']])).toEqual([]);
  expect(
    await ids([
      ['status', 'inactive'],
      ['capability', 'admin'],
    ]),
  ).toEqual([first.id]);
  expect(await ids([['status', 'active']])).toEqual([second.id]);
  expect((await store.queryAudit({ from: at(4), to: at(11), limit: 10 })).map((e) => e.seq)).toEqual([1, 2, 4]);
  // an update after the upgrade moves exactly the index rows that changed; the unique key is released
  const moved: Actor = { ...first, status: 'active', capabilities: ['admin'], version: 3 };
  eventsOf(await store.commit({ writes: [{ kind: 'actor', entity: moved, expectedVersion: 2 }], audit: [], seal }));
  expect(await ids([['status', 'active']])).toEqual([first.id, second.id]);
  expect(await ids([['capability', 'write']])).toEqual([]);
  expect(
    await ids([
      ['status', 'active'],
      ['capability', 'admin'],
    ]),
  ).toEqual([first.id]);
  const withoutKey = { ...built.action, idempotencyKey: undefined, version: 2 };
  eventsOf(
    await store.commit({ writes: [{ kind: 'action', entity: withoutKey, expectedVersion: 1 }], audit: [], seal }),
  );
  expect(await store.getByUnique('action', 'idempotencyKey', 'key-1')).toBeUndefined();
  const taker = action({ idempotencyKey: 'key-1' });
  eventsOf(await store.commit({ writes: [{ kind: 'action', entity: taker }], audit: [], seal }));
  expect((await store.getByUnique('action', 'idempotencyKey', 'key-1'))?.id).toBe(taker.id);
  await commitSkewed(store);
  await expectValidChain(store, built.events.length + SKEWED_MINUTES.length);
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

  // A scripted stand-in for a pg pool: the only way to make a connection die exactly where wanted.
  // `fail(text, inTransaction)` gives the error a statement meets, if any.
  function scriptedPool(fail: (text: string, inTransaction: boolean) => (Error & { code?: string }) | undefined) {
    const sent: string[] = [];
    const released: Array<Error | boolean | undefined> = [];
    let inTransaction = false;
    const client: PgClientLike = {
      query: async (statement: string | { text: string }) => {
        const text = typeof statement === 'string' ? statement : statement.text;
        const word = text.trim().split(/\s+/)[0] as string;
        sent.push(text.includes('oc_commit(') ? 'oc_commit' : word);
        if (word === 'BEGIN;') inTransaction = true;
        const error = fail(text, inTransaction);
        if (word === 'COMMIT' || word === 'ROLLBACK') inTransaction = false;
        if (error !== undefined) throw error;
        return { rows: text.includes('oc_audit_head') ? [{ seq: 0, hash: null }] : [], rowCount: 1 };
      },
      release: (err) => {
        inTransaction = false;
        released.push(err);
      },
      on: () => undefined,
      removeListener: () => undefined,
    };
    const pool: PgPoolLike = {
      // the migration's fast path (the schema is current) and the audit head (empty)
      query: async () => ({ rows: [{ present: true, version: SCHEMA_VERSION, seq: 0, hash: null }], rowCount: 1 }),
      connect: async () => client,
      end: async () => undefined,
    };
    return { pool, sent, released };
  }
  /** An error the server answered, as pg gives it. */
  const answered = (message: string, code: string, detail?: string) =>
    Object.assign(new Error(message), { code, severity: 'ERROR', ...(detail !== undefined ? { detail } : {}) });

  it('commit - one statement per commit; a connection lost while it runs is a retryable STORE_ERROR with outcomeUnknown', async () => {
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { pool, sent, released } = scriptedPool((text) => (text.includes('oc_commit(') ? lost : undefined));
    const store = new PostgresStore({ pool });
    const a = actor();
    const failure = await store.commit({ writes: [{ kind: 'actor', entity: a }], audit: [], seal }).catch((e) => e);
    expect(failure).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true, outcomeUnknown: true } });
    expect(failure).not.toBe(lost);
    expect(sent).toEqual(['oc_commit']);
    expect(released).toEqual([lost]);
  });

  it('commit - the server ending the session during the statement is retryable, not outcomeUnknown; the client is destroyed', async () => {
    const ended = Object.assign(answered('terminating connection due to administrator command', '57P01'), {
      severity: 'FATAL',
    });
    const { pool, sent, released } = scriptedPool((text) => (text.includes('oc_commit(') ? ended : undefined));
    const store = new PostgresStore({ pool });
    const failure = await store
      .commit({ writes: [{ kind: 'actor', entity: actor() }], audit: [], seal })
      .catch((e) => e);
    expect(failure).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true, causeCode: '57P01' } });
    expect(failure.details.outcomeUnknown).toBeUndefined();
    expect(sent).toEqual(['oc_commit']);
    expect(released).toEqual([ended]);
  });

  it('commit - an SQL error rolls back and returns the client to the pool', async () => {
    const broken = answered('relation does not exist', '42P01');
    const { pool, sent, released } = scriptedPool((text) => (text.includes('oc_commit(') ? broken : undefined));
    const store = new PostgresStore({ pool });
    await expect(store.commit({ writes: [{ kind: 'actor', entity: actor() }], audit: [], seal })).rejects.toMatchObject(
      { code: 'STORE_ERROR', details: { retryable: false, causeCode: '42P01' } },
    );
    expect(sent).toEqual(['oc_commit']);
    expect(released).toEqual([undefined]);
  });

  it('commit - a head that keeps moving makes the commit lock it first; a connection lost at COMMIT is outcomeUnknown', async () => {
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const moved = answered('the audit head moved', 'OC412', `7:${'ab'.repeat(32)}`);
    const { pool, sent, released } = scriptedPool((text, inTransaction) => {
      if (text.includes('oc_commit(') && !inTransaction) return moved;
      return text.startsWith('COMMIT') ? lost : undefined;
    });
    const store = new PostgresStore({ pool });
    const a = actor();
    const failure = await store.commit(insert(a)).catch((e) => e);
    expect(failure).toMatchObject({ code: 'STORE_ERROR', details: { retryable: true, outcomeUnknown: true } });
    expect(sent).toEqual(['oc_commit', 'oc_commit', 'oc_commit', 'BEGIN;', 'SELECT', 'oc_commit', 'COMMIT']);
    expect(released).toEqual([undefined, undefined, undefined, lost]);
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

  it('getMany - reads several entities of several kinds in the order asked, undefined for the missing', async () => {
    const store = await freshStore();
    try {
      const a = actor({ id: 'actor_a' });
      const odd = actor({ id: 'actor_\u0000nul_and_\ud800' });
      expect((await store.commit(insert(a, odd))).ok).toBe(true);
      const many = await store.getMany([
        ['actor', odd.id],
        ['policy', 'policy'],
        ['actor', 'actor_a'],
        ['workflow', 'actor_a'],
        ['actor', 'actor_a'],
      ]);
      expect(many).toEqual([await store.get('actor', odd.id), undefined, a, undefined, a]);
      expect(await store.getMany([])).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('queryAudit - date ranges are exact when timestamps go backwards along seq', async () => {
    const store = await freshStore();
    await commitSkewed(store);
    await expectExactDateRanges(store);
  });

  it('init - a v2 schema with data is migrated to the current version and stays usable', async () => {
    const db = await freshPglite();
    const built = await buildV2Schema(new PgliteRunner(db), 'orchestration');
    const store = new PostgresStore({ pglite: db });
    await expectV2Upgrade(store, built);
    const versions = await db.query<{ version: number }>('SELECT version FROM orchestration.oc_migrations ORDER BY 1');
    expect(versions.rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('init - a v3 schema with data is migrated to the current version and stays usable', async () => {
    const db = await freshPglite();
    const built = await buildV3Schema(new PgliteRunner(db), 'orchestration');
    const store = new PostgresStore({ pglite: db });
    await expectV3Upgrade(store, built);
    const versions = await db.query<{ version: number }>('SELECT version FROM orchestration.oc_migrations ORDER BY 1');
    expect(versions.rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('queryAudit - records inserted by hand without max_ts get it from the trigger; ranges stay exact', async () => {
    const db = await freshPglite();
    const store = new PostgresStore({ pglite: db });
    const minutes = [...SKEWED_MINUTES];
    // the first half by commits, the second by hand (as a restore would), then commits again
    for (const minute of minutes.slice(0, 5)) {
      const a = actor();
      eventsOf(
        await store.commit({
          writes: [{ kind: 'actor', entity: a }],
          audit: [draft(a.id, { timestamp: at(minute) })],
          seal,
        }),
      );
    }
    let prev = await store.auditHead();
    for (const minute of minutes.slice(5, 10)) {
      const e = seal(draft('actor_by_hand', { timestamp: at(minute) }), prev);
      await db.query(
        `INSERT INTO orchestration.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $7::jsonb)`,
        [e.seq, e.id, e.eventType, e.entityType, e.entityId, e.timestamp, JSON.stringify(e)],
      );
      prev = { seq: e.seq, hash: e.hash };
    }
    await db.query('UPDATE orchestration.oc_audit_head SET seq = $1, hash = $2 WHERE singleton', [
      prev?.seq,
      prev?.hash,
    ]);
    const other = new PostgresStore({ pglite: db });
    for (const minute of minutes.slice(10)) {
      const a = actor();
      eventsOf(
        await other.commit({
          writes: [{ kind: 'actor', entity: a }],
          audit: [draft(a.id, { timestamp: at(minute) })],
          seal,
        }),
      );
    }
    await expectExactDateRanges(other);
    await expectValidChain(other, SKEWED_MINUTES.length);
  });

  it('oc_commit - index entries not grouped by write are refused, and nothing is written', async () => {
    const db = await freshPglite();
    const store = new PostgresStore({ pglite: db });
    await store.init();
    const [a, b] = [actor(), actor()];
    const params = [...sealBatch([insert(a, b)], null, 'orchestration_oc_changes').params];
    expect(params[6]).toEqual([1, 1, 2, 2]);
    params[6] = [2, 2, 1, 1];
    await expect(new PgliteRunner(db).commitStatement(commitSql('"orchestration"'), params)).rejects.toThrow(
      /grouped by write/,
    );
    expect(
      await store.getMany([
        ['actor', a.id],
        ['actor', b.id],
      ]),
    ).toEqual([undefined, undefined]);
    expect(await store.countAudit()).toBe(0);
  });

  it('getMany - more refs than one prepared lookup holds, with repeats and missing ones', async () => {
    const store = await freshStore();
    const actors = Array.from({ length: 20 }, () => actor());
    eventsOf(await store.commit(insert(...actors)));
    const refs = [...actors, ...actors.slice(0, 3)].map((a) => ['actor', a.id] as const);
    const asked = [...refs, ['actor', 'actor_missing'] as const, ['workflow', (actors[0] as Actor).id] as const];
    expect(await store.getMany(asked)).toEqual([...actors, ...actors.slice(0, 3), undefined, undefined]);
    expect(await store.getMany(refs.slice(0, 16))).toEqual(actors.slice(0, 16));
  });

  it('commit - concurrent commits of one store go out together; a conflict among them fails only its own', async () => {
    const store = await freshStore();
    const a = actor();
    eventsOf(await store.commit(insert(a)));
    const results = await Promise.all([
      store.commit(insert(actor())),
      store.commit(update(a, { name: 'first' })),
      store.commit(update(a, { name: 'second' })),
      store.commit(insert(a)),
      store.commit(insert(actor())),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.conflict.reason))).toEqual(['ok', 'ok', 'version', 'exists', 'ok']);
    expect((await store.get('actor', a.id))?.name).toBe('first');
    await expectValidChain(store, 4);
  });

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

  it('queryAudit - date ranges are exact when timestamps go backwards along seq', async () => {
    const store = openStore(newSchema());
    await commitSkewed(store);
    await expectExactDateRanges(store);
  });

  it('init - a v2 schema with data is migrated on first use, once, by stores starting together', async () => {
    const schema = newSchema();
    const built = await buildV2Schema(new PgRunner(admin, false), schema);
    const starting = Array.from({ length: 4 }, () => openStore(schema));
    await Promise.all(starting.map((s) => s.init()));
    await expectV2Upgrade(starting[0] as PostgresStore, built);
    const versions = await admin.query(`SELECT version FROM "${schema}".oc_migrations ORDER BY 1`);
    expect(versions.rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('init - a v3 schema with data is migrated on first use, once, by stores starting together', async () => {
    const schema = newSchema();
    const built = await buildV3Schema(new PgRunner(admin, false), schema);
    const starting = Array.from({ length: 4 }, () => openStore(schema));
    await Promise.all(starting.map((s) => s.init()));
    await expectV3Upgrade(starting[0] as PostgresStore, built);
    const versions = await admin.query(`SELECT version FROM "${schema}".oc_migrations ORDER BY 1`);
    expect(versions.rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
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
    // Still works, and the LISTEN connection came back. The last round may have killed connections idle in the
    // victim's pool (pg's default: at most 10). One handed out before the pool has read its FATAL message fails
    // once, with a retryable STORE_ERROR that wrote nothing, and is dropped. So retrying just those, as the
    // connector does, must reach a live connection within 11 calls.
    const afterStaleConnections = async <T>(run: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await run();
        } catch (err) {
          const lost = isOrchestrationError(err, 'STORE_ERROR') && err.details.retryable === true;
          if (!lost || attempt > 10) throw err;
        }
      }
    };
    const a = actor();
    eventsOf(await afterStaleConnections(() => victim.commit(insert(a))));
    expect(await afterStaleConnections(() => victim.get('actor', a.id))).toEqual(a);
    await eventually(async () => {
      const b = actor();
      eventsOf(await writer.commit(insert(b)));
      await sleep(100);
      return seen.has(b.id);
    }, 'watch() to reconnect');
    unwatch();
    // The chain is read through the writer: the victim's pool may still hold a stale connection.
    await expectValidChain(writer, await writer.countAudit());
  });
});
