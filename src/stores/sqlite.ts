import Database from 'better-sqlite3';
import { OrchestrationError } from '../errors.js';
import type { AuditEvent, AuditHead, StatusCounts } from '../types.js';
import { indexEntries, uniqueKeys } from './indexing.js';
import {
  AUDIT_INDEX_BATCH,
  AUDIT_KEY,
  type CurrentRow,
  type DataRow,
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
  /**
   * How many audit records may wait before their filter keys are written (see `AUDIT_INDEX_BATCH`).
   * A tuning knob for tests; the default suits every workload.
   * @internal
   */
  auditIndexBatch?: number;
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
  (SELECT seq FROM oc_audit WHERE seq > (SELECT upto FROM oc_audit_indexed) AND id = @after ORDER BY seq LIMIT 1))`;

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
  private readonly auditQueries = new Map<string, AuditStatements>();
  private readonly auditIndexBatch: number;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    const {
      filename,
      database,
      synchronous = 'FULL',
      busyTimeoutMs = 5000,
      auditIndexBatch = AUDIT_INDEX_BATCH,
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
        ' AND EXISTS (SELECT 1 FROM oc_index x WHERE x.kind = i.kind AND x.field = ? AND x.value = ?' +
        ' AND x.created_at = i.created_at AND x.id = i.id)';
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
      // The status index rows count by status; the creation-order index counts the kind.
      const s = this.ready();
      const out: StatusCounts = { total: (s.countKind.get(kind) as { n: number }).n, byStatus: {} };
      for (const { status, n } of s.countStatus.all(kind)) out.byStatus[status] = n;
      return out;
    });
  }

  async commit(change: Change): Promise<CommitResult> {
    return this.guard('commit', () =>
      this.immediate((s): [CommitResult, boolean] => {
        const current: Array<CurrentRow | undefined> = [];
        const conflict = findConflict(s, change.writes, current);
        if (conflict !== undefined) return [{ ok: false, conflict }, false];
        putAll(s, change.writes, current);
        return [{ ok: true, events: appendAudit(s, change, this.auditIndexBatch) }, true];
      }),
    );
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
        for (const w of change.writes) put(s, w, undefined);
        return [appendAudit(s, change, this.auditIndexBatch), true];
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

/**
 * The first write whose precondition fails, checked before anything is written (as in MemoryStore).
 * Fills `current` with what each write found stored (its row, version and keys), for `putAll`.
 */
function findConflict(
  s: Statements,
  writes: Write[],
  current: Array<CurrentRow | undefined>,
): CommitConflict | undefined {
  const claimed = new Map<string, string>();
  for (const w of writes) {
    const { id } = w.entity;
    const row = s.current.get(w.kind, id);
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

/** Writes every entity; a write of an entity written before in the same change re-reads its row. */
function putAll(s: Statements, writes: Write[], current: Array<CurrentRow | undefined>): void {
  let seen: Set<string> | undefined;
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i] as Write;
    let row = current[i];
    if (writes.length > 1) {
      seen ??= new Set();
      const k = `${w.kind}\u0000${w.entity.id}`;
      if (seen.has(k)) row = s.current.get(w.kind, w.entity.id);
      seen.add(k);
    }
    put(s, w, row);
  }
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

/** Adds (or removes) the index row or unique key that `key` (from `keysOf`) names. */
function applyKey(s: Statements, kind: string, id: string, createdAt: string, key: string, add: boolean): void {
  const unique = key.charCodeAt(0) === 1;
  const sep = key.indexOf('\u0000');
  const name = key.slice(unique ? 1 : 0, sep);
  const value = key.slice(sep + 1);
  if (unique) (add ? s.addUnique : s.dropUnique).run(kind, name, value, id);
  else (add ? s.addIndex : s.dropIndex).run(kind, name, value, createdAt, id);
}

/** Writes the entity row and the index and unique-key rows that changed since `row` (absent: a new entity). */
function put(s: Statements, w: Write, row: CurrentRow | undefined): void {
  const e: AnyEntity = w.entity;
  const createdAt = createdAtOf(e);
  const keys = keysOf(w);
  const keysJson = JSON.stringify(keys);
  const data = JSON.stringify(e);
  if (row === undefined) {
    s.insert.run(w.kind, e.id, e.version, createdAt, keysJson, data);
    for (const k of new Set(keys)) applyKey(s, w.kind, e.id, createdAt, k, true);
    return;
  }
  const moved = row.created_at !== createdAt;
  if (moved) s.updateCreated.run(e.version, createdAt, keysJson, data, row.rid);
  else s.update.run(e.version, keysJson, data, row.rid);
  if (keysJson === row.keys && !moved) return;
  const before = new Set(JSON.parse(row.keys) as string[]);
  const after = new Set(keys);
  // Removals first: a unique key may move between the entity's own entries only through a removal.
  for (const k of before) if (moved || !after.has(k)) applyKey(s, w.kind, e.id, row.created_at, k, false);
  for (const k of after) if (moved || !before.has(k)) applyKey(s, w.kind, e.id, createdAt, k, true);
}

/**
 * Seals and inserts the change's drafts after the current head, which the open write transaction pins.
 * When the chain crosses a multiple of `batch`, writes the filter keys of every unindexed record.
 */
function appendAudit(s: Statements, change: Change, batch: number): AuditEvent[] {
  let head = readHead(s, false);
  const first = head?.seq ?? 0;
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
      `SELECT (SELECT upto FROM oc_audit_indexed) AS upto${after ? `, ${AFTER_SEQ} AS afterSeq` : ''}`,
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
