/**
 * Policy: global settings plus per-tool rules (who must approve, how many, for how long). Every
 * change is audited with the policy before and after, so "who loosened the rules" has an answer.
 */
import { z } from 'zod';
import { OrchestrationConnector } from '../src/index.js';
import { actionState, expect, type Log, note, refused, step } from './support.js';

export const title = 'Policy change: per-tool rules, audited before/after';

/** Dotted paths whose values differ between two policies, as `path: before -> after`. */
function policyDiff(before: unknown, after: unknown, path = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(before) || isObj(after)) {
    const b = isObj(before) ? before : {};
    const a = isObj(after) ? after : {};
    return [...new Set([...Object.keys(b), ...Object.keys(a)])].flatMap((k) =>
      policyDiff(b[k], a[k], path ? `${path}.${k}` : k),
    );
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  return [`${path}: ${show(before)} -> ${show(after)}`];
}

export async function run(log: Log) {
  const service = z.object({ service: z.string() });
  const connector = new OrchestrationConnector({
    tools: {
      read_logs: { readOnly: true, schema: service, handler: () => ['GET /health 200'] },
      restart_service: { schema: service, handler: ({ service }) => ({ restarted: service }) },
      deploy_service: {
        schema: z.object({ service: z.string(), version: z.string() }),
        handler: ({ service, version }) => ({ deployed: `${service}@${version}` }),
      },
    },
  });
  for (const a of [
    { id: 'sec-admin', name: 'Security Admin', role: 'security' },
    { id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent' },
    { id: 'bob', name: 'Bob Okafor', role: 'developer' },
  ]) {
    await connector.createActor(a);
  }
  step(log, 'admin', 'creates actors sec-admin, ops-agent, bob', 'active');

  const initial = await connector.getPolicy();
  step(
    log,
    'sec-admin',
    'reads the policy',
    `dry_run=${initial.dry_run} max_retries=${initial.max_retries} timeout_ms=${initial.timeout_ms} tool rules: ${Object.keys(initial.tools).length}`,
  );
  const before = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'restart_service',
    params: { service: 'api' },
    reason: 'Memory leak',
  });
  step(log, 'ops-agent', 'proposes restart_service (needs approval by default)', `${before.id} ${actionState(before)}`);

  const policy = await connector.updatePolicy({
    updated_by: 'sec-admin',
    max_retries: 1,
    timeout_ms: 5000,
    approval_ttl_ms: 30 * 60_000,
    tools: {
      restart_service: { requires_approval: false },
      deploy_service: { approvals_required: 2, reviewer_roles: ['sre', 'tech-lead'] },
    },
  });
  step(
    log,
    'sec-admin',
    'updates the policy: restarts run freely, deploys need 2 sre/tech-lead approvals',
    `${Object.keys(policy.tools).length} tool rules`,
  );

  const restart = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'restart_service',
    params: { service: 'api' },
    reason: 'Memory leak',
  });
  step(log, 'ops-agent', 'proposes restart_service again', `${restart.id} ${actionState(restart)}`);
  const deploy = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'deploy_service',
    params: { service: 'api', version: '2.4.0' },
    reason: 'Release 2.4.0',
  });
  step(log, 'ops-agent', 'proposes deploy_service api@2.4.0', `${deploy.id} ${actionState(deploy)}`);
  await refused(log, 'bob', 'approves the deploy (role developer)', 'FORBIDDEN', () =>
    connector.reviewAction({ proposal_id: deploy.id, reviewer_id: 'bob', decision: 'approve' }),
  );
  await refused(log, 'sec-admin', 'sets max_retries to 99', 'INVALID_INPUT', () =>
    connector.updatePolicy({ updated_by: 'sec-admin', max_retries: 99 }),
  );

  const tightened = await connector.updatePolicy({ updated_by: 'sec-admin', tools: { restart_service: null } });
  step(
    log,
    'sec-admin',
    'removes the restart_service rule after an incident',
    `${Object.keys(tightened.tools).join(', ')} ruled`,
  );
  const again = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'restart_service',
    params: { service: 'api' },
    reason: 'Memory leak',
  });
  step(log, 'ops-agent', 'proposes restart_service once more', `${again.id} ${actionState(again)}`);

  const changes = await connector.queryAuditEvents({ eventType: 'policy_updated' });
  step(log, 'auditor', 'queries policy_updated events', `${changes.length} changes`);
  for (const e of changes) {
    note(log, `#${e.seq} by ${e.actorId ?? '?'}:`);
    for (const d of policyDiff(e.details.before, e.details.after)) note(log, `  ${d}`);
  }

  expect(before.status === 'pending', 'restart needs approval under the default policy');
  expect(restart.status === 'approved', 'restart runs freely under the loosened policy');
  expect(deploy.approvalsRequired === 2, 'deploys need two approvals');
  expect(again.status === 'pending', 'restart needs approval again after the rule is removed');
  return { connector, policy: tightened, deploy, changes: changes.length };
}
