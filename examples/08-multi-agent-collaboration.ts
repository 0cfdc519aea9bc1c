/**
 * Several agents share one workflow; merging needs a quorum of two human reviewers. When a reviewer
 * edits the params, approvals given to the old params stop counting, and a stale screen cannot
 * approve the edited call.
 */
import { z } from 'zod';
import { OrchestrationConnector, type Workflow } from '../src/index.js';
import { actionState, expect, type Log, note, refused, short, step } from './support.js';

export const title = 'Multi-agent collaboration: quorum of 2, an edit resets approvals';

const stepState = (wf: Workflow, name: string) => wf.steps.find((s) => s.name === name)?.status ?? '?';

export async function run(log: Log) {
  const merges: Array<Record<string, unknown>> = [];
  const connector = new OrchestrationConnector({
    tools: {
      scan_dependencies: {
        readOnly: true,
        schema: z.object({ repo: z.string(), ref: z.string() }),
        handler: () => ({ critical: 0, high: 0, moderate: 2 }),
      },
      merge_pull_request: {
        schema: z.object({
          repo: z.string(),
          pr: z.number().int().positive(),
          strategy: z.enum(['merge', 'squash', 'rebase']),
          delete_branch: z.boolean(),
        }),
        handler: (params) => {
          merges.push(params);
          return { merged: true, sha: '9f3c2e1' };
        },
      },
    },
    policy: { tools: { merge_pull_request: { approvals_required: 2 } } },
  });
  for (const a of [
    { id: 'planner-agent', name: 'Planner Agent', role: 'ai-agent', capabilities: ['planning'] },
    { id: 'coder-agent', name: 'Coder Agent', role: 'ai-agent', capabilities: ['typescript'] },
    { id: 'security-agent', name: 'Security Agent', role: 'ai-agent', capabilities: ['security-scan'] },
    { id: 'alice', name: 'Alice Chen', role: 'tech-lead' },
    { id: 'bob', name: 'Bob Okafor', role: 'senior-developer' },
  ]) {
    await connector.createActor(a);
  }
  step(log, 'admin', 'creates 3 agents and 2 human reviewers; merges need 2 approvals', 'active');

  let wf = await connector.createWorkflow({
    name: 'Ship PR #42: rate limiter',
    description: 'Plan, implement, scan and merge the API rate limiter.',
    createdBy: 'planner-agent',
    assignedActors: ['planner-agent', 'coder-agent', 'security-agent'],
    steps: [
      { name: 'plan', actorId: 'planner-agent' },
      { name: 'implement', actorId: 'coder-agent', dependencies: ['plan'] },
      { name: 'security-scan', actorId: 'security-agent', dependencies: ['implement'] },
      { name: 'merge', actorId: 'coder-agent', dependencies: ['security-scan'] },
    ],
  });
  step(log, 'planner-agent', "creates workflow 'Ship PR #42' (plan -> implement -> security-scan -> merge)", wf.status);
  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'plan',
    status: 'completed',
    actor_id: 'planner-agent',
    output: { tasks: ['token bucket', 'redis store', 'headers'] },
  });
  step(log, 'planner-agent', "completes 'plan' with 3 tasks", `workflow ${wf.status}`);
  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'implement',
    status: 'completed',
    actor_id: 'coder-agent',
    output: { pr: 42 },
  });
  step(log, 'coder-agent', "completes 'implement': opened PR #42", `workflow ${wf.status}`);

  const scan = await connector.proposeAction({
    actor_id: 'security-agent',
    workflow_id: wf.id,
    step: 'security-scan',
    tool: 'scan_dependencies',
    params: { repo: 'acme/api', ref: 'pr-42' },
    reason: 'Scan the PR before merge',
  });
  const scanResult = await connector.executeAction({ proposal_id: scan.id });
  wf = await connector.getWorkflow({ id: wf.id });
  step(
    log,
    'security-agent',
    'proposes and runs scan_dependencies (read-only: no approval)',
    `${scan.id} ${short(scanResult.result)}, step ${stepState(wf, 'security-scan')}`,
  );

  const merge = await connector.proposeAction({
    actor_id: 'coder-agent',
    workflow_id: wf.id,
    step: 'merge',
    tool: 'merge_pull_request',
    params: { repo: 'acme/api', pr: 42, strategy: 'merge', delete_branch: false },
    reason: 'Scan is clean; ready to merge',
  });
  step(log, 'coder-agent', `proposes merge_pull_request ${short(merge.params)}`, `${merge.id} ${actionState(merge)}`);
  await refused(log, 'coder-agent', 'approves its own merge', 'FORBIDDEN', () =>
    connector.reviewAction({ proposal_id: merge.id, reviewer_id: 'coder-agent', decision: 'approve' }),
  );

  const alicesScreen = await connector.getActionProposal({ id: merge.id });
  let m = await connector.reviewAction({
    proposal_id: merge.id,
    reviewer_id: 'alice',
    decision: 'approve',
    params_hash: alicesScreen.paramsHash,
  });
  step(log, 'alice', 'approves', actionState(m));
  m = await connector.reviewAction({
    proposal_id: merge.id,
    reviewer_id: 'bob',
    decision: 'edit',
    edits: { strategy: 'squash', delete_branch: true },
    comment: 'Squash it and clean up the branch.',
  });
  step(
    log,
    'bob',
    'edits: strategy squash, delete_branch true',
    `${actionState(m)}: alice's approval was for the old params`,
  );
  await refused(log, 'alice', 'approves again from her stale screen (old params_hash)', 'CONFLICT', () =>
    connector.reviewAction({
      proposal_id: merge.id,
      reviewer_id: 'alice',
      decision: 'approve',
      params_hash: alicesScreen.paramsHash,
    }),
  );
  await refused(log, 'coder-agent', 'executes the merge now', 'APPROVAL_REQUIRED', () =>
    connector.executeAction({ proposal_id: merge.id }),
  );
  const reloaded = await connector.getActionProposal({ id: merge.id });
  m = await connector.reviewAction({
    proposal_id: merge.id,
    reviewer_id: 'alice',
    decision: 'approve',
    params_hash: reloaded.paramsHash,
  });
  step(log, 'alice', `reloads ${short(reloaded.params)} and approves`, actionState(m));

  const result = await connector.executeAction({ proposal_id: merge.id });
  wf = await connector.getWorkflow({ id: wf.id });
  step(log, 'coder-agent', 'executes the merge', `${short(result.result)}, workflow ${wf.status}`);
  const final = await connector.getActionProposal({ id: merge.id });
  note(log, `originally proposed ${short(final.originalParams)}; ran ${short(merges[0])}`);

  expect(final.status === 'executed', 'the merge executed');
  expect(merges.length === 1 && merges[0]?.strategy === 'squash', 'the edited params ran, once');
  expect(wf.status === 'completed', 'the workflow is completed');
  return { connector, merge: final, workflow: wf };
}
