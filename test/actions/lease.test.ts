import { describe, expect, it } from 'vitest';
import { OrchestrationConnector } from '../../src/index.js';

describe('execution lease', () => {
  it('is renewed while the handler runs, so a live execution is never recovered as interrupted', async () => {
    let release: (v: string) => void = () => {};
    let started = false;
    const c = new OrchestrationConnector({
      maxRetries: 0,
      timeoutMs: 5_000,
      policy: { execution_lease_ms: 150 },
      tools: {
        long: {
          requiresApproval: false,
          handler: () => {
            started = true;
            return new Promise<string>((r) => {
              release = r;
            });
          },
        },
      },
    });
    await c.createActor({ id: 'agent', name: 'Agent', role: 'ai' });
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'long', reason: 'runs longer than its lease' });
    const running = c.executeAction({ proposal_id: p.id });
    while (!started) await new Promise((r) => setTimeout(r, 5));
    const firstLease = (await c.getActionProposal({ id: p.id })).execution?.leaseExpiresAt;
    // Three lease lengths pass while the handler is alive.
    await new Promise((r) => setTimeout(r, 450));
    expect(await c.recoverStaleExecutions({})).toEqual([]);
    const renewed = await c.getActionProposal({ id: p.id });
    expect(renewed.status).toBe('executing');
    expect(Date.parse(renewed.execution?.leaseExpiresAt ?? '')).toBeGreaterThan(Date.parse(firstLease ?? ''));
    release('done');
    const result = await running;
    expect(result.success).toBe(true);
    expect((await c.getActionProposal({ id: p.id })).status).toBe('executed');
    expect(await c.verifyAuditTrail({})).toMatchObject({ valid: true });
    await c.close();
  });
});

describe('executeParallel dry run', () => {
  it('audits every simulated raw call as action_simulated and counts it in getStats', async () => {
    let ran = 0;
    const c = new OrchestrationConnector({
      tools: { look: { readOnly: true, handler: () => ran++ }, write: { handler: () => ran++ } },
    });
    const r = await c.executeParallel({
      calls: [{ tool: 'look' }, { tool: 'write', params: { a: 1 } }],
      dry_run: true,
    });
    expect(r.results.map((x) => x.message)).toEqual([
      '[DRY RUN] Would execute look with {}',
      '[DRY RUN] Would execute write with {"a":1}',
    ]);
    expect(ran).toBe(0);
    const simulated = await c.queryAuditEvents({ eventType: 'action_simulated' });
    expect(simulated.map((e) => [e.entityType, e.entityId])).toEqual([
      ['tool', 'look'],
      ['tool', 'write'],
    ]);
    expect((await c.getStats({})).executions).toEqual({ total: 2, succeeded: 0, failed: 0, dryRun: 2 });
    await c.close();
  });
});
