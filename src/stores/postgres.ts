import { OrchestrationError } from '../errors.js';
import type { AuditEvent, AuditHead, StatusCounts } from '../types.js';
import { decodeJson, decodeText, encodeText } from './postgres-codec.js';
import { queryEntities } from './postgres-queries.js';
import {
  isConnectionError,
  type PGliteLike,
  PgliteRunner,
  type PgPoolLike,
  PgRunner,
  quoteIdent,
  type SqlResult,
  type SqlRunner,
  toStoreError,
} from './postgres-runner.js';
import { migrate, SCHEMA_NAME } from './postgres-schema.js';
import { ChangeFeed } from './postgres-watch.js';
import { commitSql, conflictOf, type SealedBatch, sealBatch, staleHeadOf, storedEvents } from './postgres-writes.js';
import type {
  AnyEntity,
  AuditQuery,
  Change,
  CommitResult,
  EntityKind,
  EntityMap,
  EntityQuery,
  EntityRef,
  Store,
  StoreCapabilities,
} from './store.js';

/** Commits waiting for the one in flight are sent together, at most this many in one statement. */
const MAX_BATCH = 32;
/** getMany reads up to this many entities with a prepared statement of one lookup each. */
const MAX_LOOKUPS = 16;
/** Attempts with the cached audit head before a commit locks the head first. */
const OPTIMISTIC_ATTEMPTS = 3;

interface PendingCommit {
  change: Change;
  resolve: (result: CommitResult) => void;
  reject: (error: unknown) => void;
}

/** A batch of several changes could not be applied together; nothing of it was written. */
class BatchFailed extends Error {}

/** Options of {@link PostgresStore}. Give exactly one of `connectionString`, `pool` and `pglite`. */
export interface PostgresStoreOptions {
  /**
   * A PostgreSQL connection string, e.g. `postgres://user:password@localhost:5432/app`. The store
   * creates a `pg` pool (the `pg` package must be installed) and ends it on `close()`.
   */
  connectionString?: string;
  /**
   * A `pg` `Pool` you own. The store borrows connections from it (one is held while `watch()` has
   * listeners) and never ends it. Give it a pool `'error'` listener, as `pg` advises for every pool.
   */
  pool?: PgPoolLike;
  /** A PGlite instance (in-process PostgreSQL, `@electric-sql/pglite`). The store never closes it. */
  pglite?: PGliteLike;
  /**
   * Schema that holds the store's tables; created on first use. A letter or `_`, then letters,
   * digits or `_`, at most 48 characters.
   * @default 'orchestration'
   */
  schema?: string;
  /**
   * Receives failures that happen in the background: the LISTEN connection behind `watch()` was lost
   * (it reconnects by itself) or a watch listener threw.
   * @default emits a process warning
   */
  onError?: (error: Error) => void;
}

/**
 * A durable store on PostgreSQL (through `pg`) or PGlite. Every kind of entity shares one generic
 * table with JSONB data, an index table and a unique-key table; the audit trail is one table whose
 * head row serialises appends, so the hash chain never forks or gaps however many processes commit.
 * Tables are created and migrated in the configured schema on first use.
 *
 * `watch()` reports commits through LISTEN/NOTIFY: with `pg`, those of every process, on one
 * connection held from the pool while anyone watches; with PGlite, those made on that instance.
 */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities;

  private readonly schema: string;
  private readonly s: string;
  private readonly channel: string;
  private readonly source: () => Promise<SqlRunner>;
  private opening: Promise<SqlRunner> | undefined;
  private closed = false;
  private readonly feed: ChangeFeed;
  private readonly commitText: string;
  /** Statements of {@link getMany}, by number of refs. */
  private readonly lookups: string[] = [];
  /** Commits waiting for the batch in flight. */
  private readonly queue: PendingCommit[] = [];
  private draining = false;
  /**
   * The audit head after this store's last commit: the next records are sealed after it, and
   * `oc_commit` checks it under the head lock (another process may have moved it). undefined: unknown.
   */
  private head: AuditHead | null | undefined;

  constructor(options: PostgresStoreOptions) {
    const given = (['connectionString', 'pool', 'pglite'] as const).filter((k) => options?.[k] !== undefined);
    if (given.length !== 1) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        `PostgresStore needs exactly one of connectionString, pool or pglite; got ${given.length === 0 ? 'none' : given.join(' and ')}.`,
        { given },
      );
    }
    const schema = options.schema ?? 'orchestration';
    if (!SCHEMA_NAME.test(schema)) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        `Schema name '${schema}' is not allowed. Use a letter or '_' followed by letters, digits or '_', at most 48 characters.`,
        { schema },
      );
    }
    this.schema = schema;
    this.s = quoteIdent(schema);
    this.channel = `${schema}_oc_changes`;
    this.commitText = commitSql(this.s);
    const onError = options.onError;
    this.feed = new ChangeFeed(
      () => this.db(),
      this.channel,
      (error) => {
        if (onError !== undefined) onError(error);
        else process.emitWarning(error);
      },
    );
    const { connectionString, pool, pglite } = options;
    if (pglite !== undefined) {
      const dir = pglite.dataDir;
      this.capabilities = {
        durable: typeof dir === 'string' && dir !== '' && !dir.startsWith('memory://'),
        shared: false,
        notifications: typeof pglite.listen === 'function',
      };
      this.source = async () => new PgliteRunner(pglite);
    } else {
      this.capabilities = { durable: true, shared: true, notifications: true };
      this.source =
        pool !== undefined
          ? async () => new PgRunner(pool, false)
          : async () => new PgRunner(await createPool(connectionString as string), true);
    }
  }

  /** The runner, opened and migrated once; a failed attempt is retried by the next call. */
  private db(): Promise<SqlRunner> {
    if (this.closed) return Promise.reject(this.closedError());
    this.opening ??= (async () => {
      const runner = await this.source();
      try {
        await migrate(runner, this.schema);
        return runner;
      } catch (err) {
        await runner.close().catch(() => undefined); // the migration error is the one to report
        throw err;
      }
    })().catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private closedError(): OrchestrationError {
    return new OrchestrationError(
      'STORE_ERROR',
      'The PostgreSQL store is closed. Create a new PostgresStore to use the database again.',
      { retryable: false },
    );
  }

  private async run<T>(operation: string, fn: (db: SqlRunner) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.db());
    } catch (err) {
      throw toStoreError(operation, err);
    }
  }

  async init(): Promise<void> {
    await this.run('init', async () => undefined);
  }

  async get<K extends EntityKind>(kind: K, id: string): Promise<EntityMap[K] | undefined> {
    return this.run('get', async (db) => {
      const r = await db.query(
        `SELECT data::text AS data FROM ${this.s}.oc_entities WHERE kind = $1 AND id = $2`,
        [kind, encodeText(id)],
        true,
      );
      const row = r.rows[0];
      return row === undefined ? undefined : decodeJson<EntityMap[K]>(row.data as string);
    });
  }

  async getMany(refs: ReadonlyArray<EntityRef>): Promise<Array<AnyEntity | undefined>> {
    if (refs.length === 0) return [];
    return this.run('getMany', async (db) => {
      let r: SqlResult;
      if (refs.length <= MAX_LOOKUPS) {
        const params: string[] = [];
        for (const [kind, id] of refs) params.push(kind, encodeText(id));
        r = await db.query(this.lookupText(refs.length), params, true);
      } else {
        // Rare: planned per call (not prepared), one lookup per ref all the same (a lateral subquery).
        r = await db.query(
          `SELECT r.i, x.data FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(kind, id, i)
           CROSS JOIN LATERAL (SELECT e.data::text AS data FROM ${this.s}.oc_entities e
             WHERE e.kind = r.kind AND e.id = r.id OFFSET 0) x`,
          [refs.map(([kind]) => kind), refs.map(([, id]) => encodeText(id))],
        );
      }
      const out: Array<AnyEntity | undefined> = new Array(refs.length).fill(undefined);
      for (const row of r.rows) out[Number(row.i) - 1] = decodeJson<AnyEntity>(row.data as string);
      return out;
    });
  }

  /**
   * The prepared statement that reads `n` entities: one primary-key lookup per ref. Its plan does not
   * depend on the parameters, so the server plans it a few times and then reuses one generic plan
   * (a join of an array of refs is planned again on every call, or cached as a hash join over a full
   * scan when it was planned while the table was small).
   */
  private lookupText(n: number): string {
    let text = this.lookups[n];
    if (text === undefined) {
      const parts: string[] = [];
      for (let i = 1; i <= n; i++) {
        parts.push(
          `SELECT ${i} AS i, data::text AS data FROM ${this.s}.oc_entities WHERE kind = $${2 * i - 1} AND id = $${2 * i}`,
        );
      }
      text = parts.join(' UNION ALL ');
      this.lookups[n] = text;
    }
    return text;
  }

  async getByUnique<K extends EntityKind>(kind: K, key: string, value: string): Promise<EntityMap[K] | undefined> {
    return this.run('getByUnique', async (db) => {
      const r = await db.query(
        `SELECT e.data::text AS data FROM ${this.s}.oc_unique u
         JOIN ${this.s}.oc_entities e ON e.kind = u.kind AND e.id = u.id
         WHERE u.kind = $1 AND u.key = $2 AND u.value = $3`,
        [kind, encodeText(key), encodeText(value)],
        true,
      );
      const row = r.rows[0];
      return row === undefined ? undefined : decodeJson<EntityMap[K]>(row.data as string);
    });
  }

  async query<K extends EntityKind>(kind: K, q: EntityQuery): Promise<EntityMap[K][]> {
    return this.run('query', (db) => queryEntities<EntityMap[K]>(db, this.s, kind, q));
  }

  async count(kind: EntityKind): Promise<StatusCounts> {
    return this.run('count', async (db) => {
      const r = await db.query(
        `SELECT data->>'status' AS status, count(*) AS n FROM ${this.s}.oc_entities WHERE kind = $1 GROUP BY 1`,
        [kind],
      );
      const out: StatusCounts = { total: 0, byStatus: {} };
      for (const row of r.rows) {
        const n = Number(row.n);
        out.total += n;
        if (typeof row.status === 'string') out.byStatus[decodeText(row.status)] = n;
      }
      return out;
    });
  }

  /**
   * Commits go through one lane per store: while one statement is in flight, the commits that arrive
   * wait and are then sent together, as one transaction (one round trip, one WAL flush). The records
   * are sealed after the head this store last wrote; `oc_commit` checks it under the head lock, and
   * when another process moved it the commit is sealed again after the head it reports.
   */
  async commit(change: Change): Promise<CommitResult> {
    if (change.writes.length === 0 && change.audit.length === 0) return { ok: true, events: [] };
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push({ change, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.runBatch(this.queue.splice(0, MAX_BATCH));
    } finally {
      this.draining = false;
    }
  }

  /** Applies the batch and settles every commit of it; never throws. */
  private async runBatch(batch: PendingCommit[]): Promise<void> {
    let db: SqlRunner;
    try {
      db = await this.db();
    } catch (err) {
      for (const p of batch) p.reject(toStoreError('commit', err));
      return;
    }
    if (batch.length > 1) {
      try {
        const results = await this.apply(
          db,
          batch.map((p) => p.change),
        );
        batch.forEach((p, i) => {
          p.resolve(results[i] as CommitResult);
        });
        return;
      } catch (err) {
        if (!(err instanceof BatchFailed)) {
          for (const p of batch) p.reject(toStoreError('commit', err));
          return;
        }
        // One of them conflicts or fails: nothing was written; apply them one by one, in order.
      }
    }
    for (const p of batch) {
      try {
        p.resolve((await this.apply(db, [p.change]))[0] as CommitResult);
      } catch (err) {
        p.reject(toStoreError('commit', err));
      }
    }
  }

  /**
   * Applies `changes` in one transaction, in order. A single change that conflicts gives its
   * conflict; several of which one conflicts or fails throw {@link BatchFailed}, and nothing is written.
   */
  private async apply(db: SqlRunner, changes: Change[]): Promise<CommitResult[]> {
    const audited = changes.some((c) => c.audit.length > 0);
    let batch: SealedBatch | undefined;
    for (let attempt = 0; batch === undefined; attempt++) {
      try {
        if (attempt >= OPTIMISTIC_ATTEMPTS) {
          // Other processes keep moving the head: lock it first, then seal after it.
          batch = await db.transaction(async (tx) => {
            const head = await this.readHead(tx, true);
            const sealed = sealBatch(changes, head, this.channel);
            await tx.query(this.commitText, sealed.params);
            return sealed;
          });
        } else {
          if (audited && this.head === undefined) this.head = await this.readHead(db, false);
          const sealed = sealBatch(changes, audited ? (this.head ?? null) : null, this.channel);
          await db.commitStatement(this.commitText, sealed.params);
          batch = sealed;
        }
      } catch (err) {
        const moved = staleHeadOf(err);
        if (moved !== undefined) {
          this.head = moved;
          continue;
        }
        const found = conflictOf(err, changes);
        if (found !== undefined && changes.length === 1) return [{ ok: false, conflict: found.conflict }];
        const answered = typeof (err as { severity?: unknown } | null)?.severity === 'string';
        if (!answered || isConnectionError(err)) this.head = undefined;
        if (changes.length > 1 && (found !== undefined || (answered && !isConnectionError(err)))) {
          throw new BatchFailed();
        }
        throw err;
      }
    }
    if (audited) this.head = batch.last;
    const sealed = batch.events;
    return changes.map((change, i) => ({ ok: true, events: storedEvents(change, sealed[i] ?? []) }));
  }

  private async readHead(db: Pick<SqlRunner, 'query'>, lock: boolean): Promise<AuditHead | null> {
    const r = await db.query(
      `SELECT seq, hash FROM ${this.s}.oc_audit_head WHERE singleton${lock ? ' FOR UPDATE' : ''}`,
      [],
      true,
    );
    const row = r.rows[0];
    if (row === undefined) throw new Error(`the audit head row of ${this.s} is missing`);
    return Number(row.seq) === 0 ? null : { seq: Number(row.seq), hash: String(row.hash) };
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    return this.run('queryAudit', async (db) => {
      const params: unknown[] = [];
      const where: string[] = [];
      const add = (cond: (param: string) => string, value: unknown) => {
        params.push(value);
        where.push(cond(`$${params.length}`));
      };
      if (q.eventType !== undefined) add((p) => `event_type = ${p}`, encodeText(q.eventType));
      if (q.entityType !== undefined) add((p) => `entity_type = ${p}`, encodeText(q.entityType));
      if (q.entityId !== undefined) add((p) => `entity_id = ${p}`, encodeText(q.entityId));
      if (q.actorId !== undefined) add((p) => `actor_id = ${p}`, encodeText(q.actorId));
      if (q.from !== undefined) {
        // Timestamps need not grow with seq (clocks of several writers), but max_ts, the greatest
        // timestamp up to each record, does: no record before the first whose max_ts >= from has a
        // timestamp >= from. That seq bounds the scan from below, found in the (max_ts, seq) index.
        add(
          (p) =>
            `"timestamp" >= ${p} AND seq >= coalesce((SELECT m.seq FROM ${this.s}.oc_audit m WHERE m.max_ts >= ${p}
              ORDER BY m.max_ts, m.seq LIMIT 1), ${Number.MAX_SAFE_INTEGER})`,
          encodeText(q.from),
        );
      }
      if (q.to !== undefined) add((p) => `"timestamp" <= ${p}`, encodeText(q.to));
      // An unknown `after` id gives NULL, which matches nothing: the same empty page as MemoryStore.
      if (q.after !== undefined)
        add((p) => `seq > (SELECT a.seq FROM ${this.s}.oc_audit a WHERE a.id = ${p})`, encodeText(q.after));
      params.push(q.limit);
      // The page's seqs first, from the indexes alone where they can; then only its rows are read.
      const r = await db.query(
        `SELECT a.data::text AS data FROM (
           SELECT seq FROM ${this.s}.oc_audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY seq LIMIT $${params.length}) p
         JOIN ${this.s}.oc_audit a ON a.seq = p.seq ORDER BY a.seq`,
        params,
      );
      return r.rows.map((row) => decodeJson<AuditEvent>(row.data as string));
    });
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditEvent[]> {
    return this.run('readAudit', async (db) => {
      const r = await db.query(
        `SELECT data::text AS data FROM ${this.s}.oc_audit WHERE seq >= $1 ORDER BY seq LIMIT $2`,
        [fromSeq, limit],
        true,
      );
      return r.rows.map((row) => decodeJson<AuditEvent>(row.data as string));
    });
  }

  async auditHead(): Promise<AuditHead | null> {
    return this.run('auditHead', async (db) => {
      const r = await db.query(
        `SELECT seq, data->>'hash' AS hash, data->>'signature' AS signature FROM ${this.s}.oc_audit ORDER BY seq DESC LIMIT 1`,
      );
      const row = r.rows[0];
      if (row === undefined) return null;
      const head: AuditHead = { seq: Number(row.seq), hash: String(row.hash) };
      if (typeof row.signature === 'string') head.signature = row.signature;
      return head;
    });
  }

  async countAudit(eventType?: string): Promise<number> {
    return this.run('countAudit', async (db) => {
      // seq is gapless from 1, so the head's seq is the number of records.
      const r =
        eventType === undefined
          ? await db.query(`SELECT seq AS n FROM ${this.s}.oc_audit_head WHERE singleton`)
          : await db.query(`SELECT count(*) AS n FROM ${this.s}.oc_audit WHERE event_type = $1`, [
              encodeText(eventType),
            ]);
      return Number(r.rows[0]?.n ?? 0);
    });
  }

  async clear(change: Change): Promise<AuditEvent[]> {
    return this.run('clear', async (db) => {
      const s = this.s;
      const batch = await db.transaction(async (tx) => {
        // Waits for commits in flight and blocks new ones (readers go on); the order matches the
        // order in which a commit first touches these tables, so the two cannot deadlock.
        await tx.query(
          `LOCK TABLE ${s}.oc_entities, ${s}.oc_index, ${s}.oc_unique, ${s}.oc_audit_head, ${s}.oc_audit IN EXCLUSIVE MODE`,
        );
        for (const table of ['oc_entities', 'oc_index', 'oc_unique', 'oc_audit'])
          await tx.query(`DELETE FROM ${s}.${table}`);
        await tx.query(`UPDATE ${s}.oc_audit_head SET seq = 0, hash = NULL WHERE singleton`);
        const sealed = sealBatch([change], null, this.channel);
        try {
          await tx.query(this.commitText, sealed.params);
        } catch (err) {
          const found = conflictOf(err, [change]);
          if (found === undefined) throw err;
          const { conflict } = found;
          throw new OrchestrationError(
            'STORE_ERROR',
            `clear() was given writes that conflict with each other (${conflict.reason} on ${conflict.kind} '${conflict.id}'); nothing was cleared.`,
            { retryable: false, conflict },
          );
        }
        return sealed;
      });
      this.head = batch.last;
      return storedEvents({ ...change, quiet: false }, batch.events[0] ?? []);
    });
  }

  /**
   * Calls `listener` with the kind and id of each entity that a commit (of this or another process)
   * wrote. Subscribing is immediate; the LISTEN connection is opened in the background and reopened
   * when lost, so changes committed while it is down are not reported: keep polling as a fallback.
   * Returns the function that unsubscribes.
   */
  watch(listener: (kind: EntityKind, id: string) => void): () => void {
    if (!this.capabilities.notifications) {
      throw new OrchestrationError(
        'INVALID_STATE',
        'This PostgresStore cannot watch: its PGlite instance has no listen().',
      );
    }
    if (this.closed) throw this.closedError();
    return this.feed.add(listener);
  }

  /** Stops watching and ends the pool when the store created it. A given pool or PGlite stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed.close();
    const opening = this.opening;
    this.opening = undefined;
    const runner = await opening?.catch(() => undefined);
    try {
      await runner?.close();
    } catch (err) {
      throw toStoreError('close', err);
    }
  }
}

async function createPool(connectionString: string): Promise<PgPoolLike> {
  let pg: typeof import('pg');
  try {
    pg = await import('pg');
  } catch (err) {
    throw new OrchestrationError(
      'STORE_ERROR',
      "PostgresStore with a connectionString needs the 'pg' package. Install it: npm install pg",
      { retryable: false },
      { cause: err },
    );
  }
  const { Pool } = (pg as typeof pg & { default?: typeof pg }).default ?? pg;
  // Waiting for a free connection is bounded, so an exhausted pool gives a retryable STORE_ERROR.
  const pool = new Pool({ connectionString, keepAlive: true, connectionTimeoutMillis: 30_000 });
  // An idle client whose connection dies is dropped by the pool and replaced on demand; without a
  // listener the 'error' event would crash the process.
  pool.on('error', () => undefined);
  return pool;
}
