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
  {
    version: 3,
    name: 'one-statement commits (oc_commit), audit max_ts for date ranges',
    statements: (s) => [
      // max_ts: the greatest timestamp of the records up to this one. It never decreases along seq,
      // whatever the clocks of the writers did, so the first seq whose max_ts >= `from` is a lower
      // bound of every record with timestamp >= `from` (see queryAudit). A trigger sets it from the
      // record before, so it is right for every insert, also rows written by hand or restored.
      `ALTER TABLE ${s}.oc_audit ADD COLUMN max_ts text COLLATE "C"`,
      `UPDATE ${s}.oc_audit a SET max_ts = m.max_ts
        FROM (SELECT seq, max("timestamp") OVER (ORDER BY seq) AS max_ts FROM ${s}.oc_audit) m
        WHERE a.seq = m.seq`,
      `ALTER TABLE ${s}.oc_audit ALTER COLUMN max_ts SET NOT NULL`,
      `CREATE INDEX oc_audit_max_ts ON ${s}.oc_audit (max_ts, seq)`,
      `CREATE FUNCTION ${s}.oc_audit_set_max_ts() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        NEW.max_ts := greatest(NEW."timestamp",
          (SELECT a.max_ts FROM ${s}.oc_audit a WHERE a.seq < NEW.seq ORDER BY a.seq DESC LIMIT 1));
        RETURN NEW;
      END $fn$`,
      `CREATE TRIGGER oc_audit_max_ts BEFORE INSERT ON ${s}.oc_audit
        FOR EACH ROW EXECUTE FUNCTION ${s}.oc_audit_set_max_ts()`,
      commitFunction(s),
    ],
  },
  {
    // The same commit with less work on the server: oc_commit writes max_ts itself (the trigger now
    // fires only for rows inserted without it), takes the head lock with the conditional UPDATE that
    // moves it, and runs fewer statements, none of which is planned again per call (see
    // commitFunctionV4). Its signature and its errors stay those of version 3, so a process of the
    // previous version keeps working during an upgrade.
    // An index row has two b-trees instead of three: the key (kind, field, value, created_at, id),
    // which orders query pages, is now the primary key, in place of (kind, field, value, id). The
    // two are equally unique, as every index row of an entity carries the entity's created_at.
    // Building the new key reads the whole index table once.
    version: 4,
    name: 'leaner oc_commit: max_ts written by the commit, the head moved by one conditional update, index rows keyed by created_at',
    statements: (s) => [
      `ALTER TABLE ${s}.oc_index DROP CONSTRAINT oc_index_pkey`,
      `DROP INDEX ${s}.oc_index_created`,
      `ALTER TABLE ${s}.oc_index ADD CONSTRAINT oc_index_pkey PRIMARY KEY (kind, field, value, created_at, id)`,
      `DROP TRIGGER oc_audit_max_ts ON ${s}.oc_audit`,
      `CREATE TRIGGER oc_audit_max_ts BEFORE INSERT ON ${s}.oc_audit
        FOR EACH ROW WHEN (NEW.max_ts IS NULL) EXECUTE FUNCTION ${s}.oc_audit_set_max_ts()`,
      commitFunctionV4(s),
    ],
  },
];

/**
 * The parameters of `oc_commit` and the start of its declarations, the same in every schema version:
 * version 4 replaces version 3's function in place, so a process still at version 3 keeps calling it.
 */
const OC_COMMIT_HEAD = `(
      p_kind text[], p_id text[], p_expected int[], p_version int[], p_created text[], p_data text[],
      p_ix_w int[], p_ix_field text[], p_ix_value text[],
      p_uq_w int[], p_uq_key text[], p_uq_value text[],
      p_channel text, p_payloads text[],
      p_head_seq bigint, p_head_hash text,
      p_a_id text[], p_a_event text[], p_a_etype text[], p_a_eid text[], p_a_actor text[], p_a_ts text[],
      p_a_data text[], p_new_hash text)
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      i int;
      j int;
      rc bigint;
      n int := coalesce(array_length(p_kind, 1), 0);`;

/**
 * `oc_commit`: a whole commit in one statement, so that it costs one round trip. In order: each
 * entity write (conditional insert or update), its index rows (only those that changed) and unique
 * keys, the NOTIFY payloads, and last the audit head row, locked only now and held until COMMIT. A
 * failed condition raises SQLSTATE OC409 with DETAIL `write:reason[:key]` (write counts from 1); a
 * head that is not the one the records were sealed after raises OC412 with DETAIL `seq:hash`. Either
 * aborts the statement, so nothing of the commit is written.
 */
function commitFunction(s: string): string {
  return `CREATE FUNCTION ${s}.oc_commit${OC_COMMIT_HEAD}
      h record;
    BEGIN
      FOR i IN 1..n LOOP
        IF p_expected[i] IS NULL THEN
          INSERT INTO ${s}.oc_entities (kind, id, version, created_at, data)
            VALUES (p_kind[i], p_id[i], p_version[i], p_created[i], p_data[i]::jsonb)
            ON CONFLICT (kind, id) DO NOTHING;
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict', DETAIL = i || ':exists';
          END IF;
        ELSE
          UPDATE ${s}.oc_entities SET version = p_version[i], created_at = p_created[i], data = p_data[i]::jsonb
            WHERE kind = p_kind[i] AND id = p_id[i] AND version = p_expected[i];
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            PERFORM 1 FROM ${s}.oc_entities WHERE kind = p_kind[i] AND id = p_id[i];
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict',
              DETAIL = i || CASE WHEN FOUND THEN ':version' ELSE ':missing' END;
          END IF;
        END IF;
        -- Index rows become exactly the entity's entries, at its created_at; unchanged ones stay as
        -- they are. A new entity has none yet (ids are never reused: entities are only deleted by clear).
        IF p_expected[i] IS NOT NULL THEN
          DELETE FROM ${s}.oc_index x WHERE x.kind = p_kind[i] AND x.id = p_id[i]
            AND NOT EXISTS (SELECT 1 FROM unnest(p_ix_w, p_ix_field, p_ix_value) AS t(w, f, v)
                            WHERE t.w = i AND t.f = x.field AND t.v = x.value);
          UPDATE ${s}.oc_index x SET created_at = p_created[i]
            WHERE x.kind = p_kind[i] AND x.id = p_id[i] AND x.created_at <> p_created[i];
          -- Unique keys the entity no longer has are released.
          DELETE FROM ${s}.oc_unique u WHERE u.kind = p_kind[i] AND u.id = p_id[i]
            AND NOT EXISTS (SELECT 1 FROM unnest(p_uq_w, p_uq_key, p_uq_value) AS t(w, k, v)
                            WHERE t.w = i AND t.k = u.key AND t.v = u.value);
        END IF;
        INSERT INTO ${s}.oc_index (kind, field, value, id, created_at)
          SELECT DISTINCT p_kind[i], t.f, t.v, p_id[i], p_created[i]
          FROM unnest(p_ix_w, p_ix_field, p_ix_value) AS t(w, f, v)
          WHERE t.w = i AND (p_expected[i] IS NULL OR NOT EXISTS (SELECT 1 FROM ${s}.oc_index x
            WHERE x.kind = p_kind[i] AND x.field = t.f AND x.value = t.v AND x.id = p_id[i]))
          ON CONFLICT DO NOTHING;
        -- Each unique key the entity has is taken, or already its own.
        FOR j IN 1..coalesce(array_length(p_uq_w, 1), 0) LOOP
          CONTINUE WHEN p_uq_w[j] <> i;
          -- A key this entity holds already is left alone (no new row version).
          CONTINUE WHEN EXISTS (SELECT 1 FROM ${s}.oc_unique u WHERE u.kind = p_kind[i] AND u.key = p_uq_key[j]
            AND u.value = p_uq_value[j] AND u.id = p_id[i]);
          INSERT INTO ${s}.oc_unique (kind, key, value, id) VALUES (p_kind[i], p_uq_key[j], p_uq_value[j], p_id[i])
            ON CONFLICT (kind, key, value) DO NOTHING;
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict', DETAIL = i || ':unique:' || p_uq_key[j];
          END IF;
        END LOOP;
      END LOOP;
      IF coalesce(array_length(p_payloads, 1), 0) > 0 THEN
        PERFORM pg_notify(p_channel, p) FROM unnest(p_payloads) AS p;
      END IF;
      n := coalesce(array_length(p_a_id, 1), 0);
      IF n = 0 THEN
        RETURN;
      END IF;
      -- The one global lock, taken last: appends are serialised from here to COMMIT only.
      SELECT seq, hash INTO h FROM ${s}.oc_audit_head WHERE singleton FOR UPDATE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'the audit head row is missing';
      END IF;
      IF h.seq <> p_head_seq OR h.hash IS DISTINCT FROM p_head_hash THEN
        RAISE EXCEPTION USING ERRCODE = 'OC412', MESSAGE = 'the audit head moved',
          DETAIL = h.seq || ':' || coalesce(h.hash, '');
      END IF;
      INSERT INTO ${s}.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
        SELECT p_head_seq + t.o, t.id, t.ev, t.et, t.ei, t.ac, t.ts, t.d::jsonb
        FROM unnest(p_a_id, p_a_event, p_a_etype, p_a_eid, p_a_actor, p_a_ts, p_a_data)
          WITH ORDINALITY AS t(id, ev, et, ei, ac, ts, d, o);
      UPDATE ${s}.oc_audit_head SET seq = p_head_seq + n, hash = p_new_hash WHERE singleton;
    END $fn$`;
}

/**
 * `oc_commit` of version 4: what version 3 does, with fewer statements and simpler plans. Every
 * statement gets one generic plan that does not depend on the table's size when it was made: no
 * join the planner could turn into a full scan, no sort, hash or window node per call.
 * - The index rows and unique keys of write `i` are a contiguous run of their arrays (`p_ix_w` and
 *   `p_uq_w` ascend, as sealBatch lays them out); each write takes its slice, and entries left over
 *   raise an error, so none is ever skipped.
 * - An update deletes the index rows the entity no longer has (or has at another created_at) and
 *   inserts its entries, those it has already being skipped by ON CONFLICT on the key; unchanged
 *   rows get no new version. The entity row, locked by the update (or new and not yet visible),
 *   guards its index rows and unique keys against other commits.
 * - The head is moved by `UPDATE ... WHERE seq = p_head_seq AND hash = p_head_hash`: the row lock is
 *   taken and checked at once. When no row matched, the head is read to report it (OC412).
 * - max_ts of each record is the greater of the running maximum of the batch's timestamps and the
 *   max_ts of the record at the head; the trigger is left for rows inserted by hand.
 */
function commitFunctionV4(s: string): string {
  return `CREATE OR REPLACE FUNCTION ${s}.oc_commit${OC_COMMIT_HEAD}
      nix int := coalesce(array_length(p_ix_w, 1), 0);
      nuq int := coalesce(array_length(p_uq_w, 1), 0);
      ix int := 1;
      ix_lo int;
      uq int := 1;
      uq_lo int;
      keys text[];
      run text;
      maxes text[];
      h record;
    BEGIN
      FOR i IN 1..n LOOP
        ix_lo := ix;
        WHILE ix <= nix AND p_ix_w[ix] = i LOOP
          ix := ix + 1;
        END LOOP;
        uq_lo := uq;
        WHILE uq <= nuq AND p_uq_w[uq] = i LOOP
          uq := uq + 1;
        END LOOP;
        IF p_expected[i] IS NULL THEN
          INSERT INTO ${s}.oc_entities (kind, id, version, created_at, data)
            VALUES (p_kind[i], p_id[i], p_version[i], p_created[i], p_data[i]::jsonb)
            ON CONFLICT (kind, id) DO NOTHING;
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict', DETAIL = i || ':exists';
          END IF;
          -- A new entity has no index rows yet (ids are never reused: entities are only deleted by clear).
          IF ix > ix_lo THEN
            INSERT INTO ${s}.oc_index (kind, field, value, id, created_at)
              SELECT p_kind[i], t.f, t.v, p_id[i], p_created[i]
              FROM unnest(p_ix_field[ix_lo:ix - 1], p_ix_value[ix_lo:ix - 1]) AS t(f, v);
          END IF;
        ELSE
          UPDATE ${s}.oc_entities SET version = p_version[i], created_at = p_created[i], data = p_data[i]::jsonb
            WHERE kind = p_kind[i] AND id = p_id[i] AND version = p_expected[i];
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            PERFORM 1 FROM ${s}.oc_entities WHERE kind = p_kind[i] AND id = p_id[i];
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict',
              DETAIL = i || CASE WHEN FOUND THEN ':version' ELSE ':missing' END;
          END IF;
          -- Index rows become exactly the entity's entries, at its created_at; unchanged ones stay.
          -- An entry is field, U+001F, value: field names are identifiers, so it names one pair.
          keys := '{}';
          FOR j IN ix_lo..ix - 1 LOOP
            keys := keys || (p_ix_field[j] || E'\\x1f' || p_ix_value[j]);
          END LOOP;
          DELETE FROM ${s}.oc_index x WHERE x.kind = p_kind[i] AND x.id = p_id[i]
            AND (x.created_at <> p_created[i] OR x.field || E'\\x1f' || x.value <> ALL (keys));
          IF ix > ix_lo THEN
            INSERT INTO ${s}.oc_index (kind, field, value, id, created_at)
              SELECT p_kind[i], t.f, t.v, p_id[i], p_created[i]
              FROM unnest(p_ix_field[ix_lo:ix - 1], p_ix_value[ix_lo:ix - 1]) AS t(f, v)
              ON CONFLICT DO NOTHING;
          END IF;
          -- Unique keys the entity no longer has are released.
          IF uq > uq_lo THEN
            DELETE FROM ${s}.oc_unique u WHERE u.kind = p_kind[i] AND u.id = p_id[i]
              AND NOT EXISTS (SELECT 1 FROM unnest(p_uq_key[uq_lo:uq - 1], p_uq_value[uq_lo:uq - 1]) AS t(k, v)
                              WHERE t.k = u.key AND t.v = u.value);
          ELSE
            DELETE FROM ${s}.oc_unique u WHERE u.kind = p_kind[i] AND u.id = p_id[i];
          END IF;
        END IF;
        -- Each unique key the entity has is taken, or already its own.
        FOR j IN uq_lo..uq - 1 LOOP
          -- A key this entity holds already is left alone (no new row version).
          CONTINUE WHEN EXISTS (SELECT 1 FROM ${s}.oc_unique u WHERE u.kind = p_kind[i] AND u.key = p_uq_key[j]
            AND u.value = p_uq_value[j] AND u.id = p_id[i]);
          INSERT INTO ${s}.oc_unique (kind, key, value, id) VALUES (p_kind[i], p_uq_key[j], p_uq_value[j], p_id[i])
            ON CONFLICT (kind, key, value) DO NOTHING;
          GET DIAGNOSTICS rc = ROW_COUNT;
          IF rc = 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'OC409', MESSAGE = 'commit conflict', DETAIL = i || ':unique:' || p_uq_key[j];
          END IF;
        END LOOP;
      END LOOP;
      IF ix <= nix OR uq <= nuq THEN
        RAISE EXCEPTION 'oc_commit: index entries and unique keys must be grouped by write, in order';
      END IF;
      IF coalesce(array_length(p_payloads, 1), 0) > 0 THEN
        PERFORM pg_notify(p_channel, p) FROM unnest(p_payloads) AS p;
      END IF;
      n := coalesce(array_length(p_a_id, 1), 0);
      IF n = 0 THEN
        RETURN;
      END IF;
      -- The one global lock, taken last: appends are serialised from here to COMMIT only. The update
      -- applies only to the head the records were sealed after.
      UPDATE ${s}.oc_audit_head SET seq = p_head_seq + n, hash = p_new_hash
        WHERE singleton AND seq = p_head_seq AND hash IS NOT DISTINCT FROM p_head_hash;
      GET DIAGNOSTICS rc = ROW_COUNT;
      IF rc = 0 THEN
        SELECT seq, hash INTO h FROM ${s}.oc_audit_head WHERE singleton;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'the audit head row is missing';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'OC412', MESSAGE = 'the audit head moved',
          DETAIL = h.seq || ':' || coalesce(h.hash, '');
      END IF;
      -- The running maximum of the batch's timestamps; the record at the head is read by the insert,
      -- a statement after the update, so it sees that record (committed before the lock was granted).
      maxes := p_a_ts;
      run := p_a_ts[1];
      FOR j IN 2..n LOOP
        run := greatest(run, p_a_ts[j]);
        maxes[j] := run;
      END LOOP;
      INSERT INTO ${s}.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data, max_ts)
        SELECT p_head_seq + t.o, t.id, t.ev, t.et, t.ei, t.ac, t.ts, t.d::jsonb,
          greatest((SELECT a.max_ts FROM ${s}.oc_audit a WHERE a.seq <= p_head_seq ORDER BY a.seq DESC LIMIT 1), t.m)
        FROM unnest(p_a_id, p_a_event, p_a_etype, p_a_eid, p_a_actor, p_a_ts, p_a_data, maxes)
          WITH ORDINALITY AS t(id, ev, et, ei, ac, ts, d, m, o);
    END $fn$`;
}

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
 * Creates the schema and applies pending migrations, up to `target` (tests build older schemas).
 * Safe when several processes start at once: the work happens under a transaction-scoped advisory
 * lock and the version is read again under it.
 */
export async function migrate(db: SqlRunner, schema: string, target = SCHEMA_VERSION): Promise<void> {
  // Fast path without the lock, and without needing CREATE rights once the schema is current.
  const seen = await currentVersion(db, schema);
  checkNotNewer(seen, schema);
  if (seen >= target) return;
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
      if (m.version <= version || m.version > target) continue;
      for (const statement of m.statements(s)) await tx.query(statement);
      await tx.query(`INSERT INTO ${s}.oc_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
  });
}
