import type BetterSqlite3 from 'better-sqlite3';

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
];

/**
 * Brings the schema to the latest version. Runs inside `BEGIN IMMEDIATE` and re-reads the version
 * there, so several connections (or processes) starting at once apply each migration exactly once.
 */
export function migrate(db: BetterSqlite3.Database): void {
  db.prepare('BEGIN IMMEDIATE').run();
  try {
    db.exec('CREATE TABLE IF NOT EXISTS oc_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const row = db.prepare('SELECT max(version) AS v FROM oc_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
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

type Stmt<P extends unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;

/** The fixed statements of `SqliteStore`, prepared once after migrating. */
export interface Statements {
  begin: Stmt<[]>;
  commit: Stmt<[]>;
  rollback: Stmt<[]>;
  get: Stmt<[kind: string, id: string], DataRow>;
  createdAt: Stmt<[kind: string, id: string], { created_at: string }>;
  version: Stmt<[kind: string, id: string], { version: number }>;
  uniqueOwner: Stmt<[kind: string, key: string, value: string], { id: string }>;
  byUnique: Stmt<[kind: string, key: string, value: string], DataRow>;
  upsert: Stmt<[kind: string, id: string, version: number, status: string | null, createdAt: string, data: string]>;
  dropIndex: Stmt<[kind: string, id: string]>;
  addIndex: Stmt<[kind: string, field: string, value: string, id: string, createdAt: string]>;
  dropUnique: Stmt<[kind: string, id: string]>;
  addUnique: Stmt<[kind: string, key: string, value: string, id: string]>;
  all: Stmt<[kind: string, limit: number], DataRow>;
  allAfter: Stmt<[kind: string, afterCreatedAt: string, after: string, limit: number], DataRow>;
  count: Stmt<[kind: string], { status: string | null; n: number }>;
  head: Stmt<[], DataRow>;
  addAudit: Stmt<[number, string, string, string, string, string | null, string, string]>;
  readAudit: Stmt<[fromSeq: number, limit: number], DataRow>;
  countAudit: Stmt<[], { n: number }>;
  countAuditType: Stmt<[eventType: string], { n: number }>;
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
    version: db.prepare<[string, string], { version: number }>(
      'SELECT version FROM oc_entities WHERE kind = ? AND id = ?',
    ),
    uniqueOwner: db.prepare<[string, string, string], { id: string }>(
      'SELECT id FROM oc_unique WHERE kind = ? AND key = ? AND value = ?',
    ),
    byUnique: db.prepare<[string, string, string], DataRow>(
      `SELECT e.data FROM oc_unique u JOIN oc_entities e ON e.kind = u.kind AND e.id = u.id
       WHERE u.kind = ? AND u.key = ? AND u.value = ?`,
    ),
    upsert: db.prepare<[string, string, number, string | null, string, string]>(
      `INSERT INTO oc_entities (kind, id, version, status, created_at, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, status = excluded.status,
         created_at = excluded.created_at, data = excluded.data`,
    ),
    dropIndex: db.prepare<[string, string]>('DELETE FROM oc_index WHERE kind = ? AND id = ?'),
    addIndex: db.prepare<[string, string, string, string, string]>(
      'INSERT OR IGNORE INTO oc_index (kind, field, value, id, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    dropUnique: db.prepare<[string, string]>('DELETE FROM oc_unique WHERE kind = ? AND id = ?'),
    addUnique: db.prepare<[string, string, string, string]>(
      'INSERT INTO oc_unique (kind, key, value, id) VALUES (?, ?, ?, ?)',
    ),
    all: db.prepare<[string, number], DataRow>(
      'SELECT data FROM oc_entities WHERE kind = ? ORDER BY created_at, id LIMIT ?',
    ),
    allAfter: db.prepare<[string, string, string, number], DataRow>(
      'SELECT data FROM oc_entities WHERE kind = ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?',
    ),
    count: db.prepare<[string], { status: string | null; n: number }>(
      'SELECT status, count(*) AS n FROM oc_entities WHERE kind = ? GROUP BY status',
    ),
    head: db.prepare<[], DataRow>('SELECT data FROM oc_audit ORDER BY seq DESC LIMIT 1'),
    addAudit: db.prepare<[number, string, string, string, string, string | null, string, string]>(
      `INSERT INTO oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, timestamp, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    readAudit: db.prepare<[number, number], DataRow>('SELECT data FROM oc_audit WHERE seq >= ? ORDER BY seq LIMIT ?'),
    countAudit: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM oc_audit'),
    countAuditType: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM oc_audit WHERE event_type = ?'),
    clear: ['oc_entities', 'oc_index', 'oc_unique', 'oc_audit'].map((t) => db.prepare<[]>(`DELETE FROM ${t}`)),
  };
}
