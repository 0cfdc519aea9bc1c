/**
 * Soak test: many approval cycles with mixed outcomes on each store, watching for leaks.
 *
 *   npx tsx --expose-gc scripts/soak.ts [--cycles 100000] [--store memory|sqlite|pglite|postgres]
 *                                       [--concurrency 4] [--clear-every 1000] [--warmup 5000] [--trace]
 *
 * A cycle is one scenario picked in turn: approve and run, reject, edit, auto-approved failures,
 * retries, timeouts, parallel batches, cancellations, workflow steps, general proposals,
 * idempotent repeats, invalid input and queries. Every `--clear-every` cycles the trail is verified
 * and the store emptied (so the memory store measures the library, not the data it keeps).
 *
 * It reports, per store: the heap after GC at the start (after `--warmup` cycles that are not
 * counted, so that compiled code and caches are in place) and at the end,
 * the resources still active after `close()`, and every error that escaped (a call failing other
 * than its scenario expects, an `'error'` event, an unhandled rejection). It exits with 1 when heap
 * growth is 10% or more, a resource is left open, or an error escaped. Not a CI test: it takes minutes.
 * Without `--store` it runs memory, sqlite, pglite, and postgres when DATABASE_URL is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { OrchestrationConnector } from '../src/connector.js';
import { type ErrorCode, isOrchestrationError } from '../src/errors.js';
import { NonRetryableError, type ToolDefinition } from '../src/execution/executor.js';
import { MemoryStore } from '../src/stores/memory.js';
import type { Store } from '../src/stores/store.js';

const { values: args } = parseArgs({
  options: {
    cycles: { type: 'string', default: '100000' },
    store: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    'clear-every': { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '5000' },
    trace: { type: 'boolean', default: false },
  },
});
const CYCLES = Number(args.cycles);
const CONCURRENCY = Number(args.concurrency);
const CLEAR_EVERY = Number(args['clear-every']);
const WARMUP = Number(args.warmup);
const MAX_GROWTH = 0.1;
/** Prints the heap after GC at every round, to tell a leak (steady growth) from warm-up (a step). */
const TRACE = args.trace === true;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('Run with --expose-gc: npx tsx --expose-gc scripts/soak.ts');
  process.exit(2);
}

interface Opened {
  store: Store;
  /** Releases what the soak itself opened besides the store (a PGlite instance, a temp directory). */
  release: () => Promise<void>;
}

async function openStore(name: string): Promise<Opened> {
  switch (name) {
    case 'memory':
      return { store: new MemoryStore(), release: async () => {} };
    case 'sqlite': {
      const { SqliteStore } = await import('../src/stores/sqlite.js');
      const dir = mkdtempSync(join(tmpdir(), 'oc-soak-'));
      // NORMAL: this measures leaks, not fsync; FULL durability does not change what the library holds.
      const store = new SqliteStore({ filename: join(dir, 'soak.db'), synchronous: 'NORMAL' });
      return { store, release: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'pglite': {
      const { PGlite } = await import('@electric-sql/pglite');
      const { PostgresStore } = await import('../src/stores/postgres.js');
      const pglite = new PGlite();
      return { store: new PostgresStore({ pglite, schema: 'soak' }), release: () => pglite.close() };
    }
    case 'postgres': {
      const url = process.env.DATABASE_URL;
      if (!url) throw new Error('--store postgres needs DATABASE_URL');
      const { PostgresStore } = await import('../src/stores/postgres.js');
      const schema = `soak_${Date.now().toString(36)}`;
      const store = new PostgresStore({ connectionString: url, schema });
      return {
        store,
        release: async () => {
          const pg = (await import('pg')).default;
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await client.end();
        },
      };
    }
    default:
      throw new Error(`unknown store '${name}': use memory, sqlite, pglite or postgres`);
  }
}

let flakyCalls = 0;
const tools: Record<string, ToolDefinition> = {
  send_email: {
    schema: z.object({ to: z.string(), body: z.string(), password: z.string().optional() }),
    redact: ['password'],
    handler: async (p) => ({ sent: true, to: p.to }),
  },
  lookup: { readOnly: true, handler: async (p) => ({ found: true, q: p.q }) },
  broken: {
    requiresApproval: false,
    handler: async () => {
      throw new NonRetryableError('the service said no');
    },
  },
  flaky: {
    requiresApproval: false,
    handler: async () => {
      // fails every other call: the retry succeeds
      if (flakyCalls++ % 2 === 0) throw new Error('transient');
      return 'ok';
    },
  },
  slow: {
    requiresApproval: false,
    handler: (_p, ctx) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 500, 'late');
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(ctx.signal.reason);
        });
      }),
  },
};

type Outcome = { expected: number };
type Scenario = (c: OrchestrationConnector, n: number) => Promise<Outcome>;

/** Awaits a call that must fail with `code`; anything else propagates as an escaped error. */
async function mustFail(call: Promise<unknown>, code: ErrorCode): Promise<Outcome> {
  try {
    await call;
  } catch (err) {
    if (isOrchestrationError(err, code)) return { expected: 1 };
    throw err;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`soak check failed: ${what}`);
}

const propose = (c: OrchestrationConnector, n: number, extra: Record<string, unknown> = {}) =>
  c.proposeAction({
    actor_id: 'agent',
    tool: 'send_email',
    params: { to: `user${n}@example.com`, body: 'hello', password: 'pw-secret' },
    reason: `cycle ${n}`,
    ...extra,
  });

const SCENARIOS: Scenario[] = [
  async (c, n) => {
    const p = await propose(c, n);
    await c.reviewAction({
      proposal_id: p.id,
      reviewer_id: 'reviewer',
      decision: 'approve',
      params_hash: p.paramsHash,
    });
    const r = await c.executeAction({ proposal_id: p.id });
    check(r.success, 'approved call runs');
    return { expected: 0 };
  },
  async (c, n) => {
    const p = await propose(c, n);
    const r = await c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'reject', comment: 'no' });
    check(r.status === 'rejected', 'rejected');
    return mustFail(c.executeAction({ proposal_id: p.id }), 'APPROVAL_REQUIRED');
  },
  async (c, n) => {
    const p = await propose(c, n);
    await c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'edit', edits: { body: 'edited' } });
    const r = await c.executeAction({ proposal_id: p.id });
    check(r.success, 'edited call runs');
    return { expected: 0 };
  },
  async (c, n) => {
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'broken', reason: `cycle ${n}` });
    const r = await c.executeAction({ proposal_id: p.id });
    check(!r.success && r.error?.code === 'HANDLER_ERROR', 'broken tool fails');
    return { expected: 1 };
  },
  async (c, n) => {
    const r = await c.executeParallel({
      calls: [{ tool: 'lookup', params: { q: n } }, { tool: 'lookup', params: { q: n + 1 } }, { tool: 'broken' }],
      concurrency: 2,
    });
    check(!r.success && r.results.length === 3, 'batch with one failure');
    return { expected: 1 };
  },
  async (c) => mustFail(c.proposeAction({ actor_id: 'agent', tool: 'send_email', reason: '' }), 'INVALID_INPUT'),
  async (c, n) => {
    const p = await propose(c, n);
    return mustFail(c.executeAction({ proposal_id: p.id }), 'APPROVAL_REQUIRED');
  },
  async (c, n) => {
    const p = await propose(c, n);
    await c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' });
    await c.cancelAction({ proposal_id: p.id, actor_id: 'agent', reason: 'changed my mind' });
    return mustFail(c.executeAction({ proposal_id: p.id }), 'APPROVAL_REQUIRED');
  },
  async (c, n) => {
    const wf = await c.createWorkflow({
      name: `wf ${n}`,
      description: 'd',
      steps: [{ name: 'send' }, { name: 'report', dependencies: ['send'] }],
      assignedActors: ['agent'],
    });
    const p = await c.proposeAction({
      actor_id: 'agent',
      tool: 'lookup',
      params: { q: n },
      workflow_id: wf.id,
      step: 'send',
      reason: 'r',
    });
    await c.executeAction({ proposal_id: p.id });
    const done = await c.updateWorkflowStep({
      workflow_id: wf.id,
      step: 'report',
      status: 'completed',
      actor_id: 'agent',
    });
    check(done.status === 'completed', 'workflow completes');
    return mustFail(c.updateWorkflowStep({ workflow_id: wf.id, step: 'send', status: 'in_progress' }), 'INVALID_STATE');
  },
  async (c, n) => {
    const p = await c.createProposal({
      title: `t ${n}`,
      description: 'd',
      assignedReviewers: ['reviewer'],
      requester: 'agent',
    });
    const outcome = await mustFail(
      c.reviewProposal({ proposal_id: p.id, reviewer_id: 'agent', decision: 'approve' }),
      'FORBIDDEN',
    );
    await c.reviewProposal({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' });
    return outcome;
  },
  async (c, n) => {
    const key = `idem-${n}`;
    const a = await propose(c, n, { idempotency_key: key });
    const b = await propose(c, n, { idempotency_key: key });
    check(a.id === b.id, 'idempotent repeat');
    return mustFail(c.reviewAction({ proposal_id: a.id, reviewer_id: 'agent', decision: 'approve' }), 'FORBIDDEN');
  },
  async (c, n) => {
    await c.queryActionProposals({ status: 'executed', limit: 20 });
    await c.queryAuditEvents({ eventType: 'action_executed', limit: 20 });
    await c.getStats();
    const p = await propose(c, n);
    const waited = c.waitForDecision({ proposal_id: p.id, timeout_ms: 5_000 });
    await c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' });
    check((await waited).status === 'approved', 'wait sees the decision');
    return mustFail(c.getActionProposal({ id: 'action_missing' }), 'NOT_FOUND');
  },
];
/** Rare, slow scenarios: a retry after a backoff, a timeout. */
const RARE: Scenario[] = [
  async (c) => {
    const r = await c.executeWithRetry({ tool: 'flaky' });
    check(r.success, 'retry succeeds');
    return { expected: 0 };
  },
  async (c, n) => {
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'slow', reason: `cycle ${n}` });
    const r = await c.executeAction({ proposal_id: p.id });
    check(!r.success && r.error?.code === 'TIMEOUT', 'slow tool times out');
    return { expected: 1 };
  },
];

interface Report {
  store: string;
  cycles: number;
  seconds: number;
  heapStart: number;
  heapEnd: number;
  growth: number;
  handlesLeft: string[];
  escaped: string[];
  expectedFailures: number;
}

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

function resourceCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

async function seed(c: OrchestrationConnector): Promise<void> {
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await c.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
}

async function soak(name: string): Promise<Report> {
  const resourcesBefore = resourceCounts();
  const escaped: string[] = [];
  const onUnhandled = (err: unknown) => escaped.push(`unhandled rejection: ${String(err)}`);
  process.on('unhandledRejection', onUnhandled);
  const opened = await openStore(name);
  const c = new OrchestrationConnector({
    store: opened.store,
    tools,
    audit: { signingKey: 'soak-signing-key-0123456789' },
    policy: { max_retries: 2, timeout_ms: 200 },
  });
  c.on('error', (err) => escaped.push(`'error' event: ${String(err)}`));
  let audited = 0;
  c.on('audit', () => {
    audited++;
  });
  await seed(c);

  let expectedFailures = 0;
  let next = 0;
  let heapStart = 0;
  let started = performance.now();
  const total = WARMUP + CYCLES; // the warm-up is not measured
  const runRound = async (size: number) => {
    const end = next + size;
    const worker = async () => {
      while (next < end) {
        const n = next++;
        const scenario = n % 499 === 0 ? RARE[(n / 499) % RARE.length] : SCENARIOS[n % SCENARIOS.length];
        try {
          const outcome = await (scenario as Scenario)(c, n);
          expectedFailures += outcome.expected; // after the await: `x += await y` would lose concurrent updates
        } catch (err) {
          if (escaped.length < 20) escaped.push(`cycle ${n}: ${err instanceof Error ? err.stack : String(err)}`);
          else escaped.push('…');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const v = await c.verifyAuditTrail();
    if (!v.valid) escaped.push(`the audit trail does not verify: ${JSON.stringify(v)}`);
    await c.clearAllData();
    await seed(c);
  };
  let lastLog = performance.now();
  while (next < total) {
    await runRound(Math.min(CLEAR_EVERY, total - next));
    if (next < WARMUP) continue;
    if (heapStart === 0) {
      heapStart = heapAfterGc();
      started = performance.now();
      expectedFailures = 0;
    } else if (TRACE) process.stderr.write(`  ${name}: ${next - WARMUP} cycles, heap after GC ${heapAfterGc()} B\n`);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      const mb = (process.memoryUsage().heapUsed / 1e6).toFixed(1);
      process.stderr.write(`  ${name}: ${next - WARMUP} cycles, heap ${mb} MB, ${audited} events\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const heapEnd = heapAfterGc();
  await c.close();
  await opened.release();
  process.off('unhandledRejection', onUnhandled);
  // Let closed sockets and cleared timers leave the active list.
  await tick();
  await sleep(50);
  const handlesLeft: string[] = [];
  for (const [type, count] of resourceCounts()) {
    const extra = count - (resourcesBefore.get(type) ?? 0);
    if (extra > 0) handlesLeft.push(`${type} x${extra}`);
  }
  return {
    store: name,
    cycles: CYCLES,
    seconds,
    heapStart,
    heapEnd,
    growth: (heapEnd - heapStart) / heapStart,
    handlesLeft,
    escaped,
    expectedFailures,
  };
}

function table(reports: Report[]): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const rows = [
    [
      'store',
      'cycles',
      'time',
      'cycles/s',
      'heap start',
      'heap end',
      'growth',
      'handles left',
      'escaped',
      'expected failures',
    ],
    ...reports.map((r) => [
      r.store,
      String(r.cycles),
      `${r.seconds.toFixed(1)} s`,
      String(Math.round(r.cycles / r.seconds)),
      mb(r.heapStart),
      mb(r.heapEnd),
      `${r.growth >= 0 ? '+' : ''}${(r.growth * 100).toFixed(1)}%`,
      r.handlesLeft.length === 0 ? 'none' : r.handlesLeft.join(', '),
      String(r.escaped.length),
      String(r.expectedFailures),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

const stores = args.store
  ? [args.store]
  : ['memory', 'sqlite', 'pglite', ...(process.env.DATABASE_URL ? ['postgres'] : [])];
const reports: Report[] = [];
for (const name of stores) {
  process.stderr.write(`soak: ${name}, ${CYCLES} cycles, concurrency ${CONCURRENCY}\n`);
  reports.push(await soak(name));
}
console.log(table(reports));
let failed = false;
for (const r of reports) {
  if (r.growth >= MAX_GROWTH) {
    failed = true;
    console.log(`${r.store}: heap grew ${(r.growth * 100).toFixed(1)}% (limit ${MAX_GROWTH * 100}%)`);
  }
  if (r.handlesLeft.length > 0) {
    failed = true;
    console.log(`${r.store}: resources left after close(): ${r.handlesLeft.join(', ')}`);
  }
  for (const e of r.escaped) {
    failed = true;
    console.log(`${r.store}: escaped: ${e}`);
  }
}
process.exitCode = failed ? 1 : 0;
