import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { OrchestrationError } from '../errors.js';
import type { AuditEvent, AuditHead, StatusCounts } from '../types.js';
import { indexEntries, uniqueKeys } from './indexing.js';
import { cacheKey, ReadCache } from './sqlite-cache.js';
import {
  AUDIT_INDEX_BATCH,
  AUDIT_KEY,
  AUDIT_UPTO,
  type CurrentRow,
  type DataRow,
  ENTITIES_UPTO,
  ENTITY_INDEX_BATCH,
  migrate,
  prepareStatements,
  type Statements,
} from './sqlite-schema.js';
import {
  type AnyEntity,
  type AuditQuery,
  type Change,
  type CommitConflict,
  type CommitResult,
  createdAtOf,
  type EntityKind,
  type EntityMap,
  type EntityQuery,
  type EntityRef,
  type Store,
  type StoreCapabilities,
  type Write,
} from './store.js';

/** Options of {@link SqliteStore}. Give `filename` or `database`. */
export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or `':memory:'`. Required unless `database` is given. */
  filename?: string;
  /**
   * SQLite `synchronous` setting. `'FULL'` makes every commit survive a power loss; `'NORMAL'` is
   * faster and, in WAL mode, may lose the last commits on power loss (never on a process crash).
   * @default 'FULL'
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * How long a write waits for another connection's write lock before it fails with a retryable
   * `STORE_ERROR`.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * An open better-sqlite3 database the caller owns. The store sets WAL mode, `synchronous` and
   * `busy_timeout` on it (and, with background checkpoints, `wal_autocheckpoint`, restored by `close()`)
   * and creates its `oc_*` tables; `close()` leaves it open.
   */
  database?: Database.Database;
  /**
   * Where WAL checkpoints run: copying committed pages from the WAL into the database file, with an
   * fsync of each (with `'NORMAL'` too). `'inline'`: SQLite's default, the commit that takes the WAL
   * past 1,000 pages (~4 MB) does it before it returns, milliseconds every few dozen commits.
   * `'background'`: a worker thread with a connection of its own does them (started when the first
   * is due, stopped by `close()`); commits do not wait, and the WAL grows to ~2,000 pages (~8 MB)
   * before it starts over (at most 4,000 pages, where the store's connection checkpoints itself
   * should the worker fall behind). Falls back to `'inline'` where a worker cannot run (or cannot find
   * the better-sqlite3 this module loaded, nor one from the application's entry script or working
   * directory). Nothing changes for `:memory:`. With `'NORMAL'`, checkpoints are most of what commits
   * wait for, and `'background'` spares it; with `'FULL'`, every commit waits for an fsync of its own,
   * the worker's fsyncs share the disk with them, and `'background'` gains nothing measurable.
   * @default 'background' with synchronous 'NORMAL', 'inline' with 'FULL'
   */
  checkpoint?: 'background' | 'inline';
  /**
   * How many audit records may wait before their filter keys are written (see `AUDIT_INDEX_BATCH`).
   * A tuning knob for tests; the default suits every workload.
   * @internal
   */
  auditIndexBatch?: number;
  /**
   * How many entities may wait before their index rows are written (see `ENTITY_INDEX_BATCH`).
   * A tuning knob for tests; the default suits every workload.
   * @internal
   */
  entityIndexBatch?: number;
}

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/** The audit filters, as conditions on an `oc_audit` row, in the order the driving key is chosen. */
const AUDIT_FILTERS = [
  ['entityId', 'entity_id = @entityId'],
  ['eventType', 'event_type = @eventType'],
  ['actorId', 'actor_id = @actorId'],
  ['entityType', 'entity_type = @entityType'],
  ['from', 'timestamp >= @from'],
  ['to', 'timestamp <= @to'],
] as const;
type AuditFilter = (typeof AUDIT_FILTERS)[number][0];

/** The seq of the record `@after` names, from its key row or from the unindexed tail; NULL when unknown. */
const AFTER_SEQ = `coalesce(
  (SELECT seq FROM oc_audit_keys WHERE key = '${AUDIT_KEY.id}' || @after ORDER BY seq LIMIT 1),
  (SELECT seq FROM oc_audit WHERE seq > ${AUDIT_UPTO} AND id = @after ORDER BY seq LIMIT 1))`;

/**
 * A {@link Store} in one SQLite database file (better-sqlite3), shared safely by several
 * connections and processes: WAL mode, every write in a `BEGIN IMMEDIATE` transaction, so
 * conditional updates and the audit chain never fork. Tables and migrations are created on
 * `init()` (or on first use).
 *
 * @example
 * ```ts
 * import { SqliteStore } from 'orchestration-connector/sqlite';
 * const connector = new OrchestrationConnector({ store: new SqliteStore({ filename: './approvals.db' }) });
 * ```
 */
export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities;

  private readonly db: Database.Database;
  private readonly owned: boolean;
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly busyTimeoutMs: number;
  private stmts: Statements | undefined;
  /** What this connection last read and wrote (see ReadCache); only with a connection the store opened. */
  private cache: ReadCache | undefined;
  private readonly filterQueries = new Map<number, Stmt<[Record<string, string | number>], string>>();
  private readonly entityIndexBatch: number;
  private readonly manyQueries = new Map<number, Stmt<string[], DataRow & { i: number }>>();
  private readonly auditQueries = new Map<string, AuditStatements>();
  private readonly auditIndexBatch: number;
  private readonly background: boolean;
  /** Background checkpoints, once started; `false` when they cannot run (checkpoints stay inline). */
  private checkpointer: Checkpointer | false | undefined;
  private commitsBeforeCheckpoints = 0;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    const {
      filename,
      database,
      synchronous = 'FULL',
      busyTimeoutMs = 5000,
      auditIndexBatch = AUDIT_INDEX_BATCH,
      entityIndexBatch = ENTITY_INDEX_BATCH,
      checkpoint = synchronous === 'NORMAL' ? 'background' : 'inline',
    } = options ?? {};
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
      throw new OrchestrationError('INVALID_INPUT', `SqliteStore: synchronous must be 'FULL' or 'NORMAL'.`, {
        synchronous,
      });
    }
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 0x7fffffff) {
      throw new OrchestrationError('INVALID_INPUT', 'SqliteStore: busyTimeoutMs must be a non-negative integer.', {
        busyTimeoutMs,
      });
    }
    if (database === undefined && (typeof filename !== 'string' || filename.trim() === '')) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        "SqliteStore needs a database: pass { filename: './data.db' } (or ':memory:') or { database }.",
        { filename },
      );
    }
    if (!Number.isInteger(auditIndexBatch) || auditIndexBatch < 1) {
      throw new OrchestrationError('INVALID_INPUT', 'SqliteStore: auditIndexBatch must be a positive integer.', {
        auditIndexBatch,
      });
    }
    if (!Number.isInteger(entityIndexBatch) || entityIndexBatch < 1) {
      throw new OrchestrationError('INVALID_INPUT', 'SqliteStore: entityIndexBatch must be a positive integer.', {
        entityIndexBatch,
      });
    }
    if (checkpoint !== 'background' && checkpoint !== 'inline') {
      throw new OrchestrationError('INVALID_INPUT', `SqliteStore: checkpoint must be 'background' or 'inline'.`, {
        checkpoint,
      });
    }
    this.entityIndexBatch = entityIndexBatch;
    this.background = checkpoint === 'background';
    this.synchronous = synchronous;
    this.busyTimeoutMs = busyTimeoutMs;
    this.auditIndexBatch = auditIndexBatch;
    this.owned = database === undefined;
    this.db = this.guard('open', () => database ?? new Database(filename as string, { timeout: busyTimeoutMs }));
    this.guard('open', () => this.db.pragma(`busy_timeout = ${busyTimeoutMs}`));
    this.capabilities = { durable: !this.db.memory, shared: true, notifications: false };
  }

  /** Sets WAL mode and applies pending migrations. Idempotent; safe when several processes start together. */
  async init(): Promise<void> {
    this.guard('init', () => this.ready());
  }

  async get<K extends EntityKind>(kind: K, id: string): Promise<EntityMap[K] | undefined> {
    return this.guard('get', () => this.readMany([[kind, id]])[0] as EntityMap[K] | undefined);
  }

  async getMany(refs: ReadonlyArray<EntityRef>): Promise<Array<AnyEntity | undefined>> {
    return this.guard('getMany', () => this.readMany(refs));
  }

  /**
   * The entities `refs` name, from the cache when it knows them all (and nothing else wrote since),
   * else in one statement (one snapshot), remembered.
   */
  private readMany(refs: ReadonlyArray<EntityRef>): Array<AnyEntity | undefined> {
    const s = this.ready();
    const out: Array<AnyEntity | undefined> = new Array(refs.length).fill(undefined);
    if (refs.length === 0) return out;
    const cache = this.cache;
    if (cache !== undefined) {
      cache.sync();
      let all = true;
      for (let i = 0; i < refs.length && all; i++) {
        const [kind, id] = refs[i] as EntityRef;
        const data = cache.data(cacheKey(kind, id));
        if (data === undefined) all = false;
        else if (data !== null) out[i] = JSON.parse(data) as AnyEntity;
      }
      if (all) return out;
      out.fill(undefined);
    }
    const found: Array<string | null> = new Array(refs.length).fill(null);
    if (refs.length === 1) {
      const [kind, id] = refs[0] as EntityRef;
      found[0] = s.get.get(kind, id)?.data ?? null;
    } else {
      for (const row of this.manyQuery(refs.length).all(...refs.flat())) found[row.i] = row.data;
    }
    for (let i = 0; i < refs.length; i++) {
      const data = found[i] as string | null;
      if (data !== null) out[i] = JSON.parse(data) as AnyEntity;
      if (cache !== undefined) {
        const [kind, id] = refs[i] as EntityRef;
        cache.rememberData(cacheKey(kind, id), data);
      }
    }
    return out;
  }

  /** `n` lookups by (kind, id) in one statement (one snapshot), each row tagged with its position. */
  private manyQuery(n: number): Stmt<string[], DataRow & { i: number }> {
    let stmt = this.manyQueries.get(n);
    if (stmt === undefined) {
      stmt = this.db.prepare<string[], DataRow & { i: number }>(
        Array.from({ length: n }, (_, i) => `SELECT ${i} AS i, data FROM oc_entities WHERE kind = ? AND id = ?`).join(
          ' UNION ALL ',
        ),
      );
      this.manyQueries.set(n, stmt);
    }
    return stmt;
  }

  async getByUnique<K extends EntityKind>(kind: K, key: string, value: string): Promise<EntityMap[K] | undefined> {
    return this.guard('getByUnique', () => parse(this.ready().byUnique.get(kind, key, value)));
  }

  async query<K extends EntityKind>(kind: K, q: EntityQuery): Promise<EntityMap[K][]> {
    return this.guard('query', () => {
      const s = this.ready();
      const limit = Math.max(0, Math.floor(q.limit));
      // Keyset paging on (created_at, id): the cursor is the position of the entity `after` names.
      let cursor: [createdAt: string, id: string] | [] = [];
      if (q.after !== undefined) {
        const row = s.createdAt.get(kind, q.after);
        if (row === undefined) return [];
        cursor = [row.created_at, q.after];
      }
      // Without filters, the rows of the field '' that every entity has.
      const filters = q.filters.length === 0 ? [ALL] : q.filters;
      const params: Record<string, string | number> = { kind, limit };
      filters.forEach(([field, value], j) => {
        params[`f${j}`] = field;
        params[`v${j}`] = value;
        params[`k${j}`] = `${field}\u0000${value}`;
      });
      if (cursor.length === 2) {
        params.at = cursor[0];
        params.after = cursor[1];
      }
      const rows = this.filterQuery(q.filters.length, cursor.length > 0).all(params);
      return rows.map((data) => JSON.parse(data) as EntityMap[K]);
    });
  }

  /**
   * A page of the entities matching `n` filters, in (created_at, id) order, in one statement (one
   * snapshot), merging ordered parts: entities with up-to-date index rows, driven by the first filter's
   * rows (the others must exist too); and the entities whose index rows wait, new (a range of row ids)
   * or marked in `oc_dirty` (fewer than twice ENTITY_INDEX_BATCH), matched on their own keys and
   * sorted. With no filters (`n` 0), the rows of the field '' (see ALL) drive, and every waiting
   * entity of the kind matches.
   * Parameters: `kind`, `limit`, `f0`/`v0`... the filters, `k0`... the same as keys (`field\0value`),
   * `at`/`after` the cursor.
   */
  private filterQuery(n: number, after: boolean): Stmt<[Record<string, string | number>], string> {
    const key = 2 * n + (after ? 1 : 0);
    let stmt = this.filterQueries.get(key);
    if (stmt === undefined) {
      const others = Array.from(
        { length: Math.max(0, n - 1) },
        (_, j) =>
          ` AND EXISTS (SELECT 1 FROM oc_index x WHERE x.kind = i.kind AND x.field = @f${j + 1} AND x.value = @v${j + 1}` +
          ' AND x.created_at = i.created_at AND x.id = i.id)',
      ).join('');
      const keys = Array.from(
        { length: n },
        (_, j) => ` AND EXISTS (SELECT 1 FROM json_each(e.keys) WHERE value = @k${j})`,
      ).join('');
      const cursor = after ? ' AND (e.created_at, e.id) > (@at, @after)' : '';
      stmt = this.db
        .prepare<[Record<string, string | number>], string>(
          `SELECT e.data, i.created_at, i.id FROM oc_index i JOIN oc_entities e ON e.rid = i.rid
         WHERE i.kind = @kind AND i.field = @f0 AND i.value = @v0${after ? ' AND (i.created_at, i.id) > (@at, @after)' : ''}${others}
           AND (NOT EXISTS (SELECT 1 FROM oc_dirty) OR NOT EXISTS (SELECT 1 FROM oc_dirty d WHERE d.kind = i.kind AND d.id = i.id))
         UNION ALL
         SELECT e.data, e.created_at, e.id FROM oc_entities e
         WHERE e.rid > ${ENTITIES_UPTO} AND +e.kind = @kind${cursor}${keys}
         UNION ALL
         SELECT e.data, e.created_at, e.id FROM oc_dirty d CROSS JOIN oc_entities e ON e.kind = d.kind AND e.id = d.id
         WHERE d.kind = @kind${cursor}${keys}
         ORDER BY 2, 3 LIMIT @limit`,
        )
        .pluck();
      this.filterQueries.set(key, stmt);
    }
    return stmt;
  }

  async count(kind: EntityKind): Promise<StatusCounts> {
    return this.guard('count', () => {
      // The status index rows count by status, corrected by the entities whose index rows wait (what
      // those rows hold out, their own keys in); the entity table counts the kind.
      const out: StatusCounts = { total: 0, byStatus: {} };
      const counts = new Map<string, number>();
      const add = (keys: string | null, by: number) => {
        if (keys === null) return;
        for (const k of JSON.parse(keys) as string[]) {
          if (k.startsWith(STATUS_KEY)) {
            const status = k.slice(STATUS_KEY.length);
            counts.set(status, (counts.get(status) ?? 0) + by);
          }
        }
      };
      for (const row of this.ready().countStatus.all({ kind })) {
        if (row.part === 0) out.total = row.n;
        else if (row.part === 1) counts.set(row.status, (counts.get(row.status) ?? 0) + row.n);
        else {
          add(row.was, -1);
          add(row.now, 1);
        }
      }
      for (const [status, n] of counts) if (n > 0) out.byStatus[status] = n;
      return out;
    });
  }

  async commit(change: Change): Promise<CommitResult> {
    const result = this.guard('commit', () =>
      this.immediate((s): [CommitResult, boolean] => {
        const { writes } = change;
        const batch = this.entityIndexBatch;
        let due: boolean;
        const cache = this.cache;
        if (writes.length === 1 && (writes[0] as Write).expectedVersion === undefined) {
          const inserted = insertOne(s, writes[0] as Write, batch, cache);
          if (typeof inserted !== 'boolean') return [{ ok: false, conflict: inserted }, false];
          due = inserted;
        } else {
          const current: Array<CurrentRow | undefined> = [];
          const conflict = findConflict(s, writes, current, cache);
          if (conflict !== undefined) return [{ ok: false, conflict }, false];
          due = putAll(s, writes, current, batch, cache);
        }
        if (due) indexPending(s, cache);
        return [{ ok: true, events: appendAudit(s, change, this.auditIndexBatch, cache) }, true];
      }),
    );
    if (this.background && this.checkpointer !== false) this.afterCommit();
    return result;
  }

  /**
   * Background checkpoints after a commit (see `Checkpointer`), started when the first is due (a store
   * that commits little never starts a thread). Never throws: the commit is done; should they fail,
   * SQLite's own checkpoints take over.
   */
  private afterCommit(): void {
    try {
      if (this.checkpointer === undefined) {
        if (++this.commitsBeforeCheckpoints < CHECKPOINT_EVERY) return;
        this.checkpointer = Checkpointer.start(this.db, this.synchronous);
      }
      if (this.checkpointer && !this.checkpointer.afterCommit()) this.checkpointer = false;
    } catch {
      const running = this.checkpointer;
      this.checkpointer = false;
      if (running) void running.stop();
      try {
        this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
      } catch {
        // The next commit reports what is wrong with the connection.
      }
    }
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    return this.guard('queryAudit', () => {
      this.ready();
      const used = AUDIT_FILTERS.filter(([field]) => q[field] !== undefined).map(([field]) => field);
      const after = q.after !== undefined;
      const shape = `${used.join(',')}${after ? ',after' : ''}`;
      let stmts = this.auditQueries.get(shape);
      if (stmts === undefined) {
        stmts = auditStatements(this.db, used, after);
        this.auditQueries.set(shape, stmts);
      }
      const params: Record<string, unknown> = { limit: Math.max(0, Math.floor(q.limit)) };
      for (const field of used) params[field] = q[field];
      const { position, indexed, tail } = stmts;
      if (position === undefined || indexed === undefined) {
        if (after) params.after = q.after;
        return tail.all(params).map((r) => JSON.parse(r.data) as AuditEvent);
      }
      // One read transaction: the key rows up to `upto`, then the unindexed tail after it.
      const rows = this.db.transaction(() => {
        const at = position.get(after ? { after: q.after } : {}) as { upto: number; afterSeq: number | null };
        if (after && at.afterSeq === null) return [];
        params.upto = at.upto;
        if (after) params.afterSeq = at.afterSeq;
        const found = indexed.all(params);
        if (found.length >= (params.limit as number)) return found;
        params.limit = (params.limit as number) - found.length;
        return found.concat(tail.all(params));
      })();
      return rows.map((r) => JSON.parse(r.data) as AuditEvent);
    });
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditEvent[]> {
    return this.guard('readAudit', () =>
      this.ready()
        .readAudit.all(fromSeq, Math.max(0, Math.floor(limit)))
        .map((r) => JSON.parse(r.data) as AuditEvent),
    );
  }

  async auditHead(): Promise<AuditHead | null> {
    return this.guard('auditHead', () => readHead(this.ready(), true));
  }

  async countAudit(eventType?: string): Promise<number> {
    return this.guard('countAudit', () => {
      const s = this.ready();
      return ((eventType === undefined ? s.countAudit.get() : s.countAuditType.get({ eventType })) as { n: number }).n;
    });
  }

  async clear(change: Change): Promise<AuditEvent[]> {
    return this.guard('clear', () =>
      this.immediate((s): [AuditEvent[], boolean] => {
        for (const del of s.clear) del.run();
        // Everything goes: nothing remembered of before may serve again.
        this.cache?.clear();
        let due = false;
        for (const w of change.writes) if (put(s, w, undefined, this.entityIndexBatch, this.cache)) due = true;
        if (due) indexPending(s, this.cache);
        return [appendAudit(s, change, this.auditIndexBatch, this.cache), true];
      }),
    );
  }

  /**
   * Closes the database when the store opened it; a caller-owned `database` stays open (with SQLite's
   * default checkpoints again). Waits for a running background checkpoint to finish.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const checkpointer = this.checkpointer;
    this.checkpointer = false;
    if (checkpointer) await checkpointer.stop();
    this.guard('close', () => {
      if (this.owned) this.db.close();
      else if (checkpointer) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
    });
    this.closed = true;
  }

  private ready(): Statements {
    if (this.stmts === undefined) {
      // WAL lets readers run while one writer commits; it cannot change inside a transaction.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${this.synchronous}`);
      migrate(this.db);
      this.stmts = prepareStatements(this.db);
      if (this.owned) {
        this.cache = new ReadCache(this.db.prepare<[], number>('PRAGMA data_version').pluck());
      }
    }
    return this.stmts;
  }

  /** Runs `fn` in `BEGIN IMMEDIATE` (the write lock is taken up front) and commits or rolls back as it says. */
  private immediate<T>(fn: (s: Statements) => [result: T, commit: boolean]): T {
    const s = this.ready();
    s.begin.run();
    const cache = this.cache;
    try {
      // The write lock is held: what the cache knows now stays true until COMMIT.
      cache?.sync();
      const [result, commit] = fn(s);
      (commit ? s.commit : s.rollback).run();
      if (commit) cache?.committed();
      else cache?.abandon();
      return result;
    } catch (err) {
      cache?.clear();
      try {
        if (this.db.inTransaction) s.rollback.run();
      } catch {
        // The original failure says more; SQLite rolls back on its own when the connection closes.
      }
      throw err;
    }
  }

  /** Runs `fn`, turning every driver failure into a `STORE_ERROR`. */
  private guard<T>(operation: string, fn: () => T): T {
    if (this.closed) {
      throw new OrchestrationError('STORE_ERROR', 'This SqliteStore is closed. Create a new store to continue.', {
        operation,
        retryable: false,
      });
    }
    try {
      return fn();
    } catch (err) {
      throw this.storeError(operation, err);
    }
  }

  private storeError(operation: string, err: unknown): OrchestrationError {
    if (err instanceof OrchestrationError) return err;
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
    const cause = err instanceof Error ? err.message : String(err);
    const name = this.db?.name ?? 'database';
    if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) {
      return new OrchestrationError(
        'STORE_ERROR',
        `SQLite database '${name}' is locked by another connection (${operation} waited ${this.busyTimeoutMs} ms). ` +
          'Nothing was written: retry the call, or raise busyTimeoutMs if writers often hold the lock this long.',
        { operation, retryable: true, sqliteCode: code },
        { cause: err },
      );
    }
    return new OrchestrationError(
      'STORE_ERROR',
      `SQLite ${operation} failed on '${name}': ${cause}. Nothing of this call was written; ` +
        'check that the file is a writable SQLite database.',
      { operation, retryable: false, ...(code === undefined ? {} : { sqliteCode: code }) },
      { cause: err },
    );
  }
}

/** SQLite's default `wal_autocheckpoint`: the commit that takes the WAL to this many pages checkpoints. */
const SQLITE_AUTOCHECKPOINT = 1000;

/**
 * The checkpoint worker (CommonJS, run with `eval`): its own connection to the file, with the store's
 * `synchronous` (so that a checkpoint syncs as the store's would). It sleeps on the shared state until
 * asked, runs one PASSIVE checkpoint (it never waits for, nor blocks, a reader or a writer), and
 * reports the WAL's size. Slots of the state: see `Checkpointer`.
 */
const CHECKPOINT_WORKER = `
const { workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.state);
let db;
try {
  db = new (require(workerData.driver))(workerData.filename, { fileMustExist: true, timeout: 0 });
  db.pragma('synchronous = ' + workerData.synchronous);
  for (let seen = 0; ; ) {
    Atomics.wait(state, 0, seen);
    if (Atomics.load(state, 3) !== 0) break;
    seen = Atomics.load(state, 0);
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    Atomics.store(state, 2, r.log);
    Atomics.store(state, 1, seen);
  }
} catch {
  Atomics.store(state, 4, 1);
}
if (db !== undefined && db.open) db.close();
`;

/**
 * Where the worker finds better-sqlite3: the copy this module loaded (resolved from this module's own
 * file, which the CommonJS build names through tsup's `import.meta.url` shim), else as the application
 * does, from its entry script or its working directory (a bundler may have moved this module's code
 * away from its dependencies). Undefined when none finds it: checkpoints then stay inline.
 */
function driverPath(): string | undefined {
  for (const base of [import.meta.url, process.argv[1], join(process.cwd(), 'index.js')]) {
    if (base === undefined || base === '') continue;
    try {
      return createRequire(base.startsWith('file:') ? base : resolve(base)).resolve('better-sqlite3');
    } catch {
      // The next place.
    }
  }
  return undefined;
}

/**
 * WAL checkpoints off the commit path, in a worker thread. A checkpoint copies committed pages from
 * the WAL into the database file and syncs both: with SQLite's default, the commit that takes the WAL
 * past 1,000 pages does it before returning (milliseconds, most of a commit's average cost). Here the
 * store asks the worker for one every CHECKPOINT_EVERY commits, through shared memory (a commit never
 * waits for the worker, and the worker needs no event loop turn of the store's thread).
 *
 * A WAL restarts from its start only when a writer finds every page of it copied, which, with commits
 * arriving while the worker copies, rarely happens on its own. So once the worker reports a WAL past
 * WAL_RESTART_FRAMES, the store's connection checkpoints the few pages committed since, itself, at its
 * next commit (the worker is idle then), and the next write restarts the WAL. The store's own
 * autocheckpoint stays as a backstop at WAL_BACKSTOP_FRAMES, should the worker fall behind or fail.
 */
class Checkpointer {
  /** Commits since the last checkpoint asked; the first is asked at once. */
  private commits = CHECKPOINT_EVERY;
  private readonly exited: Promise<void>;

  /**
   * @param state Shared with the worker: [0] checkpoints asked, [1] checkpoints done (the worker is idle
   *   when they are equal), [2] WAL pages found by the last one, [3] stop, [4] the worker failed.
   */
  private constructor(
    private readonly db: Database.Database,
    private readonly worker: Worker,
    private readonly state: Int32Array,
  ) {
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  }

  /** Starts the worker; false when background checkpoints cannot run for this database. */
  static start(db: Database.Database, synchronous: string): Checkpointer | false {
    if (db.memory || db.name === '' || db.pragma('journal_mode', { simple: true }) !== 'wal') return false;
    const driver = driverPath();
    if (driver === undefined) return false;
    const state = new Int32Array(new SharedArrayBuffer(5 * 4));
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINT_WORKER, {
        eval: true,
        workerData: { driver, filename: resolve(db.name), synchronous, state: state.buffer },
      });
    } catch {
      return false;
    }
    // A store nobody closes must not keep the process alive; a checkpoint cut short is safe.
    worker.unref();
    // A worker that fails or ends on its own: checkpoints go back inline (see afterCommit).
    worker.on('error', () => Atomics.store(state, 4, 1));
    worker.on('exit', () => Atomics.store(state, 4, 1));
    db.pragma(`wal_autocheckpoint = ${WAL_BACKSTOP_FRAMES}`);
    return new Checkpointer(db, worker, state);
  }

  /**
   * After each commit of the store: restarts the WAL or asks for a checkpoint when due. False when the
   * worker failed: SQLite's own checkpoints are back, and the store drops this checkpointer.
   */
  afterCommit(): boolean {
    const s = this.state;
    if (Atomics.load(s, 4) !== 0) {
      this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
      return false;
    }
    this.commits++;
    if (Atomics.load(s, 1) !== Atomics.load(s, 0)) return true; // it is checkpointing
    if (Atomics.load(s, 2) >= WAL_RESTART_FRAMES) {
      Atomics.store(s, 2, 0);
      // PASSIVE: never waits. Should another connection checkpoint now, the WAL restarts after it, or at
      // the next report.
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } else if (this.commits >= CHECKPOINT_EVERY) {
      this.commits = 0;
      Atomics.add(s, 0, 1);
      Atomics.notify(s, 0);
    }
    return true;
  }

  /** Stops the worker, after the checkpoint it runs, if any. */
  async stop(): Promise<void> {
    this.worker.ref(); // the wait must keep the process alive
    Atomics.store(this.state, 3, 1);
    Atomics.add(this.state, 0, 1);
    Atomics.notify(this.state, 0);
    await this.exited;
  }
}

/** With background checkpoints, the commits between two checkpoints asked of the worker (~4 pages each). */
const CHECKPOINT_EVERY = 64;

/** With background checkpoints, the WAL size (pages) from which the store's connection restarts the WAL. */
const WAL_RESTART_FRAMES = 2000;

/** With background checkpoints, the WAL size (pages) at which the store's connection checkpoints on its own. */
const WAL_BACKSTOP_FRAMES = 4000;

function parse<T>(row: DataRow | undefined): T | undefined {
  return row === undefined ? undefined : (JSON.parse(row.data) as T);
}

/**
 * The first write whose precondition fails, checked before anything is written (as in MemoryStore).
 * Fills `current` with what each write found stored (its row, version and keys), for `putAll`.
 */
function findConflict(
  s: Statements,
  writes: Write[],
  current: Array<CurrentRow | undefined>,
  cache: ReadCache | undefined,
): CommitConflict | undefined {
  const claimed = new Map<string, string>();
  for (const w of writes) {
    const { id } = w.entity;
    const row = currentRow(s, w.kind, id, cache);
    current.push(row);
    if (w.expectedVersion === undefined) {
      if (row !== undefined) return { kind: w.kind, id, reason: 'exists' };
    } else {
      if (row === undefined) return { kind: w.kind, id, reason: 'missing' };
      if (row.version !== w.expectedVersion) return { kind: w.kind, id, reason: 'version' };
    }
    for (const [key, value] of uniqueKeys(w.kind, w.entity)) {
      const k = JSON.stringify([w.kind, key, value]);
      const owner = s.uniqueOwner.get(w.kind, key, value)?.id ?? claimed.get(k);
      if (owner !== undefined && owner !== id) return { kind: w.kind, id, reason: 'unique', key };
      claimed.set(k, id);
    }
  }
  return undefined;
}

/**
 * The stored row of an entity as a commit checks it, from the cache when it knows it. Only for reads
 * before the commit writes anything: the row is remembered as committed state.
 */
function currentRow(s: Statements, kind: string, id: string, cache: ReadCache | undefined): CurrentRow | undefined {
  if (cache === undefined) return s.current.get(kind, id);
  const key = cacheKey(kind, id);
  const known = cache.row(key);
  if (known !== undefined) return known ?? undefined;
  const row = s.current.get(kind, id);
  cache.rememberRow(key, row ?? null);
  return row;
}

/**
 * Writes every entity; a write of an entity written before in the same change re-reads its row.
 * True when the index rows are due (see `put`).
 */
function putAll(
  s: Statements,
  writes: Write[],
  current: Array<CurrentRow | undefined>,
  batch: number,
  cache: ReadCache | undefined,
): boolean {
  let seen: Set<string> | undefined;
  let due = false;
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i] as Write;
    let row = current[i];
    if (writes.length > 1) {
      seen ??= new Set();
      const k = `${w.kind}\u0000${w.entity.id}`;
      if (seen.has(k)) row = s.current.get(w.kind, w.entity.id);
      seen.add(k);
    }
    if (put(s, w, row, batch, cache)) due = true;
  }
  return due;
}

/**
 * The index entries (`field\0value`) and unique keys (`\u0001key\0value`) of an entity, as stored in
 * its `keys` column: an update compares them with the stored ones and rewrites only the rows that changed.
 */
function keysOf(w: Write): string[] {
  const out: string[] = [];
  for (const [field, value] of indexEntries(w.kind, w.entity)) out.push(`${field}\u0000${value}`);
  for (const [key, value] of uniqueKeys(w.kind, w.entity)) out.push(`\u0001${key}\u0000${value}`);
  return out;
}

/** The prefix of a status index entry in `keys`. */
const STATUS_KEY = 'status\u0000';

/**
 * The index entry every entity has (field '', value ''), not kept in `keys`: its rows order each kind
 * by creation, for unfiltered pages.
 */
const ALL: [field: string, value: string] = ['', ''];
const ALL_KEY = '\u0000';

const isUnique = (key: string) => key.charCodeAt(0) === 1;

/** Adds (or removes) the unique key that `key` (`\u0001key\0value`, from `keysOf`) names. */
function applyUnique(s: Statements, kind: string, id: string, key: string, add: boolean): void {
  const sep = key.indexOf('\u0000');
  (add ? s.addUnique : s.dropUnique).run(kind, key.slice(1, sep), key.slice(sep + 1), id);
}

/** Adds (or removes) the index row of entity `rid` that `key` (`field\0value`, from `keysOf`) names. */
function applyIndex(
  s: Statements,
  d: { kind: string; id: string; rid: number },
  at: string,
  key: string,
  add: boolean,
) {
  const sep = key.indexOf('\u0000');
  const field = key.slice(0, sep);
  const value = key.slice(sep + 1);
  if (add) s.addIndex.run(d.kind, field, value, at, d.id, d.rid);
  else s.dropIndex.run(d.kind, field, value, at, d.id);
}

/**
 * Writes the entity row and the unique keys that changed since `row` (absent: a new entity). Index rows
 * wait (see ENTITY_INDEX_BATCH): a new entity has none yet; an entity whose index entries change is
 * marked in `oc_dirty` with what its index rows hold, unless its rows wait already. True when the index
 * rows are due (`indexPending`): the row ids crossed a multiple of `batch`, or `batch` entities are marked.
 */
function put(
  s: Statements,
  w: Write,
  row: CurrentRow | undefined,
  batch: number,
  cache: ReadCache | undefined,
): boolean {
  const e: AnyEntity = w.entity;
  const createdAt = createdAtOf(e);
  const keys = keysOf(w);
  const keysJson = JSON.stringify(keys);
  const data = JSON.stringify(e);
  if (row === undefined) {
    const { lastInsertRowid } = s.insert.run(w.kind, e.id, e.version, createdAt, keysJson, data);
    addUniqueKeys(s, w.kind, e.id, keys);
    stageWrite(cache, w, data, createdAt, keysJson, Number(lastInsertRowid), 1);
    return Number(lastInsertRowid) % batch === 0;
  }
  const moved = row.created_at !== createdAt;
  if (moved) s.updateCreated.run(e.version, createdAt, keysJson, data, row.rid);
  else s.update.run(e.version, keysJson, data, row.rid);
  if (keysJson === row.keys && !moved) {
    stageWrite(cache, w, data, createdAt, keysJson, row.rid, row.pending);
    return false;
  }
  const before = new Set(JSON.parse(row.keys) as string[]);
  const after = new Set(keys);
  // Removals first: a unique key may move between the entity's own entries only through a removal.
  let changed = moved;
  for (const k of before) {
    if (after.has(k)) continue;
    if (isUnique(k)) applyUnique(s, w.kind, e.id, k, false);
    else changed = true;
  }
  for (const k of after) {
    if (before.has(k)) continue;
    if (isUnique(k)) applyUnique(s, w.kind, e.id, k, true);
    else changed = true;
  }
  stageWrite(cache, w, data, createdAt, keysJson, row.rid, changed ? 1 : row.pending);
  if (!changed || row.pending !== 0) return false;
  const marked = s.markDirty.get(w.kind, e.id, row.created_at, row.keys);
  return marked !== undefined && marked.n >= batch;
}

/** The unique keys of a new entity. */
function addUniqueKeys(s: Statements, kind: string, id: string, keys: string[]): void {
  for (const k of new Set(keys)) if (isUnique(k)) applyUnique(s, kind, id, k, true);
}

/**
 * A change of one insert, without reading first: the entity row's (kind, id) key says whether the id
 * is taken, then its unique keys are checked, as `findConflict` would. The conflict, or whether the
 * index rows are due (see `put`). A conflict leaves writes behind: the caller rolls back.
 */
function insertOne(s: Statements, w: Write, batch: number, cache: ReadCache | undefined): CommitConflict | boolean {
  const e: AnyEntity = w.entity;
  const keys = keysOf(w);
  const createdAt = createdAtOf(e);
  const keysJson = JSON.stringify(keys);
  const data = JSON.stringify(e);
  const inserted = s.insert.run(w.kind, e.id, e.version, createdAt, keysJson, data);
  if (inserted.changes === 0) return { kind: w.kind, id: e.id, reason: 'exists' };
  for (const [key, value] of uniqueKeys(w.kind, e)) {
    const owner = s.uniqueOwner.get(w.kind, key, value)?.id;
    if (owner !== undefined && owner !== e.id) return { kind: w.kind, id: e.id, reason: 'unique', key };
  }
  addUniqueKeys(s, w.kind, e.id, keys);
  const rid = Number(inserted.lastInsertRowid);
  stageWrite(cache, w, data, createdAt, keysJson, rid, 1);
  return rid % batch === 0;
}

/** Stages an entity as the open write transaction leaves it (its row `rid`; `pending`: see CurrentRow). */
function stageWrite(
  cache: ReadCache | undefined,
  w: Write,
  data: string,
  createdAt: string,
  keys: string,
  rid: number,
  pending: number,
): void {
  if (cache === undefined) return;
  const { id, version } = w.entity;
  cache.stage(cacheKey(w.kind, id), data, { rid, version, created_at: createdAt, keys, pending });
}

/** The index entries in `keys` (a `keys` column), with the one every entity has. */
function indexKeys(keys: string): Set<string> {
  const out = new Set<string>([ALL_KEY]);
  for (const k of JSON.parse(keys) as string[]) if (!isUnique(k)) out.add(k);
  return out;
}

/**
 * Writes the index rows that wait: all of those of the new entities, and the changes of the marked
 * ones; then moves `entities_upto` to the last row and empties `oc_dirty`.
 */
function indexPending(s: Statements, cache: ReadCache | undefined): void {
  cache?.stageIndexed();
  let marked = false;
  for (const d of s.pending.all()) {
    const now = indexKeys(d.keys);
    if (d.indexed_at === null || d.indexed_keys === null) {
      for (const k of now) applyIndex(s, d, d.created_at, k, true);
      continue;
    }
    marked = true;
    const was = indexKeys(d.indexed_keys);
    const moved = d.indexed_at !== d.created_at;
    for (const k of was) if (moved || !now.has(k)) applyIndex(s, d, d.indexed_at, k, false);
    for (const k of now) if (moved || !was.has(k)) applyIndex(s, d, d.created_at, k, true);
  }
  s.entitiesIndexed.run();
  if (marked) s.clearDirty.run();
}

/**
 * Seals and inserts the change's drafts after the current head, which the open write transaction pins.
 * When the chain crosses a multiple of `batch`, writes the filter keys of every unindexed record.
 */
function appendAudit(s: Statements, change: Change, batch: number, cache: ReadCache | undefined): AuditEvent[] {
  const out: AuditEvent[] = [];
  if (change.audit.length === 0) return out;
  const known = cache?.chainEnd();
  let head: AuditHead | null = known !== undefined ? known : (s.chainEnd.get() ?? null);
  const first = head?.seq ?? 0;
  for (const draft of change.audit) {
    const event = change.seal(draft, head);
    const json = JSON.stringify(event);
    s.addAudit.run(
      event.seq,
      event.id,
      event.eventType,
      event.entityType,
      event.entityId,
      event.actorId ?? null,
      event.timestamp,
      json,
    );
    if (change.quiet !== true) out.push(JSON.parse(json) as AuditEvent);
    head = { seq: event.seq, hash: event.hash };
  }
  cache?.stageChainEnd(head);
  const last = head?.seq ?? 0;
  if (Math.floor(last / batch) > Math.floor(first / batch)) {
    s.indexAudit.run();
    s.auditIndexed.run(last);
  }
  return out;
}

/** The statements of one shape of audit query (see `auditStatements`). */
interface AuditStatements {
  /** `upto` and, with `after`, its seq (NULL when unknown). Absent without filters. */
  position?: Stmt<unknown[], { upto: number; afterSeq: number | null }>;
  indexed?: Stmt<unknown[], DataRow>;
  tail: Stmt<unknown[], DataRow>;
}

/**
 * The audit query for the filters `used` (and `after`), ordered by seq, at most `@limit`. Indexed
 * records (seq <= upto) come through the key rows of the most selective filter given (entity id, event
 * type, actor, entity type, then the timestamp range), checked against the others on the row; the
 * unindexed tail (fewer than a batch) by the seq key. Without filters, the seq key alone.
 */
function auditStatements(db: Database.Database, used: AuditFilter[], after: boolean): AuditStatements {
  const conds: string[] = AUDIT_FILTERS.filter(([f]) => used.includes(f)).map(([, sql]) => sql);
  const where = (extra: string[]) => {
    const all = [...extra, ...conds];
    return all.length === 0 ? '' : `WHERE ${all.join(' AND ')}`;
  };
  const prepare = (sql: string) => db.prepare<unknown[], DataRow>(sql);
  if (used.length === 0) {
    return {
      tail: prepare(
        `SELECT data FROM oc_audit ${where(after ? [`seq > ${AFTER_SEQ}`] : [])} ORDER BY seq LIMIT @limit`,
      ),
    };
  }
  const eq = (['entityId', 'eventType', 'actorId', 'entityType'] as const).find((f) => used.includes(f));
  let keyCond: string;
  if (eq !== undefined) keyCond = `x.key = '${AUDIT_KEY[eq]}' || @${eq}`;
  else {
    const d = AUDIT_KEY.timestamp;
    // The timestamp keys are the prefix followed by the timestamp: between two such keys lie only such keys.
    const lo = used.includes('from') ? `x.key >= '${d}' || @from` : `x.key > '${d}'`;
    const hi = used.includes('to') ? `x.key <= '${d}' || @to` : `x.key < '${d.slice(0, -1)};'`;
    keyCond = `${lo} AND ${hi}`;
  }
  return {
    position: db.prepare<unknown[], { upto: number; afterSeq: number | null }>(
      `SELECT ${AUDIT_UPTO} AS upto${after ? `, ${AFTER_SEQ} AS afterSeq` : ''}`,
    ),
    indexed: prepare(
      eq === undefined
        ? // The range keys imply every filter given: sort their seqs alone, then read the page's rows.
          `SELECT data FROM oc_audit WHERE seq IN (SELECT x.seq FROM oc_audit_keys x
             WHERE ${keyCond} AND x.seq <= @upto${after ? ' AND x.seq > @afterSeq' : ''} ORDER BY x.seq LIMIT @limit)
           ORDER BY seq`
        : `SELECT a.data FROM oc_audit_keys x JOIN oc_audit a ON a.seq = x.seq
           ${where([keyCond, 'x.seq <= @upto', ...(after ? ['x.seq > @afterSeq'] : [])])} ORDER BY x.seq LIMIT @limit`,
    ),
    tail: prepare(
      `SELECT data FROM oc_audit ${where(['seq > @upto', ...(after ? ['seq > @afterSeq'] : [])])} ORDER BY seq LIMIT @limit`,
    ),
  };
}

function readHead(s: Statements, withSignature: boolean): AuditHead | null {
  const row = s.head.get();
  if (row === undefined) return null;
  const last = JSON.parse(row.data) as AuditEvent;
  return withSignature && last.signature !== undefined
    ? { seq: last.seq, hash: last.hash, signature: last.signature }
    : { seq: last.seq, hash: last.hash };
}
