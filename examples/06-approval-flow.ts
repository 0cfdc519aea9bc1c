/**
 * The approval flow: an agent proposes a tool call, a different actor approves exactly the params
 * they saw (params_hash), and the approved call runs once. Nobody approves their own proposal.
 */
import { z } from 'zod';
import { OrchestrationConnector } from '../src/index.js';
import { actionState, expect, type Log, note, refused, short, step } from './support.js';

export const title = 'Approval flow: propose, review, execute exactly once';

export async function run(log: Log) {
  let restarts = 0;
  const connector = new OrchestrationConnector({
    tools: {
      restart_service: {
        description: 'Restart a service (rolling).',
        schema: z.object({ service: z.string(), environment: z.enum(['staging', 'production']) }),
        handler: ({ service, environment }) => {
          restarts++;
          return { restarted: service, environment, pods: 6 };
        },
      },
    },
  });
  await connector.createActor({ id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent' });
  await connector.createActor({ id: 'alice', name: 'Alice Chen', role: 'sre' });
  step(log, 'admin', 'creates ops-agent (ai-agent) and alice (sre)', 'active');

  await refused(log, 'ops-agent', 'proposes restart_service in environment "prod"', 'INVALID_PARAMS', () =>
    connector.proposeAction({
      actor_id: 'ops-agent',
      tool: 'restart_service',
      params: { service: 'checkout-api', environment: 'prod' },
      reason: 'Connection pool exhausted',
    }),
  );
  const proposal = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'restart_service',
    params: { service: 'checkout-api', environment: 'production' },
    reason: 'Connection pool exhausted',
  });
  step(
    log,
    'ops-agent',
    `proposes restart_service ${short(proposal.params)}`,
    `${proposal.id} ${actionState(proposal)}`,
  );

  await refused(log, 'ops-agent', 'executes it right away', 'APPROVAL_REQUIRED', () =>
    connector.executeAction({ proposal_id: proposal.id }),
  );
  await refused(log, 'ops-agent', 'approves its own proposal', 'FORBIDDEN', () =>
    connector.reviewAction({ proposal_id: proposal.id, reviewer_id: 'ops-agent', decision: 'approve' }),
  );

  const seen = await connector.getActionProposal({ id: proposal.id });
  step(log, 'alice', 'opens the proposal', `${short(seen.params)}, paramsHash ${seen.paramsHash.slice(0, 12)}...`);
  const approved = await connector.reviewAction({
    proposal_id: seen.id,
    reviewer_id: 'alice',
    decision: 'approve',
    params_hash: seen.paramsHash,
    comment: 'Go ahead, off-peak.',
  });
  step(log, 'alice', 'approves the params she saw (params_hash)', actionState(approved));

  const result = await connector.executeAction({ proposal_id: proposal.id });
  step(log, 'ops-agent', 'executes it', `${result.message}: ${short(result.result)} (${result.attempts} attempt)`);
  await refused(log, 'ops-agent', 'executes it a second time', 'INVALID_STATE', () =>
    connector.executeAction({ proposal_id: proposal.id }),
  );

  const final = await connector.getActionProposal({ id: proposal.id });
  note(log, `final status ${final.status}; the handler ran ${restarts} time(s)`);

  expect(result.success && final.status === 'executed', 'the approved call executed');
  expect(restarts === 1, 'the handler ran exactly once');
  return { connector, proposal: final, result, restarts };
}
