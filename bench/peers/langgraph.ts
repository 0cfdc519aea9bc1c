/**
 * Peer: LangGraph.js (`@langchain/langgraph`). One cycle = `invoke()` of a two-node graph whose gate
 * node calls `interrupt()` with the proposed tool call (propose; the checkpointer saves the thread),
 * then `invoke(new Command({ resume: 'approve' }))` on the same thread, which runs the no-op tool
 * (approve and execute). Checkpointers: `MemorySaver`, and `SqliteSaver` on a file (WAL, as the
 * package opens it).
 */

import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { Annotation, Command, END, INTERRUPT, interrupt, MemorySaver, START, StateGraph } from '@langchain/langgraph';

const State = Annotation.Root({
  params: Annotation<Record<string, unknown>>(),
  approved: Annotation<boolean>(),
  result: Annotation<unknown>(),
});

const noop = async (_params: Record<string, unknown>): Promise<unknown> => 'ok';

/** Builds one cycle function on the given checkpointer. */
export async function langGraphCycle(
  saver: 'memory' | { sqlitePath: string },
): Promise<{ cycle: (i: number) => Promise<void>; close: () => Promise<void>; notes: string }> {
  let checkpointer: BaseCheckpointSaver;
  let notes = 'MemorySaver';
  let close = async () => {};
  if (saver === 'memory') checkpointer = new MemorySaver();
  else {
    const { SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite');
    const s = SqliteSaver.fromConnString(saver.sqlitePath);
    checkpointer = s;
    const db = (s as unknown as { db: { pragma(q: string, o?: { simple: boolean }): unknown; close(): void } }).db;
    // SqliteSaver sets WAL itself on first use; report what it runs with.
    notes = `SqliteSaver, journal_mode=WAL, synchronous=${['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(db.pragma('synchronous', { simple: true }))]}`;
    close = async () => db.close();
  }
  const graph = new StateGraph(State)
    .addNode('gate', (s: typeof State.State) => {
      const decision = interrupt({ tool: 'noop', params: s.params });
      return { approved: decision === 'approve' };
    })
    .addNode('tool', async (s: typeof State.State) => ({ result: await noop(s.params) }))
    .addEdge(START, 'gate')
    .addConditionalEdges('gate', (s: typeof State.State) => (s.approved ? 'tool' : END), ['tool', END])
    .addEdge('tool', END)
    .compile({ checkpointer });
  let run = 0;
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const cycle = async (i: number): Promise<void> => {
    const config = { configurable: { thread_id: `t_${tag}_${run++}` } };
    const first = (await graph.invoke({ params: { n: i } }, config)) as Record<string, unknown>;
    if (first[INTERRUPT] === undefined) throw new Error('expected an interrupt');
    const done = (await graph.invoke(new Command({ resume: 'approve' }), config)) as typeof State.State;
    if (done.result !== 'ok') throw new Error('the tool did not run');
  };
  return { cycle, close, notes };
}
