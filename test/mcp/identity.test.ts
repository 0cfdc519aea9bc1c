import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrchestrationConnector } from '../../src/index.js';
import { type CreateMcpServerOptions, createMcpServer } from '../../src/mcp/index.js';
import { call, errorCode } from './helpers.js';

let connector: OrchestrationConnector;
const clients: Client[] = [];

const tools = { deploy: { handler: async () => ({ deployed: true }) } };

async function connect(options: CreateMcpServerOptions): Promise<Client> {
  const server = createMcpServer(connector, options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const c = new Client({ name: 'agent', version: '1.0.0' });
  await c.connect(clientSide);
  clients.push(c);
  return c;
}

async function proposeAsA(c: Client): Promise<string> {
  const r = await call(c, 'proposeAction', { tool: 'deploy', reason: 'ship it' });
  expect(r.isError).toBeFalsy();
  return r.structuredContent!.id as string;
}

beforeEach(async () => {
  connector = new OrchestrationConnector({ tools: tools as never });
  for (const id of ['actor_a', 'actor_b', 'human']) await connector.createActor({ id, name: id, role: 'agent' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await connector.close();
});

describe('createMcpServer with actorId', () => {
  it('fills the acting actor and refuses any other', async () => {
    const a = await connect({ actorId: 'actor_a' });
    const id = await proposeAsA(a);
    expect((await connector.getActionProposal({ id })).actorId).toBe('actor_a');

    const asB = await call(a, 'proposeAction', { actor_id: 'actor_b', tool: 'deploy', reason: 'pretend' });
    expect(errorCode(asB)).toBe('FORBIDDEN');
    const wf = await call(a, 'createWorkflow', { name: 'w', description: 'd', createdBy: 'actor_b' });
    expect(errorCode(wf)).toBe('FORBIDDEN');
    const proposal = await call(a, 'createProposal', { title: 't', description: 'd' });
    expect(proposal.structuredContent).toMatchObject({ requester: 'actor_a' });
    const cancel = await call(a, 'cancelAction', { proposal_id: id, actor_id: 'human', reason: 'no' });
    expect(errorCode(cancel)).toBe('FORBIDDEN');
  });

  it('refuses an acting field that is not a string with FORBIDDEN, whatever its shape', async () => {
    const a = await connect({ actorId: 'actor_a', tools: ['proposeAction', 'reviewAction'] });
    const id = await proposeAsA(a);
    // An object whose `toString` is not a function cannot be turned into text: the answer must still be typed.
    for (const reviewer_id of [{ toString: 0 }, { valueOf: 1, toString: null }, [1, 2], 42, null]) {
      const r = await call(a, 'reviewAction', { proposal_id: id, reviewer_id, decision: 'approve' });
      expect(errorCode(r)).toBe('FORBIDDEN');
      expect(r.structuredContent).toMatchObject({ error: { details: { field: 'reviewer_id' } } });
    }
    const long = await call(a, 'reviewAction', { proposal_id: id, reviewer_id: 'x'.repeat(500), decision: 'approve' });
    expect(errorCode(long)).toBe('FORBIDDEN');
    expect(JSON.stringify(long.structuredContent).length).toBeLessThan(600);
    expect((await connector.getActionProposal({ id })).status).toBe('pending');
  });

  it('makes the bound fields optional in the advertised schemas', async () => {
    const a = await connect({ actorId: 'actor_a' });
    const { tools } = await a.listTools();
    const propose = tools.find((t) => t.name === 'proposeAction')!;
    expect(propose.inputSchema.required).not.toContain('actor_id');
    expect(propose.inputSchema.required).toContain('tool');
  });

  it('cannot reach a hidden tool', async () => {
    const a = await connect({ actorId: 'actor_a' });
    const id = await proposeAsA(a);
    const review = await call(a, 'reviewAction', { proposal_id: id, decision: 'approve' });
    expect(errorCode(review)).toBe('TOOL_NOT_FOUND');
    expect(errorCode(await call(a, 'clearAllData', {}))).toBe('TOOL_NOT_FOUND');
    expect((await connector.getActionProposal({ id })).status).toBe('pending');
  });

  it('cannot approve its own proposal even with reviewAction exposed', async () => {
    const a = await connect({ actorId: 'actor_a', tools: ['proposeAction', 'reviewAction', 'executeAction'] });
    const id = await proposeAsA(a);
    for (const decision of ['approve', 'edit'] as const) {
      const self = await call(a, 'reviewAction', {
        proposal_id: id,
        decision,
        ...(decision === 'edit' ? { edits: {} } : {}),
      });
      expect(errorCode(self)).toBe('FORBIDDEN');
    }
    const asHuman = await call(a, 'reviewAction', { proposal_id: id, reviewer_id: 'human', decision: 'approve' });
    expect(errorCode(asHuman)).toBe('FORBIDDEN');
    expect(errorCode(await call(a, 'executeAction', { proposal_id: id }))).toBe('APPROVAL_REQUIRED');
    expect((await connector.getActionProposal({ id })).status).toBe('pending');
  });

  it('cannot run a gated tool through executeParallel or executeWithRetry', async () => {
    const a = await connect({ actorId: 'actor_a' });
    expect(errorCode(await call(a, 'executeParallel', { calls: [{ tool: 'deploy' }] }))).toBe('APPROVAL_REQUIRED');
    expect(errorCode(await call(a, 'executeWithRetry', { tool: 'deploy' }))).toBe('APPROVAL_REQUIRED');
  });

  it('cannot approve a general proposal it requested', async () => {
    const a = await connect({ actorId: 'actor_a', tools: ['createProposal', 'reviewProposal'] });
    const created = await call(a, 'createProposal', { title: 'more budget', description: 'please' });
    const id = created.structuredContent!.id as string;
    const self = await call(a, 'reviewProposal', { proposal_id: id, decision: 'approve' });
    expect(errorCode(self)).toBe('FORBIDDEN');
    expect((await connector.getProposal({ id })).status).toBe('pending');
  });

  it('another bound agent may review it when exposed, as itself only', async () => {
    const a = await connect({ actorId: 'actor_a' });
    const b = await connect({ actorId: 'actor_b', tools: ['reviewAction'] });
    const id = await proposeAsA(a);
    const approved = await call(b, 'reviewAction', { proposal_id: id, decision: 'approve' });
    expect(approved.structuredContent).toMatchObject({ status: 'approved' });
    expect((approved.structuredContent!.reviews as Array<{ reviewerId: string }>)[0]!.reviewerId).toBe('actor_b');
  });

  it('refuses to expose updatePolicy on a bound server', () => {
    expect(() => createMcpServer(connector, { actorId: 'actor_a', tools: ['updatePolicy'] })).toThrow(
      /updatePolicy cannot be exposed/,
    );
  });
});
