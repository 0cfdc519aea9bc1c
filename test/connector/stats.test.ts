import { describe, expect, it } from 'vitest';
import type { OrchestrationConnector } from '../../src/connector.js';
import { NonRetryableError } from '../../src/execution/executor.js';
import { collect, connectorsOn, expectError } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const GENESIS = '0'.repeat(64);
const EMPTY = { total: 0, byStatus: {} };

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    async function seed(c: OrchestrationConnector) {
      const ada = await c.createActor({ id: 'ada', name: 'Ada', role: 'human' });
      await c.createActor({ id: 'bob', name: 'Bob', role: 'human', status: 'busy' });
      await c.createActor({ id: 'cy', name: 'Cy', role: 'agent', status: 'inactive' });
      const w1 = await c.createWorkflow({ name: 'w1', description: '', steps: [{ name: 'a' }] });
      const w2 = await c.createWorkflow({ name: 'w2', description: '', steps: [{ name: 'a' }] });
      await c.createWorkflow({ name: 'w3', description: '' });
      await c.updateWorkflowStep({ workflow_id: w1.id, step: 'a', status: 'completed' });
      await c.cancelWorkflow({ workflow_id: w2.id, reason: 'dropped' });
      const p1 = await c.createProposal({ title: 'p1', description: '' });
      await c.createProposal({ title: 'p2', description: '' });
      await c.reviewProposal({ proposal_id: p1.id, reviewer_id: ada.id, decision: 'approve' });
    }

    describe('getStats', () => {
      it('counts nothing in an empty store', async () => {
        const c = await connectors.make();
        expect(await c.getStats()).toEqual({
          actors: EMPTY,
          workflows: EMPTY,
          proposals: EMPTY,
          actionProposals: EMPTY,
          executions: { total: 0, succeeded: 0, failed: 0, dryRun: 0 },
          auditEvents: { total: 0 },
        });
      });

      it('counts actors, workflows and proposals by status, and audit records', async () => {
        const c = await connectors.make();
        await seed(c);
        const stats = await c.getStats();
        expect(stats).toEqual({
          actors: { total: 3, byStatus: { active: 1, busy: 1, inactive: 1 } },
          workflows: { total: 3, byStatus: { completed: 1, cancelled: 1, draft: 1 } },
          proposals: { total: 2, byStatus: { approved: 1, pending: 1 } },
          actionProposals: EMPTY,
          executions: { total: 0, succeeded: 0, failed: 0, dryRun: 0 },
          auditEvents: { total: (await c.queryAuditEvents({ limit: 1000 })).length },
        });
      });

      it('moves counts between statuses as entities change', async () => {
        const c = await connectors.make();
        await seed(c);
        await c.updateActor({ id: 'bob', status: 'active' });
        await c.updateActor({ id: 'cy', status: 'active' });
        const stats = await c.getStats();
        expect(stats.actors).toEqual({ total: 3, byStatus: { active: 3 } });
      });

      it('counts action proposals by status and executions by outcome', async () => {
        const c = await connectors.make({
          tools: {
            lookup: { readOnly: true, handler: () => 'ok' },
            broken: {
              readOnly: true,
              handler: () => {
                throw new NonRetryableError('broken tool');
              },
            },
            deploy: { handler: () => 'deployed' },
          },
        });
        await c.createActor({ id: 'bot', name: 'Bot', role: 'agent' });
        const ok = await c.proposeAction({ actor_id: 'bot', tool: 'lookup', reason: 'read' });
        const bad = await c.proposeAction({ actor_id: 'bot', tool: 'broken', reason: 'read' });
        const sim = await c.proposeAction({ actor_id: 'bot', tool: 'lookup', reason: 'simulate' });
        await c.proposeAction({ actor_id: 'bot', tool: 'deploy', reason: 'ship' });
        expect((await c.executeAction({ proposal_id: ok.id })).success).toBe(true);
        expect((await c.executeAction({ proposal_id: bad.id })).success).toBe(false);
        expect((await c.executeAction({ proposal_id: sim.id, dry_run: true })).dryRun).toBe(true);
        const stats = await c.getStats();
        expect(stats.actionProposals).toEqual({
          total: 4,
          byStatus: { executed: 1, failed: 1, approved: 1, pending: 1 },
        });
        expect(stats.executions).toEqual({ total: 3, succeeded: 1, failed: 1, dryRun: 1 });
      });

      it('rejects any argument with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.getStats({ kind: 'actor' } as never), 'INVALID_INPUT');
      });
    });

    describe('clearAllData', () => {
      it('empties the store and starts a new trail with data_cleared as seq 1', async () => {
        const c = await connectors.make();
        await seed(c);
        const r = await c.clearAllData();
        const [cleared, ...rest] = await c.queryAuditEvents();
        expect(rest).toEqual([]);
        expect(cleared).toMatchObject({
          seq: 1,
          eventType: 'data_cleared',
          entityType: 'system',
          entityId: 'system',
          prevHash: GENESIS,
        });
        expect(r).toEqual({ cleared: true, auditHead: { seq: 1, hash: cleared?.hash } });
        expect(await c.getAuditHead()).toEqual(r.auditHead);
        expect(await c.getStats()).toEqual({
          actors: EMPTY,
          workflows: EMPTY,
          proposals: EMPTY,
          actionProposals: EMPTY,
          executions: { total: 0, succeeded: 0, failed: 0, dryRun: 0 },
          auditEvents: { total: 1 },
        });
        expect(await c.queryActors()).toEqual([]);
        expect(await c.queryWorkflows()).toEqual([]);
        expect(await c.queryProposals()).toEqual([]);
        await expectError(c.getActor({ id: 'ada' }), 'NOT_FOUND');
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 1 });
      });

      it('continues the new trail at seq 2 and frees explicit ids', async () => {
        const c = await connectors.make();
        await seed(c);
        await c.clearAllData();
        const ada = await c.createActor({ id: 'ada', name: 'Ada again', role: 'human' });
        const events = await c.queryAuditEvents();
        expect(events.map((e) => [e.seq, e.eventType])).toEqual([
          [1, 'data_cleared'],
          [2, 'actor_created'],
        ]);
        expect(events[1]?.prevHash).toBe(events[0]?.hash);
        expect(await c.getActor({ id: 'ada' })).toEqual(ada);
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 2 });
      });

      it('restores the policy the connector was configured with', async () => {
        const c = await connectors.make({ maxRetries: 1, policy: { tools: { deploy: { approvals_required: 2 } } } });
        const configured = await c.getPolicy();
        await c.updatePolicy({ max_retries: 9, tools: { deploy: null, other: { requires_approval: false } } });
        await c.clearAllData();
        expect(await c.getPolicy()).toEqual(configured);
      });

      it('stores no record with the audit trail disabled, but still emits data_cleared', async () => {
        const c = await connectors.make({ enableAudit: false });
        const cleared = collect(c, 'data_cleared');
        await seed(c);
        const r = await c.clearAllData();
        expect(r).toEqual({ cleared: true, auditHead: { seq: 0, hash: GENESIS } });
        expect((await c.getStats()).auditEvents.total).toBe(0);
        expect(await c.queryActors()).toEqual([]);
        expect(cleared).toHaveLength(1);
      });

      it('rejects any argument with INVALID_INPUT and clears nothing', async () => {
        const c = await connectors.make();
        await seed(c);
        const before = await c.getStats();
        await expectError(c.clearAllData({ confirm: true } as never), 'INVALID_INPUT');
        expect(await c.getStats()).toEqual(before);
      });
    });
  });
}
