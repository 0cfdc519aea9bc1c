/**
 * Gate overhead: `executeAction` of an approved proposal of a tool that needs no approval, against a
 * direct async call of the same handler (both in this process, audit on, memory store). And
 * `executeParallel` of 1,000 raw no-op calls at concurrency 8.
 */
import { OrchestrationConnector } from '../../src/index.js';
import { type Group, scale } from '../lib/context.js';
import { measure } from '../lib/measure.js';
import { fromTiming } from '../lib/results.js';
import { noopHandler } from './cycle.js';

export const gate: Group = async (ctx) => {
  const c = new OrchestrationConnector({ tools: { ro: { handler: noopHandler, requiresApproval: false } } });
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });

  const direct = await measure(() => noopHandler({ n: 1 }), {
    warmup: 100_000,
    ops: scale(ctx, 2_000_000, 200_000),
    batch: 100,
  });
  ctx.report(
    fromTiming(
      {
        case: 'floor.handler',
        store: 'none',
        unit: 'call',
        notes: 'await handler(params), timed in batches of 100',
      },
      direct,
    ),
  );

  // Proposing is set-up here (the tool needs no approval, so proposals start approved); only
  // executeAction is timed.
  const execute = async (i: number): Promise<number> => {
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'ro', params: { n: i }, reason: 'bench' });
    const t0 = performance.now();
    const r = await c.executeAction({ proposal_id: p.id });
    const ms = performance.now() - t0;
    if (!r.success) throw new Error(r.message);
    return ms;
  };
  const exec = await measure(execute, {
    warmup: scale(ctx, 5000, 1000),
    ops: scale(ctx, 100_000, 10_000),
    maxMs: scale(ctx, 4000, 500),
    selfTimed: true,
  });
  ctx.report(
    fromTiming(
      {
        case: 'gate.execute-action',
        store: 'memory',
        unit: 'call',
        notes: 'executeAction of an approved proposal of a no-approval tool, audit on (2 commits, 2 records)',
      },
      exec,
    ),
  );
  ctx.report({
    case: 'gate.overhead',
    store: 'memory',
    variant: '',
    unit: 'call',
    ops: exec.ops,
    opsPerSec: null,
    p50Us: exec.p50Us - direct.p50Us,
    p99Us: exec.p99Us - direct.p99Us,
    notes: 'executeAction latency minus the direct handler call latency (p50 from p50, p99 from p99)',
  });

  const calls = Array.from({ length: 1000 }, (_, i) => ({ tool: 'ro', params: { n: i } }));
  const parallel = await measure(
    async () => {
      const r = await c.executeParallel({ calls, concurrency: 8 });
      if (!r.success || r.results.length !== 1000) throw new Error('executeParallel failed');
    },
    { warmup: scale(ctx, 5, 2), ops: scale(ctx, 50, 10), maxMs: scale(ctx, 4000, 500), minOps: 5 },
  );
  ctx.report(
    fromTiming(
      {
        case: 'gate.execute-parallel',
        store: 'memory',
        variant: 'calls=1000,concurrency=8',
        unit: 'batch',
        notes: '1,000 raw no-op calls of a no-approval tool, 1,001 audit records per batch',
      },
      parallel,
    ),
  );
  await c.close();
};
