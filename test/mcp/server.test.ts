import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrchestrationConnector } from '../../src/index.js';
import {
  type CreateMcpServerOptions,
  createMcpServer,
  HIDDEN_BY_DEFAULT,
  MCP_TOOL_NAMES,
} from '../../src/mcp/index.js';
import { proposeActionInput } from '../../src/schemas.js';
import { until } from '../actions/helpers.js';
import { call, errorCode } from './helpers.js';

let connector: OrchestrationConnector;
let client: Client;

const tools = {
  send_email: {
    schema: z.object({ to: z.string(), subject: z.string() }),
    handler: async (p: { to: string; subject: string }) => ({ sent: true, to: p.to }),
  },
  lookup: { readOnly: true, handler: async () => ({ found: true }) },
};

async function connect(options: CreateMcpServerOptions = {}): Promise<Client> {
  const server = createMcpServer(connector, options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const c = new Client({ name: 'test', version: '1.0.0' });
  await c.connect(clientSide);
  return c;
}

/** Proposes, over MCP as `agent`, an email that needs approval; its id. */
async function proposeEmail(): Promise<string> {
  const proposed = await call(client, 'proposeAction', {
    actor_id: 'agent',
    tool: 'send_email',
    params: { to: 'b@example.com', subject: 'report' },
    reason: 'send the report',
  });
  expect(proposed.isError).toBeFalsy();
  return proposed.structuredContent!.id as string;
}

beforeEach(async () => {
  connector = new OrchestrationConnector({ tools: tools as never });
  await connector.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await connector.createActor({ id: 'human', name: 'Human', role: 'reviewer' });
  client = await connect();
});

afterEach(async () => {
  await client.close();
  await connector.close();
});

describe('createMcpServer', () => {
  it('lists every method but the hidden ones by default, named as the method', async () => {
    const { tools: listed } = await client.listTools();
    const names = listed.map((t) => t.name).sort();
    expect(names).toEqual(MCP_TOOL_NAMES.filter((n) => !HIDDEN_BY_DEFAULT.includes(n)).sort());
    for (const hidden of ['reviewAction', 'reviewProposal', 'updatePolicy', 'clearAllData']) {
      expect(names).not.toContain(hidden);
    }
    expect(names).toHaveLength(27);
  });

  it("uses the method's zod schema as the input schema, and annotates reads and runs", async () => {
    const { tools: listed } = await client.listTools();
    const propose = listed.find((t) => t.name === 'proposeAction')!;
    const expected = z.toJSONSchema(proposeActionInput, { target: 'draft-7' }) as { required: string[] };
    expect(Object.keys(propose.inputSchema.properties ?? {}).sort()).toEqual(
      Object.keys(proposeActionInput.shape).sort(),
    );
    expect(propose.inputSchema.required).toEqual(expected.required);
    expect((propose.inputSchema as { additionalProperties?: unknown }).additionalProperties).toBe(false);
    const byName = Object.fromEntries(listed.map((t) => [t.name, t.annotations]));
    expect(byName.getActor?.readOnlyHint).toBe(true);
    expect(byName.waitForDecision?.readOnlyHint).toBe(true);
    expect(byName.executeAction?.destructiveHint).toBe(true);
    expect(byName.forwardToolCall?.destructiveHint).toBe(true);
    expect(byName.proposeAction?.destructiveHint).toBe(false);
  });

  it('proposeAction - returns the pending proposal as structured content and JSON text', async () => {
    const result = await call(client, 'proposeAction', {
      actor_id: 'agent',
      tool: 'send_email',
      params: { to: 'a@example.com', subject: 'hi' },
      reason: 'tell a',
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ actorId: 'agent', tool: 'send_email', status: 'pending' });
    const text = (result.content as Array<{ type: string; text: string }>)[0]!.text;
    expect(JSON.parse(text)).toEqual(result.structuredContent);
  });

  it('a failure is an isError result carrying the error code, message and details', async () => {
    const result = await call(client, 'getActor', { id: 'nobody' });
    expect(result.isError).toBe(true);
    expect(errorCode(result)).toBe('NOT_FOUND');
    expect((result.content as Array<{ text: string }>)[0]!.text).toMatch(/^NOT_FOUND: /);
  });

  it('invalid input is INVALID_INPUT, checked by the connector', async () => {
    const unknownKey = await call(client, 'getActor', { id: 'agent', extra: 1 });
    expect(errorCode(unknownKey)).toBe('INVALID_INPUT');
    const missing = await call(client, 'proposeAction', { actor_id: 'agent', tool: 'send_email' });
    expect(errorCode(missing)).toBe('INVALID_INPUT');
    const badParams = await call(client, 'proposeAction', {
      actor_id: 'agent',
      tool: 'send_email',
      params: { to: 1 },
      reason: 'r',
    });
    expect(errorCode(badParams)).toBe('INVALID_PARAMS');
  });

  it('wraps arrays as { items } and other values as { result }', async () => {
    const actors = await call(client, 'queryActors', {});
    expect(actors.structuredContent?.items).toHaveLength(2);
    const stats = await call(client, 'getStats', {});
    expect(stats.structuredContent).toMatchObject({ actors: { total: 2 } });
  });

  it('a hidden tool answers TOOL_NOT_FOUND', async () => {
    const result = await call(client, 'reviewAction', { proposal_id: 'x', reviewer_id: 'human', decision: 'approve' });
    expect(result.isError).toBe(true);
    expect(errorCode(result)).toBe('TOOL_NOT_FOUND');
  });

  it('`tools` chooses what is exposed; unknown names are refused', async () => {
    const c = await connect({ tools: ['getActor', 'reviewAction'] });
    const { tools: listed } = await c.listTools();
    expect(listed.map((t) => t.name).sort()).toEqual(['getActor', 'reviewAction']);
    await c.close();
    expect(() => createMcpServer(connector, { tools: ['nope' as never] })).toThrow(/Unknown tools: nope/);
  });

  it('tools the application adds to the returned server still work', async () => {
    const server = createMcpServer(connector, { tools: ['getStats'] });
    server.registerTool('ping', { inputSchema: { n: z.number() } }, async ({ n }) => ({
      content: [{ type: 'text', text: `pong ${n}` }],
    }));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const c = new Client({ name: 'test', version: '1.0.0' });
    await c.connect(clientSide);
    expect((await call(c, 'ping', { n: 1 })).content).toEqual([{ type: 'text', text: 'pong 1' }]);
    expect((await call(c, 'getStats')).isError).toBeFalsy();
    await c.close();
  });

  it('runs the whole flow: agent proposes over MCP, a human approves, the agent executes', async () => {
    const id = await proposeEmail();
    const early = await call(client, 'executeAction', { proposal_id: id });
    expect(errorCode(early)).toBe('APPROVAL_REQUIRED');

    const waiting = call(client, 'waitForDecision', { proposal_id: id, timeout_ms: 5000 });
    await connector.reviewAction({ proposal_id: id, reviewer_id: 'human', decision: 'approve' });
    expect((await waiting).structuredContent).toMatchObject({ status: 'approved' });

    const executed = await call(client, 'executeAction', { proposal_id: id });
    expect(executed.structuredContent).toMatchObject({ success: true, result: { sent: true, to: 'b@example.com' } });
    const again = await call(client, 'executeAction', { proposal_id: id });
    expect(errorCode(again)).toBe('INVALID_STATE');
  });

  it("a client's cancel, or its going away, ends the server's waitForDecision", async () => {
    const id = await proposeEmail();
    const idle = connector.listenerCount('audit');
    const listening = () => until(() => connector.listenerCount('audit') === idle + 1, 'the server to wait');

    // The SDK sends notifications/cancelled when the request's signal aborts.
    const controller = new AbortController();
    const cancelled = client.callTool(
      { name: 'waitForDecision', arguments: { proposal_id: id, timeout_ms: 600_000 } },
      undefined,
      { signal: controller.signal, timeout: 600_000 },
    );
    await listening();
    controller.abort('not needed any more');
    await expect(cancelled).rejects.toThrow();
    await until(() => connector.listenerCount('audit') === idle, 'the server to stop waiting');

    // A client that closes its transport mid-wait.
    const other = await connect();
    const abandoned = other
      .callTool({ name: 'waitForDecision', arguments: { proposal_id: id, timeout_ms: 600_000 } }, undefined, {
        timeout: 600_000,
      })
      .catch((err: unknown) => err);
    await listening();
    await other.close();
    await abandoned;
    await until(() => connector.listenerCount('audit') === idle, 'the server to stop waiting');
    expect((await connector.getActionProposal({ id })).status).toBe('pending');
  });

  it('a read-only tool is approved at once and runs without review', async () => {
    const proposed = await call(client, 'proposeAction', { actor_id: 'agent', tool: 'lookup', reason: 'look' });
    expect(proposed.structuredContent).toMatchObject({ status: 'approved' });
    const batch = await call(client, 'executeParallel', { calls: [{ tool: 'lookup' }] });
    expect(batch.structuredContent).toMatchObject({ success: true });
    const gated = await call(client, 'executeParallel', { calls: [{ tool: 'send_email', params: {} }] });
    expect(errorCode(gated)).toBe('APPROVAL_REQUIRED');
  });
});
