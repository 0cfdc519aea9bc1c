import { createHash } from 'node:crypto';
import { OrchestrationError } from '../errors.js';
import { quoteIdent, type SqlRunner } from './postgres-runner.js';

/** Schema names the store accepts: a plain identifier, short enough to name its NOTIFY channel too. */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

interface Migration {
  version: number;
  name: string;
  /** Statements, given the quoted schema name. */
  statements(s: string): string[];
}

/**
 * Versioned, append-only: a released migration never changes; a new one gets the next version.
 * Every key column is `COLLATE "C"` so that ids order by code unit, as they do in JavaScript.
 */
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'entities, indexes, unique keys, audit chain',
    statements: (s) => [
      `CREATE TABLE ${s}.oc_entities (
        kind text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        version integer NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (kind, id))`,
      `CREATE TABLE ${s}.oc_index (
        kind text COLLATE "C" NOT NULL,
        field text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        PRIMARY KEY (kind, field, value, id))`,
      `CREATE INDEX oc_index_entity ON ${s}.oc_index (kind, id)`,
      `CREATE TABLE ${s}.oc_unique (
        kind text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        PRIMARY KEY (kind, key, value))`,
      `CREATE INDEX oc_unique_entity ON ${s}.oc_unique (kind, id)`,
      `CREATE TABLE ${s}.oc_audit (
        seq bigint PRIMARY KEY,
        id text COLLATE "C" NOT NULL UNIQUE,
        event_type text COLLATE "C" NOT NULL,
        entity_type text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        actor_id text COLLATE "C",
        "timestamp" text COLLATE "C" NOT NULL,
        data jsonb NOT NULL)`,
      `CREATE INDEX oc_audit_event_type ON ${s}.oc_audit (event_type, seq)`,
      `CREATE INDEX oc_audit_entity_type ON ${s}.oc_audit (entity_type, seq)`,
      `CREATE INDEX oc_audit_entity_id ON ${s}.oc_audit (entity_id, seq)`,
      `CREATE INDEX oc_audit_actor_id ON ${s}.oc_audit (actor_id, seq)`,
      `CREATE INDEX oc_audit_timestamp ON ${s}.oc_audit ("timestamp", seq)`,
      // One row, locked FOR UPDATE by every append: the chain is extended by one transaction at a time.
      `CREATE TABLE ${s}.oc_audit_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        seq bigint NOT NULL,
        hash text)`,
      `INSERT INTO ${s}.oc_audit_head (singleton, seq, hash) VALUES (true, 0, NULL)`,
    ],
  },
  {
    // Queries order by creation time, (created_at, id), not by id alone: explicit ids need not sort
    // by time. Both tables carry the entity's createdAt so that a page is one ordered index scan.
    version: 2,
    name: 'order entity queries by created_at, then id',
    statements: (s) => [
      `ALTER TABLE ${s}.oc_entities ADD COLUMN created_at text COLLATE "C" NOT NULL DEFAULT ''`,
      `UPDATE ${s}.oc_entities SET created_at = data->>'createdAt'
        WHERE jsonb_typeof(data->'createdAt') = 'string'`,
      `CREATE INDEX oc_entities_created ON ${s}.oc_entities (kind, created_at, id)`,
      `ALTER TABLE ${s}.oc_index ADD COLUMN created_at text COLLATE "C" NOT NULL DEFAULT ''`,
      `UPDATE ${s}.oc_index i SET created_at = e.created_at FROM ${s}.oc_entities e
        WHERE e.kind = i.kind AND e.id = i.id AND e.created_at <> ''`,
      `CREATE INDEX oc_index_created ON ${s}.oc_index (kind, field, value, created_at, id)`,
    ],
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** A 64-bit advisory lock key of its own for each schema. */
function lockKey(schema: string): string {
  return createHash('sha256').update(`orchestration-connector:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}

async function currentVersion(db: Pick<SqlRunner, 'query'>, schema: string): Promise<number> {
  const s = quoteIdent(schema);
  const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [`${s}.oc_migrations`]);
  if (exists.rows[0]?.present !== true) return 0;
  const r = await db.query(`SELECT coalesce(max(version), 0) AS version FROM ${s}.oc_migrations`);
  return Number(r.rows[0]?.version ?? 0);
}

function checkNotNewer(version: number, schema: string): void {
  if (version > SCHEMA_VERSION) {
    throw new OrchestrationError(
      'STORE_ERROR',
      `Schema '${schema}' is at version ${version}, newer than this orchestration-connector knows (${SCHEMA_VERSION}). Upgrade orchestration-connector in this process.`,
      { retryable: false, schemaVersion: version, supportedVersion: SCHEMA_VERSION },
    );
  }
}

/**
 * Creates the schema and applies pending migrations. Safe when several processes start at once: the
 * work happens under a transaction-scoped advisory lock and the version is read again under it.
 */
export async function migrate(db: SqlRunner, schema: string): Promise<void> {
  // Fast path without the lock, and without needing CREATE rights once the schema is current.
  const seen = await currentVersion(db, schema);
  checkNotNewer(seen, schema);
  if (seen === SCHEMA_VERSION) return;
  const s = quoteIdent(schema);
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(schema)]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${s}.oc_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const version = await currentVersion(tx, schema);
    checkNotNewer(version, schema);
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      for (const statement of m.statements(s)) await tx.query(statement);
      await tx.query(`INSERT INTO ${s}.oc_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
  });
}
