/**
 * A security incident: the responder agent investigates with read-only calls in parallel, proposes
 * containment, and once the incident commander approves, contains in one parallel batch. A batch
 * that sneaks in an unapproved write is refused before anything in it runs.
 */
import { z } from 'zod';
import { type ExecutionResult, OrchestrationConnector, type Workflow } from '../src/index.js';
import { actionState, expect, type Log, note, refused, short, step } from './support.js';

export const title = 'Security incident: parallel investigation and approved containment';

const stepState = (wf: Workflow, name: string) => wf.steps.find((s) => s.name === name)?.status ?? '?';
const summary = (results: ExecutionResult[]) =>
  results.map((r) => `${r.tool} ${r.success ? 'ok' : `failed (${r.error?.code})`}`).join(', ');

export async function run(log: Log) {
  const ran: string[] = [];
  const user = z.object({ user: z.string() });
  const connector = new OrchestrationConnector({
    tools: {
      query_siem: {
        readOnly: true,
        schema: z.object({ query: z.string(), hours: z.number().int().positive() }),
        handler: ({ query }) => {
          ran.push('query_siem');
          if (String(query).startsWith('auth.success')) return { successfulLogins: 1, users: ['j.doe'] };
          return { failedLogins: 18_422, sourceIp: '203.0.113.77', compromised: ['j.doe'] };
        },
      },
      lookup_ip_reputation: {
        readOnly: true,
        schema: z.object({ ip: z.string() }),
        handler: ({ ip }) => {
          ran.push('lookup_ip_reputation');
          return { ip, score: 97, tags: ['credential-stuffing'] };
        },
      },
      list_active_sessions: {
        readOnly: true,
        schema: user,
        handler: ({ user }) => {
          ran.push('list_active_sessions');
          return { user, sessions: ran.includes('disable_account') ? 0 : 3 };
        },
      },
      block_ip: {
        schema: z.object({ ip: z.string(), hours: z.number().int().positive() }),
        handler: ({ ip, hours }) => {
          ran.push('block_ip');
          return { blocked: ip, hours };
        },
      },
      disable_account: {
        schema: user,
        handler: ({ user }) => {
          ran.push('disable_account');
          return { disabled: user, sessionsRevoked: 3 };
        },
      },
      rotate_credentials: {
        schema: user,
        handler: () => {
          ran.push('rotate_credentials');
          return { rotated: true };
        },
      },
    },
    policy: {
      tools: {
        block_ip: { reviewer_roles: ['incident-commander'] },
        disable_account: { reviewer_roles: ['incident-commander'] },
        rotate_credentials: { reviewer_roles: ['incident-commander'] },
      },
    },
  });
  await connector.createActor({ id: 'ir-agent', name: 'Incident Response Agent', role: 'ai-agent' });
  await connector.createActor({ id: 'sam', name: 'Sam Patel', role: 'incident-commander' });
  step(log, 'admin', 'creates ir-agent (ai-agent) and sam (incident-commander)', 'active');

  let wf = await connector.createWorkflow({
    name: 'INC-2041: credential stuffing on /login',
    description: 'Investigate, contain, write up.',
    priority: 'urgent',
    createdBy: 'sam',
    assignedActors: ['ir-agent', 'sam'],
    steps: [
      { name: 'investigate', actorId: 'ir-agent' },
      { name: 'block-ip', actorId: 'ir-agent', dependencies: ['investigate'] },
      { name: 'disable-account', actorId: 'ir-agent', dependencies: ['investigate'] },
      { name: 'postmortem', actorId: 'sam', dependencies: ['block-ip', 'disable-account'] },
    ],
  });
  step(log, 'sam', "opens workflow 'INC-2041' (investigate -> block-ip + disable-account -> postmortem)", wf.status);

  const investigation = await connector.executeParallel({
    calls: [
      { tool: 'query_siem', params: { query: 'auth.failed AND path:/login', hours: 6 } },
      { tool: 'lookup_ip_reputation', params: { ip: '203.0.113.77' } },
      { tool: 'list_active_sessions', params: { user: 'j.doe' } },
    ],
  });
  step(log, 'ir-agent', 'runs 3 read-only investigation calls in parallel', summary(investigation.results));
  note(log, `siem: ${short(investigation.results[0]?.result, 100)}`);
  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'investigate',
    status: 'completed',
    actor_id: 'ir-agent',
    output: { attacker: '203.0.113.77', compromised: ['j.doe'] },
  });
  step(log, 'ir-agent', "completes 'investigate'", `workflow ${wf.status}`);

  const block = await connector.proposeAction({
    actor_id: 'ir-agent',
    workflow_id: wf.id,
    step: 'block-ip',
    tool: 'block_ip',
    params: { ip: '203.0.113.77', hours: 72 },
    reason: 'Source of 18k failed logins, reputation 97',
  });
  const disable = await connector.proposeAction({
    actor_id: 'ir-agent',
    workflow_id: wf.id,
    step: 'disable-account',
    tool: 'disable_account',
    params: { user: 'j.doe' },
    reason: 'Logged in from the attacking IP',
  });
  step(
    log,
    'ir-agent',
    'proposes block_ip 203.0.113.77 and disable_account j.doe',
    `${block.id} ${actionState(block)}, ${disable.id} ${actionState(disable)}`,
  );
  for (const p of [block, disable]) {
    const a = await connector.reviewAction({
      proposal_id: p.id,
      reviewer_id: 'sam',
      decision: 'approve',
      params_hash: p.paramsHash,
    });
    step(log, 'sam', `approves ${a.tool} ${short(a.params)}`, actionState(a));
  }

  await refused(
    log,
    'ir-agent',
    'runs both approved proposals plus a raw rotate_credentials',
    'APPROVAL_REQUIRED',
    () =>
      connector.executeParallel({
        calls: [
          { proposal_id: block.id },
          { proposal_id: disable.id },
          { tool: 'rotate_credentials', params: { user: 'j.doe' } },
        ],
      }),
  );
  const stillApproved = await connector.queryActionProposals({ status: 'approved' });
  note(
    log,
    `nothing ran: handler calls since the investigation ${ran.length - 3}, ${stillApproved.length} proposals still approved`,
  );

  const containment = await connector.executeParallel({
    calls: [
      { proposal_id: block.id },
      { proposal_id: disable.id },
      { tool: 'query_siem', params: { query: 'auth.success AND src:203.0.113.77', hours: 6 } },
    ],
  });
  wf = await connector.getWorkflow({ id: wf.id });
  step(log, 'ir-agent', 'runs the two approved proposals and a scope check in parallel', summary(containment.results));
  note(
    log,
    `steps block-ip ${stepState(wf, 'block-ip')}, disable-account ${stepState(wf, 'disable-account')}; scope: ${short(containment.results[2]?.result)}`,
  );
  const sessions = await connector.executeWithRetry({ tool: 'list_active_sessions', params: { user: 'j.doe' } });
  step(log, 'ir-agent', "checks j.doe's sessions (executeWithRetry, read-only)", short(sessions.data));

  wf = await connector.updateWorkflowStep({
    workflow_id: wf.id,
    step: 'postmortem',
    status: 'completed',
    actor_id: 'sam',
    output: { doc: 'INC-2041-postmortem.md' },
  });
  step(log, 'sam', "completes 'postmortem'", `workflow ${wf.status}`);

  const statuses = {
    block_ip: (await connector.getActionProposal({ id: block.id })).status,
    disable_account: (await connector.getActionProposal({ id: disable.id })).status,
  };
  expect(investigation.success && containment.success, 'both batches succeeded');
  expect(!ran.includes('rotate_credentials'), 'the unapproved write never ran');
  expect(stillApproved.length === 2, 'the refused batch left both approvals intact');
  expect(statuses.block_ip === 'executed' && statuses.disable_account === 'executed', 'containment executed');
  expect(wf.status === 'completed', 'the incident workflow is completed');
  expect((sessions.data as { sessions?: number }).sessions === 0, 'no sessions are left after containment');
  return { connector, statuses, workflow: wf, ran };
}
