/**
 * Growth: how query latency, heap and verification behave as the store fills.
 * - queries: a page of 100 pending action proposals (keyset page after a cursor in the middle) and an
 *   audit date-range page, at 1k, 10k, 100k and 1M stored items. An item is one action proposal (every
 *   tenth pending, the rest executed) with one audit record, one simulated second apart. Memory and
 *   SQLite are filled through `store.commit()` in batches of 1,000; PGlite and PostgreSQL with
 *   `INSERT ... SELECT generate_series()` into the store's own tables (a million commits through the
 *   driver would take longer than the whole run may), then ANALYZE, as autovacuum would.
 * - heap: retained heap per stored executed proposal (5 audit records each), after real cycles through
 *   the connector on the memory store, at 100k and 1M.
 * - verifyAuditTrail: events per second over the trail of the 100k cycles.
 */
import { createSealer } from '../../src/audit/chain.js';
import type { ActionProposal, AuditDraft, Store } from '../../src/index.js';
import { OrchestrationConnector } from '../../src/index.js';
import { type BenchContext, type Group, scale } from '../lib/context.js';
import { heapAfterGc, measure } from '../lib/measure.js';
import { fromTiming } from '../lib/results.js';
import { type OpenedStore, openStore, type StoreKind } from '../lib/stores.js';
import { cycleConnector, cycleOf } from './cycle.js';

const BASE_MS = Date.parse('2025-01-01T00:00:00.000Z');
const BATCH = 1000;

const itemId = (n: number) => `action_${String(n).padStart(10, '0')}`;
const evtId = (n: number) => `evt_${String(n).padStart(10, '0')}`;
const ts = (n: number) => new Date(BASE_MS + n * 1000).toISOString();
const isPending = (n: number) => n % 10 === 0;

function item(n: number): ActionProposal {
  const at = ts(n);
  const base: ActionProposal = {
    id: itemId(n),
    actorId: 'agent',
    tool: 'noop',
    params: { n },
    paramsHash: n.toString(16).padStart(64, '0'),
    reason: 'bench',
    status: 'pending',
    reviews: [],
    approvalsRequired: 1,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  if (isPending(n)) return base;
  return {
    ...base,
    status: 'executed',
    reviews: [{ reviewerId: 'reviewer', decision: 'approve', at, paramsHash: base.paramsHash }],
    approvedAt: at,
    execution: { executionId: `exec_${n}`, startedAt: at, leaseExpiresAt: at, finishedAt: at },
    version: 4,
  };
}

function draft(n: number): AuditDraft {
  return {
    id: evtId(n),
    eventType: 'action_proposed',
    entityType: 'action',
    entityId: itemId(n),
    actorId: 'agent',
    timestamp: ts(n),
    details: { tool: 'noop', params: { n }, reason: 'bench' },
  };
}

/** Adds items [from, to) through the store's own commit. */
async function seedByCommit(store: Store, from: number, to: number): Promise<void> {
  const seal = createSealer();
  for (let start = from; start < to; start += BATCH) {
    const end = Math.min(to, start + BATCH);
    const writes = [];
    const audit = [];
    for (let n = start; n < end; n++) {
      writes.push({ kind: 'action' as const, entity: item(n) });
      audit.push(draft(n));
    }
    const r = await store.commit({ writes, audit, seal });
    if (!r.ok) throw new Error(`seeding failed: ${JSON.stringify(r.conflict)}`);
  }
}

/** Adds items [from, to) with SQL straight into the PostgresStore's tables (same rows as seedByCommit). */
async function seedBySql(o: OpenedStore, from: number, to: number): Promise<void> {
  const sql = o.sql as NonNullable<OpenedStore['sql']>;
  const s = o.schema as string;
  const CHUNK = 100_000;
  for (let start = from; start < to; start += CHUNK) {
    const end = Math.min(to, start + CHUNK) - 1;
    const gen = `SELECT n, 'action_' || lpad(n::text, 10, '0') AS id,
        to_char(timestamp '2025-01-01' + n * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
        CASE WHEN n % 10 = 0 THEN 'pending' ELSE 'executed' END AS status
      FROM generate_series(${start}, ${end}) AS n`;
    await sql(`INSERT INTO ${s}.oc_entities (kind, id, version, data)
      SELECT 'action', id, CASE WHEN status = 'pending' THEN 1 ELSE 4 END,
        jsonb_build_object('id', id, 'actorId', 'agent', 'tool', 'noop', 'params', jsonb_build_object('n', n),
          'paramsHash', lpad(to_hex(n), 64, '0'), 'reason', 'bench', 'status', status,
          'reviews', CASE WHEN status = 'pending' THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object(
            'reviewerId', 'reviewer', 'decision', 'approve', 'at', at, 'paramsHash', lpad(to_hex(n), 64, '0'))) END,
          'approvalsRequired', 1, 'createdAt', at, 'updatedAt', at,
          'version', CASE WHEN status = 'pending' THEN 1 ELSE 4 END)
        || CASE WHEN status = 'pending' THEN '{}'::jsonb ELSE jsonb_build_object('approvedAt', at,
          'execution', jsonb_build_object('executionId', 'exec_' || n, 'startedAt', at, 'leaseExpiresAt', at, 'finishedAt', at)) END
      FROM (${gen}) g`);
    await sql(`INSERT INTO ${s}.oc_index (kind, field, value, id)
      SELECT 'action', f, v, id FROM (${gen}) g,
        LATERAL (VALUES ('status', g.status), ('tool', 'noop'), ('actorId', 'agent')) AS x(f, v)`);
    await sql(`INSERT INTO ${s}.oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
      SELECT n + 1, 'evt_' || lpad(n::text, 10, '0'), 'action_proposed', 'action', id, 'agent', at,
        jsonb_build_object('id', 'evt_' || lpad(n::text, 10, '0'), 'seq', n + 1, 'eventType', 'action_proposed',
          'entityType', 'action', 'entityId', id, 'actorId', 'agent', 'timestamp', at,
          'details', jsonb_build_object('tool', 'noop', 'params', jsonb_build_object('n', n), 'reason', 'bench'),
          'prevHash', lpad(to_hex(n), 64, '0'), 'hash', lpad(to_hex(n + 1), 64, '0'))
      FROM (${gen}) g`);
  }
  await sql(`UPDATE ${s}.oc_audit_head SET seq = ${to}, hash = lpad(to_hex(${to}), 64, '0') WHERE singleton`);
  await sql(`ANALYZE ${s}.oc_entities, ${s}.oc_index, ${s}.oc_audit`);
}

function growthGroup(kind: StoreKind): Group {
  return async (ctx) => {
    const o = await openStore(kind, ctx);
    const c = new OrchestrationConnector({ store: o.store });
    await o.store.init();
    // PGlite (PostgreSQL compiled to WebAssembly) fills about 5,000 items/s: a million would take the
    // whole run's time, so it stops at 100k.
    const sizes =
      kind === 'pglite'
        ? scale(ctx, [1_000, 10_000, 100_000], [1_000])
        : scale(ctx, [1_000, 10_000, 100_000, 1_000_000], [1_000, 10_000]);
    const byCommit = kind === 'memory' || kind.startsWith('sqlite');
    let stored = 0;
    for (const size of sizes) {
      const t0 = performance.now();
      if (byCommit) await seedByCommit(o.store, stored, size);
      else await seedBySql(o, stored, size);
      ctx.log(`growth ${kind}: ${size} items stored in ${Math.round(performance.now() - t0)} ms`);
      stored = size;

      // A page after a cursor in the middle, with at least 100 pending items after it.
      const mid = Math.min(Math.floor(size / 2), size - 1010);
      const after = mid < 0 ? undefined : itemId(mid - (mid % 10));
      const page = () =>
        c.queryActionProposals({ status: 'pending', limit: 100, ...(after !== undefined ? { after } : {}) });
      const first = await page();
      if (first.length !== 100 || first.some((a) => a.status !== 'pending')) {
        throw new Error(`pending page at ${size}: got ${first.length} items`);
      }
      const start = Math.max(0, Math.min(Math.floor(size / 2), size - 1000));
      const range = () => c.queryAuditEvents({ startDate: ts(start), endDate: ts(start + 999), limit: 100 });
      const firstRange = await range();
      if (firstRange.length !== 100) throw new Error(`audit range at ${size}: got ${firstRange.length} events`);

      const b = { warmup: scale(ctx, 30, 10), ops: scale(ctx, 500, 100), maxMs: scale(ctx, 1000, 200), minOps: 20 };
      const notes = `${size} items; ${byCommit ? 'filled with store.commit' : 'filled with SQL into the store tables'}`;
      const pageT = await measure(page, b);
      ctx.report(
        fromTiming(
          {
            case: 'query.pending-page',
            store: kind,
            variant: `size=${size}`,
            unit: 'query',
            notes: `queryActionProposals({ status: 'pending', limit: 100, after }) with the cursor mid-way; ${notes}`,
          },
          pageT,
        ),
      );
      const rangeT = await measure(range, b);
      ctx.report(
        fromTiming(
          {
            case: 'query.audit-range',
            store: kind,
            variant: `size=${size}`,
            unit: 'query',
            notes: `queryAuditEvents({ startDate, endDate, limit: 100 }) over 1,000 s mid-way; ${notes}`,
          },
          rangeT,
        ),
      );
      ctx.log(
        `growth ${kind} size=${size}: page p50 ${pageT.p50Us.toFixed(0)} µs, audit range p50 ${rangeT.p50Us.toFixed(0)} µs`,
      );
    }
    await c.close();
    await o.dispose();
  };
}

export const growthMemory = growthGroup('memory');
export const growthSqlite = growthGroup('sqlite-normal');
export const growthPglite = growthGroup('pglite');
export const growthPostgres = growthGroup('postgres');

/**
 * Heap per stored executed proposal, and verifyAuditTrail speed, on the memory store: `stages` are
 * the numbers of stored proposals at which the heap is measured; verification runs at the first.
 */
function heapGroup(full: number[], quick: number[], verify: boolean): Group {
  return (ctx) => heapAndVerify(ctx, scale(ctx, full, quick), verify);
}

export const heap100k = heapGroup([100_000], [5_000], true);
export const heap1m = heapGroup([250_000, 500_000, 750_000, 1_000_000], [], false);

async function heapAndVerify(ctx: BenchContext, stages: number[], verify: boolean): Promise<void> {
  if (stages.length === 0) return;
  const c = await cycleConnector();
  const cycle = cycleOf(c);
  const before = heapAfterGc();
  let done = 0;
  for (const size of stages) {
    const t0 = performance.now();
    for (; done < size; done++) await cycle(done);
    const perItem = (heapAfterGc() - before) / size;
    ctx.report({
      case: 'heap.executed-proposal',
      store: 'memory',
      variant: `size=${size}`,
      unit: 'item',
      ops: size,
      opsPerSec: null,
      p50Us: null,
      p99Us: null,
      heapBytes: perItem,
      notes: `retained heap / stored executed proposals, each with its 5 audit records, after ${size} real cycles`,
    });
    ctx.log(
      `heap at ${size}: ${Math.round(perItem)} B per executed proposal (${Math.round(performance.now() - t0)} ms)`,
    );
    if (verify && size === stages[0]) {
      const events = (await c.getStats()).auditEvents.total;
      const t = await measure(
        async () => {
          const r = await c.verifyAuditTrail();
          if (!r.valid || r.count !== events) throw new Error('the trail did not verify');
        },
        { warmup: 1, ops: scale(ctx, 5, 2) },
      );
      ctx.report({
        case: 'verify.audit-trail',
        store: 'memory',
        variant: `events=${events}`,
        unit: 'event',
        ops: events * t.ops,
        opsPerSec: (events * 1e6) / t.p50Us,
        p50Us: t.p50Us,
        p99Us: t.p99Us,
        notes:
          'events per second of verifyAuditTrail() over the whole trail (median of runs); p50/p99 are per full verification',
      });
    }
  }
  await c.close();
}
