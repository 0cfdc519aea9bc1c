import { decodeJson, encodeText } from './postgres-codec.js';
import type { Sql } from './postgres-runner.js';
import type { EntityKind, EntityQuery } from './store.js';

/** Index entries counted per filter when choosing the one that drives a query. */
const SIZE_PROBE_CAP = 5000;

/**
 * Orders the filters smallest first, by their number of index entries (counted up to a cap): the
 * first one drives the scan, so a page never reads more entries than the smallest filter holds.
 */
async function bySize(db: Sql, s: string, kind: EntityKind, filters: EntityQuery['filters']) {
  const params: unknown[] = [kind, SIZE_PROBE_CAP];
  const probes = filters.map(([field, value]) => {
    params.push(field, encodeText(value));
    const [f, v] = [params.length - 1, params.length];
    return `(SELECT count(*) FROM (SELECT 1 FROM ${s}.oc_index WHERE kind = $1 AND field = $${f} AND value = $${v} LIMIT $2) t)`;
  });
  const row = (await db.query(`SELECT ARRAY[${probes.join(', ')}] AS sizes`, params)).rows[0];
  const sizes = (row?.sizes as unknown[] | undefined)?.map(Number) ?? [];
  return filters
    .map((filter, i) => ({ filter, size: sizes[i] ?? 0 }))
    .sort((a, b) => a.size - b.size)
    .map((x) => x.filter);
}

/**
 * Entities of `kind` matching every filter, ordered by (created_at, id), after `q.after`, at most
 * `q.limit`: one ordered index scan (keyset paging) that stops after `limit` matches. The cursor is
 * the (created_at, id) of the entity `q.after` names; when there is none, the comparison is NULL and
 * the page is empty. The other filters are checked per id with a primary-key lookup; they are written
 * as scalar subqueries, not EXISTS, so the planner cannot turn them into a join that reads every
 * match before sorting.
 */
export async function queryEntities<T>(db: Sql, s: string, kind: EntityKind, q: EntityQuery): Promise<T[]> {
  const params: unknown[] = [kind];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const cursor = (t: string) => {
    const after = p(encodeText(q.after as string));
    return `(${t}.created_at, ${t}.id) > ((SELECT c.created_at FROM ${s}.oc_entities c WHERE c.kind = $1 AND c.id = ${after}), ${after})`;
  };
  let sql: string;
  if (q.filters.length === 0) {
    const after = q.after === undefined ? '' : ` AND ${cursor('e')}`;
    sql = `SELECT e.data::text AS data FROM ${s}.oc_entities e WHERE e.kind = $1${after}
      ORDER BY e.created_at, e.id LIMIT ${p(q.limit)}`;
  } else {
    const [first, ...rest] = q.filters.length === 1 ? q.filters : await bySize(db, s, kind, q.filters);
    const [field, value] = first as [string, string];
    const where = [`i0.kind = $1`, `i0.field = ${p(field)}`, `i0.value = ${p(encodeText(value))}`];
    rest.forEach(([f, v], n) => {
      const t = `i${n + 1}`;
      where.push(
        `(SELECT true FROM ${s}.oc_index ${t} WHERE ${t}.kind = $1 AND ${t}.field = ${p(f)} AND ${t}.value = ${p(encodeText(v))} AND ${t}.created_at = i0.created_at AND ${t}.id = i0.id)`,
      );
    });
    if (q.after !== undefined) where.push(cursor('i0'));
    sql = `SELECT e.data::text AS data FROM ${s}.oc_index i0
      JOIN ${s}.oc_entities e ON e.kind = i0.kind AND e.id = i0.id
      WHERE ${where.join(' AND ')} ORDER BY i0.created_at, i0.id LIMIT ${p(q.limit)}`;
  }
  const r = await db.query(sql, params);
  return r.rows.map((row) => decodeJson<T>(row.data as string));
}
