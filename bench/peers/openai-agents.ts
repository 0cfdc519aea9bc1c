/**
 * Peer: the OpenAI Agents SDK (`@openai/agents`). One cycle = a run that stops at a tool call with
 * `needsApproval` (propose), `RunState.approve()` (approve), and the resumed run that executes the
 * no-op tool and finishes (execute). The model is a fake that answers at once, without network.
 * `serialised` round-trips the RunState through `toString()` / `RunState.fromString()` between the
 * proposal and the approval, as an application that keeps pending approvals outside the process does.
 */

import type { Model, ModelRequest, ModelResponse } from '@openai/agents';
import { Agent, Runner, RunState, setTracingDisabled, tool, Usage } from '@openai/agents';
import { z } from 'zod';

setTracingDisabled(true);

/** Calls `noop` once with the number in the user message, then answers "done". */
class FakeModel implements Model {
  private calls = 0;

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const input = request.input;
    const items = Array.isArray(input) ? input : [];
    const hasResult = items.some((i) => (i as { type?: string }).type === 'function_call_result');
    if (hasResult) {
      return {
        usage: new Usage(),
        output: [
          {
            type: 'message',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'done' }],
          },
        ],
      };
    }
    const first = items[0] as { content?: unknown } | undefined;
    const text = typeof input === 'string' ? input : String(first?.content ?? '0');
    this.calls++;
    return {
      usage: new Usage(),
      output: [
        {
          type: 'function_call',
          callId: `call_${this.calls}`,
          name: 'noop',
          arguments: JSON.stringify({ n: Number.parseInt(text, 10) || 0 }),
          status: 'completed',
        },
      ],
    };
  }

  // biome-ignore lint/correctness/useYield: the bench never streams
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('not used by the bench');
  }
}

/** Builds one cycle function. */
export function openAiAgentsCycle(mode: 'memory' | 'serialised'): {
  cycle: (i: number) => Promise<void>;
  close: () => Promise<void>;
} {
  const noop = tool({
    name: 'noop',
    description: 'Does nothing.',
    parameters: z.object({ n: z.number() }),
    needsApproval: true,
    execute: async () => 'ok',
  });
  const agent = new Agent({ name: 'bench', instructions: 'Call noop.', model: new FakeModel(), tools: [noop] });
  const runner = new Runner({ tracingDisabled: true });
  const cycle = async (i: number): Promise<void> => {
    const first = await runner.run(agent, String(i));
    const pending = first.interruptions;
    if (pending === undefined || pending.length !== 1) throw new Error('expected one approval request');
    let state = first.state;
    if (mode === 'serialised') state = await RunState.fromString(agent, state.toString());
    for (const item of state.getInterruptions()) state.approve(item);
    const done = await runner.run(agent, state);
    if (done.finalOutput !== 'done') throw new Error(`unexpected output ${String(done.finalOutput)}`);
  };
  return { cycle, close: async () => {} };
}
