import type BetterSqlite3 from 'better-sqlite3';
import { OrchestrationError } from '../errors.js';

/**
 * Audit records wait in the unindexed tail until the chain crosses a multiple of this many records;
 * then one commit writes the key rows of all of them (a few pages for the whole batch instead of
 * six b-trees per commit). Queries scan the tail (fewer rows than this) through the seq key.
 */
export const AUDIT_INDEX_BATCH = 128;

/**
 * Index rows are written in batches too (schema v4). New entities wait until the entity table's row id
 * crosses a multiple of this many; changed entities wait in `oc_dirty` until this many do. Then one
 * commit writes the index rows of all of them. Queries take the waiting entities (fewer than twice
 * this) from their own rows, the others from the index rows.
 */
export const ENTITY_INDEX_BATCH = 32;

/** The key prefixes of `oc_audit_keys`, one per audit filter. */
export const AUDIT_KEY = {
  eventType: 'e:',
  entityType: 't:',
  entityId: 'n:',
  actorId: 'a:',
  timestamp: 'd:',
  id: 'k:',
} as const;

/** The last audit record whose key rows are written (schema v4; `oc_audit_indexed.upto` before). */
export const AUDIT_UPTO = '(SELECT audit_upto FROM oc_indexed)';

/** The last entity row (`rid`) whose index rows are written, or were when it was marked in `oc_dirty`. */
export const ENTITIES_UPTO = '(SELECT entities_upto FROM oc_indexed)';

/** Schema v3: writes the key rows of every record after `oc_audit_indexed.upto`, then moves it to `newUpto`. */
function indexAuditSql(newUpto: string): string {
  return `${indexAuditTail('(SELECT upto FROM oc_audit_indexed)')};\n      UPDATE oc_audit_indexed SET upto = ${newUpto}`;
}

/** Inserts the key rows of every record after `upto` (an SQL expression). */
function indexAuditTail(upto: string): string {
  const tail = `FROM oc_audit WHERE seq > ${upto}`;
  const k = AUDIT_KEY;
  return `INSERT OR IGNORE INTO oc_audit_keys (key, seq)
        SELECT '${k.eventType}' || event_type, seq ${tail}
        UNION ALL SELECT '${k.entityType}' || entity_type, seq ${tail}
        UNION ALL SELECT '${k.entityId}' || entity_id, seq ${tail}
        UNION ALL SELECT '${k.actorId}' || actor_id, seq ${tail} AND actor_id IS NOT NULL
        UNION ALL SELECT '${k.timestamp}' || timestamp, seq ${tail}
        UNION ALL SELECT '${k.id}' || id, seq ${tail}`;
}

/**
 * Versioned schema of `SqliteStore`. Append new migrations; never edit an applied one.
 * Every kind shares one generic set of tables: entities as JSON, their `indexEntries` rows, their
 * unique keys, and the audit chain (one row per record, `seq` as the primary key).
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE oc_entities (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT,
        data TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;
      CREATE INDEX oc_entities_status ON oc_entities (kind, status);

      CREATE TABLE oc_index (
        kind TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (kind, field, value, id)
      ) WITHOUT ROWID;
      CREATE INDEX oc_index_entity ON oc_index (kind, id);

      CREATE TABLE oc_unique (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (kind, key, value)
      ) WITHOUT ROWID;
      CREATE INDEX oc_unique_entity ON oc_unique (kind, id);

      CREATE TABLE oc_audit (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        actor_id TEXT,
        timestamp TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX oc_audit_event_type ON oc_audit (event_type, seq);
      CREATE INDEX oc_audit_entity_type ON oc_audit (entity_type, seq);
      CREATE INDEX oc_audit_entity_id ON oc_audit (entity_id, seq);
      CREATE INDEX oc_audit_actor_id ON oc_audit (actor_id, seq);
      CREATE INDEX oc_audit_timestamp ON oc_audit (timestamp, seq);
    `,
  },
  {
    // Queries order by creation time, (created_at, id), not by id alone: explicit ids need not sort
    // by time. Both tables carry the entity's createdAt so that a page is one ordered index scan.
    version: 2,
    sql: `
      ALTER TABLE oc_entities ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
      UPDATE oc_entities SET created_at = CASE
        WHEN json_type(data, '$.createdAt') = 'text' THEN json_extract(data, '$.createdAt') ELSE '' END;
      CREATE INDEX oc_entities_created ON oc_entities (kind, created_at, id);

      ALTER TABLE oc_index ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
      UPDATE oc_index SET created_at = coalesce(
        (SELECT e.created_at FROM oc_entities e WHERE e.kind = oc_index.kind AND e.id = oc_index.id), '');
      CREATE INDEX oc_index_created ON oc_index (kind, field, value, created_at, id);
    `,
  },
  {
    // Fewer pages written per commit (each b-tree a commit touches is one page in the WAL):
    // - entities in a rowid table (an action's JSON is ~1 KB: in a WITHOUT ROWID b-tree it spilled into an
    //   overflow page), with no status index (counts come from the index rows) and the entity's own index
    //   and unique keys in `keys`, so that an update rewrites only the index rows that changed;
    // - index rows in one b-tree keyed (kind, field, value, created_at, id): it serves the keyset pages
    //   and the removal of one row; the per-entity indexes of index rows and unique keys are gone;
    // - the audit filters (event type, entity type, entity id, actor, timestamp, id) in one key table,
    //   `oc_audit_keys`, written in batches: records after `oc_audit_indexed.upto` (fewer than a batch)
    //   are found by a bounded scan of the newest rows, the rest through their keys. The id is no longer
    //   UNIQUE in SQL (ids are generated unique; the constraint cost one more b-tree per record).
    version: 3,
    sql: `
      CREATE TABLE oc_entities_v3 (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        keys TEXT NOT NULL,
        data TEXT NOT NULL
      );
      INSERT INTO oc_entities_v3 (kind, id, version, created_at, keys, data)
        SELECT e.kind, e.id, e.version, e.created_at,
          (SELECT json_group_array(k) FROM (
            SELECT i.field || char(0) || i.value AS k FROM oc_index i INDEXED BY oc_index_entity
              WHERE i.kind = e.kind AND i.id = e.id
            UNION ALL
            SELECT char(1) || u.key || char(0) || u.value FROM oc_unique u INDEXED BY oc_unique_entity
              WHERE u.kind = e.kind AND u.id = e.id)),
          e.data
        FROM oc_entities e ORDER BY e.kind, e.created_at, e.id;
      DROP TABLE oc_entities;
      ALTER TABLE oc_entities_v3 RENAME TO oc_entities;
      CREATE UNIQUE INDEX oc_entities_id ON oc_entities (kind, id);
      CREATE INDEX oc_entities_created ON oc_entities (kind, created_at, id);

      CREATE TABLE oc_index_v3 (
        kind TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (kind, field, value, created_at, id)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO oc_index_v3 (kind, field, value, created_at, id)
        SELECT kind, field, value, created_at, id FROM oc_index;
      DROP TABLE oc_index;
      ALTER TABLE oc_index_v3 RENAME TO oc_index;

      DROP INDEX oc_unique_entity;

      CREATE TABLE oc_audit_v3 (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        actor_id TEXT,
        timestamp TEXT NOT NULL,
        data TEXT NOT NULL
      );
      INSERT INTO oc_audit_v3 (seq, id, event_type, entity_type, entity_id, actor_id, timestamp, data)
        SELECT seq, id, event_type, entity_type, entity_id, actor_id, timestamp, data FROM oc_audit ORDER BY seq;
      DROP TABLE oc_audit;
      ALTER TABLE oc_audit_v3 RENAME TO oc_audit;
      CREATE TABLE oc_audit_keys (
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, seq)
      ) WITHOUT ROWID;
      CREATE TABLE oc_audit_indexed (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        upto INTEGER NOT NULL
      );
      INSERT INTO oc_audit_indexed (singleton, upto) VALUES (1, 0);
      ${indexAuditSql('(SELECT coalesce(max(seq), 0) FROM oc_audit)')};
    `,
  },
  {
    // Index rows written in batches, as the audit keys are:
    // - a new entity writes no index row: the entity table's `rid` (now an INTEGER PRIMARY KEY, which
    //   VACUUM keeps) orders rows by insertion, and those after `oc_indexed.entities_upto` are the new
    //   ones, taken from their own rows by queries;
    // - a write that changes the index entries of an indexed entity marks it in `oc_dirty` (once, with
    //   the entries its index rows still hold and their creation time) instead of rewriting the rows;
    //   queries skip the rows of marked entities and take those from their own rows too. `oc_dirty` is
    //   small: a mark writes one page, and later writes of a marked entity none;
    // - when the row ids cross a multiple of ENTITY_INDEX_BATCH, or that many entities are marked, one
    //   commit writes the index rows of all of them.
    // Every entity also has an index row of the field '' (value ''): it orders the kind by creation for
    // unfiltered pages, so the creation-order index of the entity table (a page per insert) goes. Index
    // rows carry the entity's `rid`: a page reads each entity through one b-tree, not two.
    // `oc_audit_indexed` becomes `oc_indexed`, with both positions: a process of an older version, which
    // would write index rows of its own, fails on it instead.
    version: 4,
    sql: `
      CREATE TABLE oc_entities_v4 (
        rid INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        keys TEXT NOT NULL,
        data TEXT NOT NULL
      );
      INSERT INTO oc_entities_v4 (rid, kind, id, version, created_at, keys, data)
        SELECT rowid, kind, id, version, created_at, keys, data FROM oc_entities ORDER BY rowid;
      DROP TABLE oc_entities;
      ALTER TABLE oc_entities_v4 RENAME TO oc_entities;
      CREATE UNIQUE INDEX oc_entities_id ON oc_entities (kind, id);

      CREATE TABLE oc_index_v4 (
        kind TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        id TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (kind, field, value, created_at, id)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO oc_index_v4 (kind, field, value, created_at, id, rid)
        SELECT i.kind, i.field, i.value, i.created_at, i.id, e.rid
        FROM oc_index i JOIN oc_entities e ON e.kind = i.kind AND e.id = i.id
        UNION ALL
        SELECT kind, '', '', created_at, id, rid FROM oc_entities
        ORDER BY 1, 2, 3, 4, 5;
      DROP TABLE oc_index;
      ALTER TABLE oc_index_v4 RENAME TO oc_index;

      CREATE TABLE oc_dirty (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        indexed_at TEXT NOT NULL,
        indexed_keys TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;

      CREATE TABLE oc_indexed (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        audit_upto INTEGER NOT NULL,
        entities_upto INTEGER NOT NULL
      );
      INSERT INTO oc_indexed (singleton, audit_upto, entities_upto)
        SELECT 1, upto, (SELECT coalesce(max(rid), 0) FROM oc_entities) FROM oc_audit_indexed;
      DROP TABLE oc_audit_indexed;
    `,
  },
];

/**
 * Brings the schema to the latest version. Runs inside `BEGIN IMMEDIATE` and re-reads the version
 * there, so several connections (or processes) starting at once apply each migration exactly once.
 * Refuses a database of a newer version: this version would not keep its tables right.
 */
export function migrate(db: BetterSqlite3.Database): void {
  db.prepare('BEGIN IMMEDIATE').run();
  try {
    db.exec('CREATE TABLE IF NOT EXISTS oc_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const row = db.prepare('SELECT max(version) AS v FROM oc_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new OrchestrationError(
        'STORE_ERROR',
        `SQLite database '${db.name}' has schema version ${current}, newer than this version of ` +
          `orchestration-connector knows (${latest}). Upgrade orchestration-connector in every process that uses it.`,
        { operation: 'init', retryable: false, schemaVersion: current, knownVersion: latest },
      );
    }
    const record = db.prepare('INSERT INTO oc_migrations (version, applied_at) VALUES (?, ?)');
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, new Date().toISOString());
    }
    db.prepare('COMMIT').run();
  } catch (err) {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    throw err;
  }
}

/** A row holding one JSON document. */
export type DataRow = { data: string };

/**
 * What a commit reads of a stored entity before it writes: where it is, its version, its keys, and
 * whether its index rows wait (1: it is new, or marked in `oc_dirty`) or are up to date (0).
 */
export type CurrentRow = { rid: number; version: number; created_at: string; keys: string; pending: number };

/**
 * An entity whose index rows wait: what they hold (NULL: none, a new entity), and what they should
 * hold (its `created_at` and `keys`).
 */
export type PendingRow = {
  kind: string;
  id: string;
  rid: number;
  indexed_at: string | null;
  indexed_keys: string | null;
  created_at: string;
  keys: string;
};

/**
 * One row of `countStatus`: the kind's total, the index rows' count of one status, or an entity whose
 * index rows wait (what they hold, NULL for a new one, and its keys).
 */
export type CountRow =
  | { part: 0; status: null; n: number; was: null; now: null }
  | { part: 1; status: string; n: number; was: null; now: null }
  | { part: 2; status: null; n: null; was: string | null; now: string };

type Stmt<P extends unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;

/** The fixed statements of `SqliteStore`, prepared once after migrating. */
export interface Statements {
  begin: Stmt<[]>;
  commit: Stmt<[]>;
  rollback: Stmt<[]>;
  get: Stmt<[kind: string, id: string], DataRow>;
  createdAt: Stmt<[kind: string, id: string], { created_at: string }>;
  current: Stmt<[kind: string, id: string], CurrentRow>;
  markDirty: Stmt<[kind: string, id: string, indexedAt: string, indexedKeys: string], { n: number }>;
  pending: Stmt<[], PendingRow>;
  clearDirty: Stmt<[]>;
  entitiesIndexed: Stmt<[]>;
  uniqueOwner: Stmt<[kind: string, key: string, value: string], { id: string }>;
  byUnique: Stmt<[kind: string, key: string, value: string], DataRow>;
  insert: Stmt<[kind: string, id: string, version: number, createdAt: string, keys: string, data: string]>;
  update: Stmt<[version: number, keys: string, data: string, rid: number]>;
  updateCreated: Stmt<[version: number, createdAt: string, keys: string, data: string, rid: number]>;
  addIndex: Stmt<[kind: string, field: string, value: string, createdAt: string, id: string, rid: number]>;
  dropIndex: Stmt<[kind: string, field: string, value: string, createdAt: string, id: string]>;
  addUnique: Stmt<[kind: string, key: string, value: string, id: string]>;
  dropUnique: Stmt<[kind: string, key: string, value: string, id: string]>;
  countStatus: Stmt<[{ kind: string }], CountRow>;
  head: Stmt<[], DataRow>;
  chainEnd: Stmt<[], { seq: number; hash: string }>;
  addAudit: Stmt<[number, string, string, string, string, string | null, string, string]>;
  indexAudit: Stmt<[]>;
  auditIndexed: Stmt<[upto: number]>;
  readAudit: Stmt<[fromSeq: number, limit: number], DataRow>;
  countAudit: Stmt<[], { n: number }>;
  countAuditType: Stmt<[{ eventType: string }], { n: number }>;
  clear: Stmt<[]>[];
}

/** Prepares every fixed statement; the tables must exist. */
export function prepareStatements(db: BetterSqlite3.Database): Statements {
  return {
    begin: db.prepare<[]>('BEGIN IMMEDIATE'),
    commit: db.prepare<[]>('COMMIT'),
    rollback: db.prepare<[]>('ROLLBACK'),
    get: db.prepare<[string, string], DataRow>('SELECT data FROM oc_entities WHERE kind = ? AND id = ?'),
    createdAt: db.prepare<[string, string], { created_at: string }>(
      'SELECT created_at FROM oc_entities WHERE kind = ? AND id = ?',
    ),
    current: db.prepare<[string, string], CurrentRow>(
      `SELECT e.rid, e.version, e.created_at, e.keys,
         e.rid > ${ENTITIES_UPTO} OR EXISTS (SELECT 1 FROM oc_dirty d WHERE d.kind = e.kind AND d.id = e.id) AS pending
       FROM oc_entities e WHERE e.kind = ? AND e.id = ?`,
    ),
    // Marks an entity, answering how many are marked then (no row: it was marked already).
    markDirty: db.prepare<[string, string, string, string], { n: number }>(
      `INSERT OR IGNORE INTO oc_dirty (kind, id, indexed_at, indexed_keys) VALUES (?, ?, ?, ?)
       RETURNING (SELECT count(*) FROM oc_dirty) AS n`,
    ),
    // The new entities (a range of the row ids) and the marked ones (CROSS JOIN: driven by the few marks).
    pending: db.prepare<[], PendingRow>(
      `SELECT kind, id, rid, NULL AS indexed_at, NULL AS indexed_keys, created_at, keys
         FROM oc_entities WHERE rid > ${ENTITIES_UPTO}
       UNION ALL
       SELECT d.kind, d.id, e.rid, d.indexed_at, d.indexed_keys, e.created_at, e.keys
         FROM oc_dirty d CROSS JOIN oc_entities e ON e.kind = d.kind AND e.id = d.id
         WHERE e.rid <= ${ENTITIES_UPTO}`,
    ),
    clearDirty: db.prepare<[]>('DELETE FROM oc_dirty'),
    entitiesIndexed: db.prepare<[]>(
      'UPDATE oc_indexed SET entities_upto = (SELECT coalesce(max(rid), 0) FROM oc_entities)',
    ),
    uniqueOwner: db.prepare<[string, string, string], { id: string }>(
      'SELECT id FROM oc_unique WHERE kind = ? AND key = ? AND value = ?',
    ),
    byUnique: db.prepare<[string, string, string], DataRow>(
      `SELECT e.data FROM oc_unique u JOIN oc_entities e ON e.kind = u.kind AND e.id = u.id
       WHERE u.kind = ? AND u.key = ? AND u.value = ?`,
    ),
    // A taken (kind, id) inserts nothing (`changes` 0) instead of failing.
    insert: db.prepare<[string, string, number, string, string, string]>(
      `INSERT INTO oc_entities (kind, id, version, created_at, keys, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, id) DO NOTHING`,
    ),
    // Sets only the columns that change, so that SQLite leaves the (kind, id) index alone.
    update: db.prepare<[number, string, string, number]>(
      'UPDATE oc_entities SET version = ?, keys = ?, data = ? WHERE rid = ?',
    ),
    updateCreated: db.prepare<[number, string, string, string, number]>(
      'UPDATE oc_entities SET version = ?, created_at = ?, keys = ?, data = ? WHERE rid = ?',
    ),
    addIndex: db.prepare<[string, string, string, string, string, number]>(
      'INSERT OR IGNORE INTO oc_index (kind, field, value, created_at, id, rid) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    dropIndex: db.prepare<[string, string, string, string, string]>(
      'DELETE FROM oc_index WHERE kind = ? AND field = ? AND value = ? AND created_at = ? AND id = ?',
    ),
    addUnique: db.prepare<[string, string, string, string]>(
      'INSERT INTO oc_unique (kind, key, value, id) VALUES (?, ?, ?, ?)',
    ),
    dropUnique: db.prepare<[string, string, string, string]>(
      'DELETE FROM oc_unique WHERE kind = ? AND key = ? AND value = ? AND id = ?',
    ),
    // One statement, so one snapshot: the total, the status index rows, and the entities whose index
    // rows wait: what those rows hold (`was`) is taken back out, and their own keys (`now`) counted.
    countStatus: db.prepare<[{ kind: string }], CountRow>(
      `SELECT 0 AS part, NULL AS status, count(*) AS n, NULL AS was, NULL AS now FROM oc_entities WHERE kind = @kind
       UNION ALL
       SELECT 1, value, count(*), NULL, NULL FROM oc_index WHERE kind = @kind AND field = 'status' GROUP BY value
       UNION ALL
       SELECT 2, NULL, NULL, NULL, keys FROM oc_entities WHERE rid > ${ENTITIES_UPTO} AND +kind = @kind
       UNION ALL
       SELECT 2, NULL, NULL, d.indexed_keys, e.keys
         FROM oc_dirty d CROSS JOIN oc_entities e ON e.kind = d.kind AND e.id = d.id WHERE d.kind = @kind`,
    ),
    head: db.prepare<[], DataRow>('SELECT data FROM oc_audit ORDER BY seq DESC LIMIT 1'),
    // The chain's end as a commit needs it: SQLite takes the hash out of the record's JSON.
    chainEnd: db.prepare<[], { seq: number; hash: string }>(
      "SELECT seq, json_extract(data, '$.hash') AS hash FROM oc_audit ORDER BY seq DESC LIMIT 1",
    ),
    addAudit: db.prepare<[number, string, string, string, string, string | null, string, string]>(
      `INSERT INTO oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, timestamp, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    indexAudit: db.prepare<[]>(indexAuditTail(AUDIT_UPTO)),
    auditIndexed: db.prepare<[number]>('UPDATE oc_indexed SET audit_upto = ?'),
    readAudit: db.prepare<[number, number], DataRow>('SELECT data FROM oc_audit WHERE seq >= ? ORDER BY seq LIMIT ?'),
    countAudit: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM oc_audit'),
    countAuditType: db.prepare<[{ eventType: string }], { n: number }>(
      `SELECT (SELECT count(*) FROM oc_audit_keys
                WHERE key = '${AUDIT_KEY.eventType}' || @eventType AND seq <= ${AUDIT_UPTO})
            + (SELECT count(*) FROM oc_audit WHERE seq > ${AUDIT_UPTO} AND event_type = @eventType) AS n`,
    ),
    clear: [
      ...['oc_entities', 'oc_index', 'oc_unique', 'oc_dirty', 'oc_audit', 'oc_audit_keys'].map((t) =>
        db.prepare<[]>(`DELETE FROM ${t}`),
      ),
      db.prepare<[]>('UPDATE oc_indexed SET audit_upto = 0, entities_upto = 0'),
    ],
  };
}
