/**
 * The full cycle on each store: proposeAction -> reviewAction(approve) -> executeAction of a no-op
 * tool, audit on (5 audit records and 4 commits per cycle), with 1 caller and with 8 concurrent
 * callers sharing one connector (on PostgreSQL also 2 and 4, to show how throughput grows), each
 * measured in turns with its physical floor (bench/cases/floors.ts).
 */
import { OrchestrationConnector, type Store } from '../../src/index.js';
import { type BenchContext, type Group, scale } from '../lib/context.js';
import { heapAfterGc, measureInterleaved, type Timing } from '../lib/measure.js';
import { fromTiming } from '../lib/results.js';
import { openStore, type StoreKind } from '../lib/stores.js';
import { type Floor, memoryFloor, pgliteFloor, postgresFloor, type RowBytes, sqliteFloor } from './floors.js';

/** The no-op tool every cycle runs. */
export const noopHandler = async (_params: Record<string, unknown>): Promise<unknown> => ({ ok: true });

/** A connector on `store` with the no-op tool and the two actors of the cycle. */
export async function cycleConnector(store?: Store): Promise<OrchestrationConnector> {
  const c = new OrchestrationConnector({
    ...(store !== undefined ? { store } : {}),
    tools: { noop: { handler: noopHandler } },
  });
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await c.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
  return c;
}

/** One full cycle. Throws when any step does not do what it should. */
export function cycleOf(c: OrchestrationConnector): (i: number) => Promise<void> {
  return async (i: number) => {
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'noop', params: { n: i }, reason: 'bench' });
    await c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' });
    const r = await c.executeAction({ proposal_id: p.id });
    if (!r.success) throw new Error(`cycle ${i} failed: ${r.message}`);
  };
}

/** Measurement budget per store: durable stores are slower, so fewer operations in the same time. */
function budget(kind: StoreKind, ctx: BenchContext) {
  const fast = kind === 'memory';
  return {
    warmup: scale(ctx, fast ? 5000 : 200, fast ? 1000 : 30),
    ops: scale(ctx, fast ? 400_000 : 100_000, fast ? 40_000 : 4_000),
    // For the cycle and its floor together, in 5 rounds of turns.
    maxMs: scale(ctx, fast ? 6000 : 5000, fast ? 800 : 500),
  };
}

async function floorFor(kind: StoreKind, ctx: BenchContext): Promise<Floor> {
  switch (kind) {
    case 'memory':
      return memoryFloor();
    case 'sqlite-full':
      return sqliteFloor('FULL', ctx);
    case 'sqlite-normal':
      return sqliteFloor('NORMAL', ctx);
    case 'pglite':
      return pgliteFloor();
    case 'postgres':
      return postgresFloor(ctx);
  }
}

/**
 * The average bytes (text columns) of the store's rows for proposals and audit records, read from
 * its file after `cycles` cycles, for the floor that writes rows of the same size.
 */
async function storeRowBytes(filename: string, cycle: (i: number) => Promise<void>, cycles: number): Promise<RowBytes> {
  for (let i = 0; i < cycles; i++) await cycle(-1 - i);
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(filename, { readonly: true });
  try {
    const entity = db
      .prepare<[], number>(
        `SELECT avg(length(kind) + length(id) + length(created_at) + length(keys) + length(data))
         FROM oc_entities WHERE kind = 'action'`,
      )
      .pluck()
      .get() as number;
    const audit = db
      .prepare<[], number>(
        `SELECT avg(length(id) + length(event_type) + length(entity_type) + length(entity_id)
           + coalesce(length(actor_id), 0) + length(timestamp) + length(data))
         FROM oc_audit WHERE entity_type = 'action'`,
      )
      .pluck()
      .get() as number;
    return { entity, audit };
  } finally {
    db.close();
  }
}

/**
 * The cycle on one store and its floor, measured in turns (5 rounds each), with 1 and 8 concurrent
 * callers (PostgreSQL also 2 and 4). Heap per cycle is measured on its own afterwards, memory store only.
 */
function cycleGroup(kind: StoreKind): Group {
  return async (ctx) => {
    const opened = await openStore(kind, ctx);
    const c = await cycleConnector(opened.store);
    const cycle = cycleOf(c);
    const floor = await floorFor(kind, ctx);
    // SQLite, one caller: also a floor that writes rows of the store's size, to show what the row size costs.
    const sized =
      opened.filename === undefined
        ? undefined
        : await sqliteFloor(
            kind === 'sqlite-full' ? 'FULL' : 'NORMAL',
            ctx,
            await storeRowBytes(opened.filename, cycle, 50),
          );
    const b = budget(kind, ctx);
    const callers = kind === 'postgres' ? [1, 2, 4, 8] : [1, 8];
    const notes = `${opened.notes}; propose -> approve -> execute, audit on (5 records, 4 commits per cycle)`;
    for (const n of callers) {
      const floors = n === 1 && sized !== undefined ? [floor, sized] : [floor];
      const timings = await measureInterleaved([...floors.map((f) => f.opFor(n)), cycle], {
        ...b,
        concurrency: n,
        rounds: 5,
      });
      const t = timings[floors.length] as Timing;
      for (const [k, fl] of floors.entries()) {
        ctx.report(
          fromTiming(
            { case: fl.case, store: kind, variant: `callers=${n}`, unit: 'cycle', notes: fl.notes },
            timings[k] as Timing,
          ),
        );
      }
      ctx.report(fromTiming({ case: 'cycle', store: kind, variant: `callers=${n}`, unit: 'cycle', notes }, t));
      ctx.log(
        `cycle ${kind} callers=${n}: ${Math.round(t.opsPerSec)} cycles/s, ` +
          floors.map((fl, k) => `${fl.case} ${Math.round((timings[k] as Timing).opsPerSec)}`).join(', '),
      );
    }
    if (kind === 'memory') {
      const ops = scale(ctx, 50_000, 5_000);
      const before = heapAfterGc();
      for (let i = 0; i < ops; i++) await cycle(i);
      ctx.report({
        case: 'heap.cycle',
        store: kind,
        variant: `cycles=${ops}`,
        unit: 'cycle',
        ops,
        opsPerSec: null,
        p50Us: null,
        p99Us: null,
        heapBytes: (heapAfterGc() - before) / ops,
        notes: 'heap retained per full cycle (the stored proposal and its 5 records)',
      });
    }
    await floor.close();
    await sized?.close();
    await c.close();
    await opened.dispose();
  };
}

export const cycleMemory = cycleGroup('memory');
export const cycleSqliteFull = cycleGroup('sqlite-full');
export const cycleSqliteNormal = cycleGroup('sqlite-normal');
export const cyclePglite = cycleGroup('pglite');
export const cyclePostgres = cycleGroup('postgres');
