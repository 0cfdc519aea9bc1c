/**
 * The peers, measured the way the cycle is: one propose -> approve -> execute of a no-op tool per
 * operation, with 1 caller and 8 concurrent callers. They live in `bench/peers` with their own
 * package.json; the runner installs them there.
 */
import { join } from 'node:path';
import { type BenchContext, type Group, scale } from '../lib/context.js';
import { heapAfterGc, measure } from '../lib/measure.js';
import { fromTiming } from '../lib/results.js';

// The peers' modules are loaded by path, not by a literal import: they need bench/peers/node_modules,
// which the library's own install and typecheck must not depend on.
interface PeerCycle {
  cycle: (i: number) => Promise<void>;
  close: () => Promise<void>;
}
interface LangGraphModule {
  langGraphCycle(saver: 'memory' | { sqlitePath: string }): Promise<PeerCycle & { notes: string }>;
}
interface OpenAiAgentsModule {
  openAiAgentsCycle(mode: 'memory' | 'serialised'): PeerCycle;
}
const peerModule = <T>(file: string): Promise<T> =>
  import(new URL(`../peers/${file}`, import.meta.url).href) as Promise<T>;

function budget(ctx: BenchContext) {
  return { warmup: scale(ctx, 300, 30), ops: scale(ctx, 20_000, 1500), maxMs: scale(ctx, 3000, 300) };
}

async function runPeer(
  ctx: BenchContext,
  name: string,
  store: string,
  notes: string,
  cycle: (i: number) => Promise<void>,
): Promise<void> {
  const b = budget(ctx);
  for (const n of [1, 8]) {
    await measure(cycle, { warmup: b.warmup, ops: 0, concurrency: n });
    const before = heapAfterGc();
    const t = await measure(cycle, { warmup: 0, ops: b.ops, maxMs: b.maxMs, concurrency: n });
    const heap = (heapAfterGc() - before) / t.ops;
    ctx.report(fromTiming({ case: name, store, variant: `callers=${n}`, unit: 'cycle', heapBytes: heap, notes }, t));
    ctx.log(`${name} ${store} callers=${n}: ${Math.round(t.opsPerSec)} cycles/s`);
  }
}

function langGraph(saver: 'memory' | 'sqlite'): Group {
  return async (ctx) => {
    const { langGraphCycle } = await peerModule<LangGraphModule>('langgraph.ts');
    const peer = await langGraphCycle(
      saver === 'memory' ? 'memory' : { sqlitePath: join(ctx.tmpDir, `langgraph-${process.pid}.db`) },
    );
    const store = saver === 'memory' ? 'memorysaver' : 'sqlitesaver';
    await runPeer(ctx, 'peer.langgraph', store, `LangGraph.js interrupt() + Command resume, ${peer.notes}`, peer.cycle);
    await peer.close();
  };
}

function openAiAgents(mode: 'memory' | 'serialised'): Group {
  return async (ctx) => {
    const { openAiAgentsCycle } = await peerModule<OpenAiAgentsModule>('openai-agents.ts');
    const peer = openAiAgentsCycle(mode);
    const notes =
      mode === 'memory'
        ? 'OpenAI Agents SDK, needsApproval tool, fake model, RunState approve + resume in memory'
        : 'OpenAI Agents SDK, as memory but the RunState goes through toString()/RunState.fromString()';
    await runPeer(ctx, 'peer.openai-agents', mode, notes, peer.cycle);
    await peer.close();
  };
}

export const peerLangGraphMemory = langGraph('memory');
export const peerLangGraphSqlite = langGraph('sqlite');
export const peerOpenAiMemory = openAiAgents('memory');
export const peerOpenAiSerialised = openAiAgents('serialised');
