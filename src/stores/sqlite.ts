import Database from 'better-sqlite3';
import { OrchestrationError } from '../errors.js';
import type { AuditEvent, AuditHead, StatusCounts } from '../types.js';
import { indexEntries, statusOf, uniqueKeys } from './indexing.js';
import { type DataRow, migrate, prepareStatements, type Statements } from './sqlite-schema.js';
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
   * `busy_timeout` on it and creates its `oc_*` tables; `close()` leaves it open.
   */
  database?: Database.Database;
}

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

const AUDIT_FILTERS = [
  ['eventType', 'event_type = ?'],
  ['entityType', 'entity_type = ?'],
  ['entityId', 'entity_id = ?'],
  ['actorId', 'actor_id = ?'],
  ['from', 'timestamp >= ?'],
  ['to', 'timestamp <= ?'],
  ['after', 'seq > (SELECT seq FROM oc_audit WHERE id = ?)'],
] as const;

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
  private readonly filterQueries = new Map<number, Stmt<unknown[], DataRow>>();
  private readonly auditQueries = new Map<string, Stmt<unknown[], DataRow>>();
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    const { filename, database, synchronous = 'FULL', busyTimeoutMs = 5000 } = options ?? {};
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
    this.synchronous = synchronous;
    this.busyTimeoutMs = busyTimeoutMs;
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
    return this.guard('get', () => parse(this.ready().get.get(kind, id)));
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
      const [first, ...rest] = q.filters;
      const rows =
        first === undefined
          ? cursor.length === 0
            ? s.all.all(kind, limit)
            : s.allAfter.all(kind, ...cursor, limit)
          : this.filterQuery(q.filters.length, cursor.length > 0).all(
              kind,
              first[0],
              first[1],
              ...cursor,
              ...rest.flat(),
              limit,
            );
      return rows.map((r) => JSON.parse(r.data) as EntityMap[K]);
    });
  }

  /** Drives the page from the first filter's index rows in (created_at, id) order; the others must exist too. */
  private filterQuery(n: number, after: boolean): Stmt<unknown[], DataRow> {
    const key = after ? -n : n;
    let stmt = this.filterQueries.get(key);
    if (stmt === undefined) {
      const exists =
        ' AND EXISTS (SELECT 1 FROM oc_index x WHERE x.kind = i.kind AND x.field = ? AND x.value = ? AND x.id = i.id)';
      stmt = this.db.prepare<unknown[], DataRow>(
        `SELECT e.data FROM oc_index i JOIN oc_entities e ON e.kind = i.kind AND e.id = i.id
         WHERE i.kind = ? AND i.field = ? AND i.value = ?${after ? ' AND (i.created_at, i.id) > (?, ?)' : ''}${exists.repeat(n - 1)}
         ORDER BY i.created_at, i.id LIMIT ?`,
      );
      this.filterQueries.set(key, stmt);
    }
    return stmt;
  }

  async count(kind: EntityKind): Promise<StatusCounts> {
    return this.guard('count', () => {
      const out: StatusCounts = { total: 0, byStatus: {} };
      for (const { status, n } of this.ready().count.all(kind)) {
        out.total += n;
        if (status !== null) out.byStatus[status] = n;
      }
      return out;
    });
  }

  async commit(change: Change): Promise<CommitResult> {
    return this.guard('commit', () =>
      this.immediate((s): [CommitResult, boolean] => {
        const conflict = findConflict(s, change.writes);
        if (conflict !== undefined) return [{ ok: false, conflict }, false];
        for (const w of change.writes) put(s, w, w.expectedVersion !== undefined);
        return [{ ok: true, events: appendAudit(s, change) }, true];
      }),
    );
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    return this.guard('queryAudit', () => {
      this.ready();
      const used = AUDIT_FILTERS.filter(([field]) => q[field] !== undefined);
      const shape = used.map(([field]) => field).join(',');
      let stmt = this.auditQueries.get(shape);
      if (stmt === undefined) {
        const where = used.length === 0 ? '' : `WHERE ${used.map(([, sql]) => sql).join(' AND ')}`;
        stmt = this.db.prepare<unknown[], DataRow>(`SELECT data FROM oc_audit ${where} ORDER BY seq LIMIT ?`);
        this.auditQueries.set(shape, stmt);
      }
      const params = used.map(([field]) => q[field]);
      return stmt.all(...params, Math.max(0, Math.floor(q.limit))).map((r) => JSON.parse(r.data) as AuditEvent);
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
      return ((eventType === undefined ? s.countAudit.get() : s.countAuditType.get(eventType)) as { n: number }).n;
    });
  }

  async clear(change: Change): Promise<AuditEvent[]> {
    return this.guard('clear', () =>
      this.immediate((s): [AuditEvent[], boolean] => {
        for (const del of s.clear) del.run();
        for (const w of change.writes) put(s, w, false);
        return [appendAudit(s, change), true];
      }),
    );
  }

  /** Closes the database when the store opened it; a caller-owned `database` stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.guard('close', () => {
      if (this.owned) this.db.close();
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
    }
    return this.stmts;
  }

  /** Runs `fn` in `BEGIN IMMEDIATE` (the write lock is taken up front) and commits or rolls back as it says. */
  private immediate<T>(fn: (s: Statements) => [result: T, commit: boolean]): T {
    const s = this.ready();
    s.begin.run();
    try {
      const [result, commit] = fn(s);
      (commit ? s.commit : s.rollback).run();
      return result;
    } catch (err) {
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

function parse<T>(row: DataRow | undefined): T | undefined {
  return row === undefined ? undefined : (JSON.parse(row.data) as T);
}

/** The first write whose precondition fails, checked before anything is written (as in MemoryStore). */
function findConflict(s: Statements, writes: Write[]): CommitConflict | undefined {
  const claimed = new Map<string, string>();
  for (const w of writes) {
    const { id } = w.entity;
    const current = s.version.get(w.kind, id);
    if (w.expectedVersion === undefined) {
      if (current !== undefined) return { kind: w.kind, id, reason: 'exists' };
    } else {
      if (current === undefined) return { kind: w.kind, id, reason: 'missing' };
      if (current.version !== w.expectedVersion) return { kind: w.kind, id, reason: 'version' };
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

/** Writes the entity row and replaces its index and unique-key rows. */
function put(s: Statements, w: Write, existed: boolean): void {
  const e: AnyEntity = w.entity;
  const createdAt = createdAtOf(e);
  s.upsert.run(w.kind, e.id, e.version, statusOf(e) ?? null, createdAt, JSON.stringify(e));
  if (existed) {
    s.dropIndex.run(w.kind, e.id);
    s.dropUnique.run(w.kind, e.id);
  }
  for (const [field, value] of indexEntries(w.kind, e)) s.addIndex.run(w.kind, field, value, e.id, createdAt);
  for (const [key, value] of uniqueKeys(w.kind, e)) s.addUnique.run(w.kind, key, value, e.id);
}

/** Seals and inserts the change's drafts after the current head, which the open write transaction pins. */
function appendAudit(s: Statements, change: Change): AuditEvent[] {
  let head = readHead(s, false);
  const out: AuditEvent[] = [];
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
    out.push(JSON.parse(json) as AuditEvent);
    head = { seq: event.seq, hash: event.hash };
  }
  return out;
}

function readHead(s: Statements, withSignature: boolean): AuditHead | null {
  const row = s.head.get();
  if (row === undefined) return null;
  const last = JSON.parse(row.data) as AuditEvent;
  return withSignature && last.signature !== undefined
    ? { seq: last.seq, hash: last.hash, signature: last.signature }
    : { seq: last.seq, hash: last.hash };
}
