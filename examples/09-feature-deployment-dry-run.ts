/**
 * A deployment rehearsed first: `dry_run: true` shows what would run without running it (the
 * approval stays), then the real run executes once and completes the workflow's deploy step.
 */
import { z } from 'zod';
import { OrchestrationConnector, type Workflow } from '../src/index.js';
import { actionState, expect, type Log, note, step } from './support.js';

export const title = 'Feature deployment with a dry run first';

const stepState = (wf: Workflow, name: string) => wf.steps.find((s) => s.name === name)?.status ?? '?';

export async function run(log: Log) {
  let deploys = 0;
  const connector = new OrchestrationConnector({
    tools: {
      deploy_service: {
        description: 'Blue/green deploy of one service version.',
        schema: z.object({
          service: z.string(),
          version: z.string().regex(/^\d+\.\d+\.\d+$/),
          environment: z.enum(['staging', 'production']),
        }),
        handler: ({ service, version, environment }) => {
          deploys++;
          return { deployed: `${service}@${version}`, environment, healthy: true };
        },
      },
    },
  });
  await connector.createActor({ id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent' });
  await connector.createActor({ id: 'alice', name: 'Alice Chen', role: 'sre' });
  step(log, 'admin', 'creates ops-agent (ai-agent) and alice (sre)', 'active');

  let wf = await connector.createWorkflow({
    name: 'Release checkout-api 2.4.0',
    description: 'Build, test, deploy.',
    priority: 'high',
    createdBy: 'ops-agent',
    assignedActors: ['ops-agent'],
    steps: [
      { name: 'build', actorId: 'ops-agent' },
      { name: 'test', actorId: 'ops-agent', dependencies: ['build'] },
      { name: 'deploy', actorId: 'ops-agent', dependencies: ['test'] },
    ],
  });
  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'build',
    status: 'completed',
    actor_id: 'ops-agent',
    output: { image: 'checkout-api:2.4.0' },
  });
  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'test',
    status: 'completed',
    actor_id: 'ops-agent',
    output: { passed: 388 },
  });
  step(log, 'ops-agent', "creates 'Release checkout-api 2.4.0', completes build and test", `workflow ${wf.status}`);

  const proposal = await connector.proposeAction({
    actor_id: 'ops-agent',
    workflow_id: wf.id,
    step: 'deploy',
    tool: 'deploy_service',
    params: { service: 'checkout-api', version: '2.4.0', environment: 'production' },
    reason: 'Build and tests are green',
  });
  step(log, 'ops-agent', "proposes deploy_service for step 'deploy'", `${proposal.id} ${actionState(proposal)}`);
  const approved = await connector.reviewAction({
    proposal_id: proposal.id,
    reviewer_id: 'alice',
    decision: 'approve',
  });
  step(log, 'alice', 'approves the deployment', actionState(approved));

  const rehearsal = await connector.executeAction({ proposal_id: proposal.id, dry_run: true });
  const afterDry = await connector.getActionProposal({ id: proposal.id });
  wf = await connector.getWorkflow({ id: wf.id });
  step(log, 'ops-agent', 'executes with dry_run: true', rehearsal.message);
  note(
    log,
    `proposal still ${afterDry.status}, step 'deploy' still ${stepState(wf, 'deploy')}, handler ran ${deploys} time(s)`,
  );

  const real = await connector.executeAction({ proposal_id: proposal.id });
  wf = await connector.getWorkflow({ id: wf.id });
  step(log, 'ops-agent', 'executes for real', `${real.message}: ${JSON.stringify(real.result)}`);
  note(log, `step 'deploy' ${stepState(wf, 'deploy')}, workflow ${wf.status}, handler ran ${deploys} time(s)`);

  const stats = await connector.getStats();
  note(log, `executions: ${stats.executions.succeeded} succeeded, ${stats.executions.dryRun} dry run`);

  expect(rehearsal.dryRun && rehearsal.message.startsWith('[DRY RUN]'), 'the rehearsal was a dry run');
  expect(afterDry.status === 'approved', 'the approval survived the dry run');
  expect(real.success && deploys === 1, 'the real run deployed once');
  expect(
    wf.status === 'completed' && stepState(wf, 'deploy') === 'completed',
    'the deploy step completed the workflow',
  );
  return { connector, rehearsal, result: real, workflow: wf, deploys };
}
