import { describe, expect, it } from 'vitest';
import * as actors from '../examples/01-actors.js';
import * as featureWorkflow from '../examples/02-feature-deployment-workflow.js';
import * as generalProposal from '../examples/03-general-proposal.js';
import * as policyChange from '../examples/04-policy-change.js';
import * as auditQuery from '../examples/05-audit-query.js';
import * as approvalFlow from '../examples/06-approval-flow.js';
import * as agentIntegration from '../examples/07-ai-agent-integration.js';
import * as multiAgent from '../examples/08-multi-agent-collaboration.js';
import * as dryRun from '../examples/09-feature-deployment-dry-run.js';
import * as migration from '../examples/10-database-migration.js';
import * as incident from '../examples/11-security-incident.js';
import { type ScenarioResult, silent } from '../examples/support.js';

/** Runs a scenario silently, checks its audit trail verifies, hands its outcome to `check`, closes it. */
async function runScenario<R extends ScenarioResult>(
  run: (log: typeof silent) => Promise<R>,
  check: (r: R) => void | Promise<void>,
): Promise<void> {
  const r = await run(silent);
  try {
    const verified = await r.connector.verifyAuditTrail();
    expect(verified.valid).toBe(true);
    expect(verified.count).toBeGreaterThan(0);
    await check(r);
  } finally {
    await r.connector.close();
  }
}

describe('examples', () => {
  it('01-actors - queries actors by capability, role and status', async () => {
    await runScenario(actors.run, (r) => {
      expect(r.reviewers).toEqual(['alice', 'bob', 'dana']);
      expect(r.active).toEqual(['alice', 'bob', 'dana', 'ops-agent']);
      expect(r.inactive).toEqual(['coder-agent']);
    });
  });

  it('02-feature-deployment-workflow - refuses early steps and cycles, then completes', async () => {
    await runScenario(featureWorkflow.run, (r) => {
      expect(r.workflow.status).toBe('completed');
      expect(r.workflow.steps.map((s) => s.status)).toEqual(Array(5).fill('completed'));
      expect(r.cycle[0]).toBe(r.cycle[r.cycle.length - 1]);
    });
  });

  it('03-general-proposal - approves once both assigned reviewers approved', async () => {
    await runScenario(generalProposal.run, (r) => {
      expect(r.approved.status).toBe('approved');
      expect(r.approved.reviews.map((x) => `${x.reviewerId}:${x.decision}`)).toEqual([
        'alice:comment',
        'alice:approve',
        'bob:approve',
      ]);
      expect(r.rejected.status).toBe('rejected');
    });
  });

  it('04-policy-change - applies per-tool rules and audits every change', async () => {
    await runScenario(policyChange.run, async (r) => {
      expect(r.policy.tools).toEqual({
        deploy_service: { approvals_required: 2, reviewer_roles: ['sre', 'tech-lead'] },
      });
      expect(r.deploy.approvalsRequired).toBe(2);
      const changes = await r.connector.queryAuditEvents({ eventType: 'policy_updated' });
      expect(changes).toHaveLength(2);
      expect(changes[0]?.details).toHaveProperty('before');
      expect(changes[0]?.details).toHaveProperty('after');
    });
  });

  it('05-audit-query - splits the trail by day and detects a truncated head', async () => {
    await runScenario(auditQuery.run, async (r) => {
      expect(r.monday).toBe(7);
      expect(r.tuesday).toBe(3);
      expect(r.forged.valid).toBe(false);
      expect(await r.connector.verifyAuditTrail({ head: r.head })).toMatchObject({ valid: true });
    });
  });

  it('06-approval-flow - executes the approved call exactly once', async () => {
    await runScenario(approvalFlow.run, (r) => {
      expect(r.proposal.status).toBe('executed');
      expect(r.result.success).toBe(true);
      expect(r.restarts).toBe(1);
    });
  });

  it('07-ai-agent-integration - runs reads at once and writes after the human decides', async () => {
    await runScenario(agentIntegration.run, (r) => {
      expect(r.statuses).toEqual({ issue_refund: 'executed', close_account: 'rejected', send_reply: 'executed' });
    });
  });

  it('08-multi-agent-collaboration - runs the edited params after a fresh quorum', async () => {
    await runScenario(multiAgent.run, (r) => {
      expect(r.merge.status).toBe('executed');
      expect(r.merge.params).toMatchObject({ strategy: 'squash', delete_branch: true });
      expect(r.merge.originalParams).toMatchObject({ strategy: 'merge', delete_branch: false });
      expect(r.workflow.status).toBe('completed');
    });
  });

  it('09-feature-deployment-dry-run - rehearses without running, then deploys once', async () => {
    await runScenario(dryRun.run, (r) => {
      expect(r.rehearsal).toMatchObject({ success: true, dryRun: true });
      expect(r.rehearsal.message).toMatch(/^\[DRY RUN\] Would execute deploy_service/);
      expect(r.result).toMatchObject({ success: true, dryRun: false });
      expect(r.deploys).toBe(1);
      expect(r.workflow.status).toBe('completed');
    });
  });

  it('10-database-migration - needs a DBA, expires unused approvals, redacts the password', async () => {
    await runScenario(migration.run, async (r) => {
      expect(r.applied).toHaveLength(1);
      expect(r.expired.status).toBe('expired');
      expect(r.result.params.password).toBe('[REDACTED]');
      const proposed = await r.connector.queryAuditEvents({ entityId: r.executed, eventType: 'action_proposed' });
      expect(proposed[0]?.details.params).toMatchObject({ password: '[REDACTED]' });
    });
  });

  it('11-security-incident - refuses a batch with an unapproved write, then contains in parallel', async () => {
    await runScenario(incident.run, (r) => {
      expect(r.statuses).toEqual({ block_ip: 'executed', disable_account: 'executed' });
      expect(r.ran).not.toContain('rotate_credentials');
      expect(r.workflow.status).toBe('completed');
    });
  });
});
