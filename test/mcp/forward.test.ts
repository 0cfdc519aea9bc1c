import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectorConfig, isOrchestrationError, OrchestrationConnector } from '../../src/index.js';
import { fixtureServer } from './helpers.js';

const connectors: OrchestrationConnector[] = [];

function connector(config: ConnectorConfig = {}): OrchestrationConnector {
  const c = new OrchestrationConnector({ remoteServers: { fx: fixtureServer({ FLAKY_FAILS: '2' }) }, ...config });
  connectors.push(c);
  return c;
}

async function code(p: Promise<unknown>): Promise<unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isOrchestrationError(err) ? err.code : err;
}

afterEach(async () => {
  await Promise.all(connectors.splice(0).map((c) => c.close()));
});

describe('forwardToolCall / executeWithRetry through RemoteConnections', () => {
  it('forwards a read-only call to an allow-listed stdio server and audits it', async () => {
    const c = connector();
    const r = await c.forwardToolCall({ server: 'fx', tool_name: 'echo', args: { message: 'hi' } });
    expect(r).toMatchObject({ success: true, data: { message: 'hi' } });
    const events = await c.queryAuditEvents({ eventType: 'tool_forwarded' });
    expect(events).toHaveLength(1);
  });

  it('refuses servers off the allow-list, unknown tools and tools that need approval', async () => {
    const c = connector();
    expect(await code(c.forwardToolCall({ server: 'elsewhere', tool_name: 'echo' }))).toBe('FORBIDDEN');
    expect(await code(c.forwardToolCall({ server: 'fx', tool_name: 'nope' }))).toBe('TOOL_NOT_FOUND');
    expect(await code(c.forwardToolCall({ server: 'fx', tool_name: 'write_note', args: { note: 'x' } }))).toBe(
      'APPROVAL_REQUIRED',
    );
  });

  it('a call past timeout_ms fails with TIMEOUT in the result', async () => {
    const c = connector();
    const r = await c.forwardToolCall({ server: 'fx', tool_name: 'slow', args: { ms: 5000 }, timeout_ms: 200 });
    expect(r.success).toBe(false);
    expect(r.error?.code).toBe('TIMEOUT');
  });

  it('executeWithRetry retries an idempotent remote tool the policy lets run', async () => {
    const c = connector({ policy: { max_retries: 3, tools: { 'fx.flaky': { requires_approval: false } } } });
    const r = await c.executeWithRetry({ tool: 'flaky', server: 'fx' });
    expect(r).toMatchObject({ success: true });
  });
});
