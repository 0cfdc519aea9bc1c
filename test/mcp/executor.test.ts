import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectorConfig, isOrchestrationError, OrchestrationConnector } from '../../src/index.js';
import { McpExecutor } from '../../src/mcp/index.js';
import { fixtureServer, tempDir } from './helpers.js';

const executors: McpExecutor[] = [];
const connectors: OrchestrationConnector[] = [];
const cleanups: Array<() => void> = [];

function executor(env: Record<string, string> = {}, extra: Record<string, ReturnType<typeof fixtureServer>> = {}) {
  const ex = new McpExecutor({ servers: { fx: fixtureServer(env), ...extra } });
  executors.push(ex);
  return ex;
}

async function connectorWith(ex: McpExecutor, config: Omit<ConnectorConfig, 'executor'> = {}) {
  const c = new OrchestrationConnector({ executor: ex, ...config });
  connectors.push(c);
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await c.createActor({ id: 'human', name: 'Human', role: 'reviewer' });
  return c;
}

/** Proposes, approves (when needed) and executes. */
async function run(c: OrchestrationConnector, tool: string, params: Record<string, unknown> = {}) {
  const p = await c.proposeAction({ actor_id: 'agent', tool, params, reason: 'test' });
  if (p.status === 'pending') await c.reviewAction({ proposal_id: p.id, reviewer_id: 'human', decision: 'approve' });
  return await c.executeAction({ proposal_id: p.id });
}

afterEach(async () => {
  await Promise.all(connectors.splice(0).map((c) => c.close()));
  await Promise.all(executors.splice(0).map((e) => e.close()));
  for (const c of cleanups.splice(0)) c();
});

describe('McpExecutor', () => {
  it('describes remote tools from their annotations and input schema', async () => {
    const ex = executor();
    const echo = await ex.describe('fx.echo');
    expect(echo).toMatchObject({ name: 'fx.echo', readOnly: true, description: 'Returns its message.' });
    expect(echo?.inputSchema).toMatchObject({ required: ['message'] });
    const add = await ex.describe('fx.add');
    expect(add).toMatchObject({ readOnly: false, idempotent: true });
    const note = await ex.describe('fx.write_note');
    expect(note?.readOnly).toBeUndefined();
    expect(note?.idempotent).toBeUndefined();
    expect(await ex.describe('fx.nope')).toBeUndefined();
  });

  it('accepts a bare tool name that one server alone has, and asks to qualify a shared one', async () => {
    const single = executor();
    expect((await single.describe('echo'))?.name).toBe('echo');
    expect(await single.describe('nope')).toBeUndefined();

    const two = executor({}, { other: fixtureServer() });
    const err = await two.describe('echo').catch((e: unknown) => e);
    expect(isOrchestrationError(err, 'TOOL_NOT_FOUND')).toBe(true);
    expect((err as { details: { candidates: string[] } }).details.candidates).toEqual(['fx.echo', 'other.echo']);
    expect((await two.describe('other.echo'))?.readOnly).toBe(true);
  });

  it("validates params against the remote tool's JSON Schema", async () => {
    const add = await executor().describe('fx.add');
    expect(add?.validate?.({ a: 1, b: 2 })).toEqual({ success: true, params: { a: 1, b: 2 } });
    const bad = add?.validate?.({ a: 'one' });
    expect(bad?.success).toBe(false);
    if (bad?.success === false) {
      expect(bad.issues).toContainEqual({ path: ['a'], message: 'must be number' });
      expect(bad.issues.some((i) => /required property 'b'/.test(i.message))).toBe(true);
    }
  });

  it('a readOnlyHint tool needs no approval and runs; its structured content is the result', async () => {
    const c = await connectorWith(executor());
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'fx.echo', params: { message: 'hi' }, reason: 'read' });
    expect(p.status).toBe('approved');
    const r = await c.executeAction({ proposal_id: p.id });
    expect(r).toMatchObject({ success: true, attempts: 1, result: { message: 'hi' } });
  });

  it('a tool without readOnlyHint waits for approval', async () => {
    const c = await connectorWith(executor());
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'fx.write_note', params: { note: 'n' }, reason: 'w' });
    expect(p.status).toBe('pending');
    await c.reviewAction({ proposal_id: p.id, reviewer_id: 'human', decision: 'approve' });
    const r = await c.executeAction({ proposal_id: p.id });
    expect(r.success).toBe(true);
    expect(r.result).toEqual([{ type: 'text', text: 'wrote n' }]);
  });

  it('proposing an unknown tool is TOOL_NOT_FOUND; bad params are INVALID_PARAMS', async () => {
    const c = await connectorWith(executor());
    const unknown = await c.proposeAction({ actor_id: 'agent', tool: 'fx.nope', reason: 'x' }).catch((e: unknown) => e);
    expect(isOrchestrationError(unknown, 'TOOL_NOT_FOUND')).toBe(true);
    const invalid = await c
      .proposeAction({ actor_id: 'agent', tool: 'fx.add', params: { a: 'x', b: 2 }, reason: 'x' })
      .catch((e: unknown) => e);
    expect(isOrchestrationError(invalid, 'INVALID_PARAMS')).toBe(true);
  });

  it('retries an idempotent flaky tool until it succeeds', async () => {
    const c = await connectorWith(executor({ FLAKY_FAILS: '2' }), { maxRetries: 3 });
    const r = await run(c, 'fx.flaky');
    expect(r).toMatchObject({ success: true, attempts: 3 });
  });

  it('does not retry a failing tool that is not idempotent', async () => {
    const c = await connectorWith(executor({ FLAKY_FAILS: '2' }), { maxRetries: 3 });
    const r = await run(c, 'fx.flaky_once');
    expect(r.success).toBe(false);
    expect(r.attempts).toBe(1);
    expect(r.error?.message).toMatch(/not idempotent failure/);
  });

  it('a call past the policy timeout fails with TIMEOUT', async () => {
    const c = await connectorWith(executor(), { maxRetries: 0, timeoutMs: 300 });
    const r = await run(c, 'fx.slow', { ms: 5000 });
    expect(r.success).toBe(false);
    expect(r.error?.code).toBe('TIMEOUT');
  });

  it('a server that crashes mid-call is retried on a new connection', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const ex = executor({ CRASH_MARKER: join(tmp.dir, 'crashed') });
    const c = await connectorWith(ex, { maxRetries: 2 });
    const r = await run(c, 'fx.crash');
    expect(r).toMatchObject({ success: true, attempts: 2 });
    // And without retries the crash is a REMOTE_ERROR, while the next execution works again.
    const tmp2 = tempDir();
    cleanups.push(tmp2.remove);
    const c2 = await connectorWith(executor({ CRASH_MARKER: join(tmp2.dir, 'crashed') }), { maxRetries: 0 });
    const failed = await run(c2, 'fx.crash');
    expect(failed.error?.code).toBe('REMOTE_ERROR');
    expect((await run(c2, 'fx.crash')).success).toBe(true);
  });

  it('executing a tool no server has is TOOL_NOT_FOUND', async () => {
    const ex = executor();
    const err = await ex
      .execute(
        { tool: 'nope', params: {} },
        { signal: new AbortController().signal, attempt: 1, executionId: 'exec_1' },
      )
      .catch((e: unknown) => e);
    expect(isOrchestrationError(err, 'TOOL_NOT_FOUND')).toBe(true);
  });
});
