import type { AuditEvent, AuditHead } from '../types.js';
import { indexEntries, uniqueKeys } from './indexing.js';
import { decodeJson, encodeJson, encodeText } from './postgres-codec.js';
import type { Sql } from './postgres-runner.js';
import { type Change, type CommitConflict, createdAtOf, type Write } from './store.js';

/** Audit rows per INSERT statement, well below the 65535 parameters PostgreSQL allows. */
const AUDIT_BATCH = 500;
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7000;

/**
 * Applies one entity write inside a transaction on the tables of schema `s` (quoted); returns why it
 * cannot be applied, if so. Rows of other writers are waited for, then re-checked (READ COMMITTED).
 */
export async function applyWrite(tx: Sql, s: string, w: Write): Promise<CommitConflict | undefined> {
  const id = encodeText(w.entity.id);
  const data = encodeJson(w.entity);
  const createdAt = encodeText(createdAtOf(w.entity));
  if (w.expectedVersion === undefined) {
    const r = await tx.query(
      `INSERT INTO ${s}.oc_entities (kind, id, version, created_at, data) VALUES ($1, $2, $3, $4, $5::text::jsonb)
       ON CONFLICT (kind, id) DO NOTHING`,
      [w.kind, id, w.entity.version, createdAt, data],
    );
    if (r.rowCount === 0) return { kind: w.kind, id: w.entity.id, reason: 'exists' };
  } else {
    const r = await tx.query(
      `UPDATE ${s}.oc_entities SET version = $4, created_at = $5, data = $6::text::jsonb
       WHERE kind = $1 AND id = $2 AND version = $3`,
      [w.kind, id, w.expectedVersion, w.entity.version, createdAt, data],
    );
    if (r.rowCount === 0) {
      const found = await tx.query(`SELECT 1 FROM ${s}.oc_entities WHERE kind = $1 AND id = $2`, [w.kind, id]);
      return { kind: w.kind, id: w.entity.id, reason: found.rows.length === 0 ? 'missing' : 'version' };
    }
  }
  const index = indexEntries(w.kind, w.entity);
  const unique = uniqueKeys(w.kind, w.entity);
  // Index rows become exactly indexEntries(entity), at the entity's created_at; unique keys the
  // entity no longer has are released.
  await tx.query(
    `WITH wanted AS (SELECT DISTINCT f, v FROM unnest($3::text[], $4::text[]) AS t(f, v)),
     stale_index AS (
       DELETE FROM ${s}.oc_index x WHERE x.kind = $1 AND x.id = $2
         AND (x.field, x.value) NOT IN (SELECT f, v FROM wanted)),
     stale_unique AS (
       DELETE FROM ${s}.oc_unique u WHERE u.kind = $1 AND u.id = $2
         AND (u.key, u.value) NOT IN (SELECT k, v FROM unnest($5::text[], $6::text[]) AS t(k, v)))
     INSERT INTO ${s}.oc_index AS x (kind, field, value, id, created_at) SELECT $1, f, v, $2, $7 FROM wanted
     ON CONFLICT (kind, field, value, id) DO UPDATE SET created_at = excluded.created_at
       WHERE x.created_at <> excluded.created_at`,
    [
      w.kind,
      id,
      index.map(([f]) => f),
      index.map(([, v]) => encodeText(v)),
      unique.map(([k]) => encodeText(k)),
      unique.map(([, v]) => encodeText(v)),
      createdAt,
    ],
  );
  for (const [key, value] of unique) {
    // Inserts the key, or keeps it when this entity owns it already; returns no row when another does.
    const r = await tx.query(
      `INSERT INTO ${s}.oc_unique AS u (kind, key, value, id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, key, value) DO UPDATE SET id = excluded.id WHERE u.id = excluded.id RETURNING id`,
      [w.kind, encodeText(key), encodeText(value), id],
    );
    if (r.rows.length === 0) return { kind: w.kind, id: w.entity.id, reason: 'unique', key };
  }
  return undefined;
}

/** Queues one NOTIFY `kind:id` per written entity; PostgreSQL delivers them only if the transaction commits. */
export async function notifyWrites(tx: Sql, channel: string, writes: Write[]): Promise<void> {
  const payloads = [...new Set(writes.map((w) => `${w.kind}:${encodeText(w.entity.id)}`))].filter(
    (p) => Buffer.byteLength(p) <= MAX_PAYLOAD_BYTES,
  );
  if (payloads.length > 0) {
    await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [channel, payloads]);
  }
}

/**
 * Seals the drafts of `change` after the current head and inserts them. Call it last in the
 * transaction: the head row lock it takes is the one global lock, and it is held until COMMIT.
 */
export async function appendAudit(tx: Sql, s: string, change: Change): Promise<AuditEvent[]> {
  if (change.audit.length === 0) return [];
  const head = (await tx.query(`SELECT seq, hash FROM ${s}.oc_audit_head WHERE singleton FOR UPDATE`)).rows[0];
  if (head === undefined) throw new Error(`the audit head row of ${s} is missing`);
  let prev: AuditHead | null = Number(head.seq) === 0 ? null : { seq: Number(head.seq), hash: String(head.hash) };
  const events = change.audit.map((draft) => {
    const event = change.seal(draft, prev);
    prev = { seq: event.seq, hash: event.hash };
    return event;
  });
  const stored: AuditEvent[] = [];
  for (let i = 0; i < events.length; i += AUDIT_BATCH) {
    const batch = events.slice(i, i + AUDIT_BATCH);
    const params: unknown[] = [];
    const rows = batch.map((e) => {
      const n = params.length;
      const json = encodeJson(e);
      // Callers get what a read would return, not objects shared with their drafts.
      stored.push(decodeJson<AuditEvent>(json));
      params.push(
        e.seq,
        encodeText(e.id),
        encodeText(e.eventType),
        encodeText(e.entityType),
        encodeText(e.entityId),
        e.actorId === undefined ? null : encodeText(e.actorId),
        encodeText(e.timestamp),
        json,
      );
      return `($${n + 1}::bigint, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8}::text::jsonb)`;
    });
    const insert = `INSERT INTO ${s}.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
      VALUES ${rows.join(', ')}`;
    if (i + AUDIT_BATCH < events.length) {
      await tx.query(insert, params);
      continue;
    }
    // The last batch moves the head in the same statement: one round trip less under the lock.
    const last = batch[batch.length - 1] as AuditEvent;
    params.push(last.seq, last.hash);
    await tx.query(
      `WITH appended AS (${insert})
       UPDATE ${s}.oc_audit_head SET seq = $${params.length - 1}::bigint, hash = $${params.length} WHERE singleton`,
      params,
    );
  }
  return stored;
}
