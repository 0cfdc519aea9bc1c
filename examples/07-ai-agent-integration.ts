/**
 * An AI agent wired to the gate. A (simulated, offline) model plans tool calls for a support ticket;
 * the agent proposes each one. Read-only calls are approved automatically and run at once; calls that
 * change something wait with waitForDecision while a human reviews them in parallel.
 */
import { z } from 'zod';
import { type ActionProposal, OrchestrationConnector } from '../src/index.js';
import { expect, type Log, note, short, sleep, step } from './support.js';

export const title = 'AI agent integration: read-only calls run, writes wait for a human';

interface PlannedCall {
  tool: string;
  params: Record<string, unknown>;
  reason: string;
}

const TICKET = { id: 'T-4711', customer: 'cus_8812', text: 'I was billed twice for my annual plan. Please refund.' };

/** Stands in for the model: reads the ticket and plans tool calls. No network. */
function planToolCalls(ticket: typeof TICKET): PlannedCall[] {
  return [
    { tool: 'search_kb', params: { query: 'duplicate charge annual plan' }, reason: 'Find the refund policy' },
    { tool: 'get_customer', params: { customer_id: ticket.customer }, reason: 'Check the billing history' },
    {
      tool: 'issue_refund',
      params: { customer_id: ticket.customer, amount: 119, currency: 'EUR' },
      reason: 'Duplicate charge confirmed in billing history',
    },
    // The model overreaches here; the human will catch it.
    { tool: 'close_account', params: { customer_id: ticket.customer }, reason: 'Customer seems unhappy' },
    {
      tool: 'send_reply',
      params: { ticket_id: ticket.id, body: 'We refunded the duplicate charge of EUR 119.' },
      reason: 'Tell the customer',
    },
  ];
}

export async function run(log: Log) {
  const customerId = z.object({ customer_id: z.string() });
  const connector = new OrchestrationConnector({
    tools: {
      search_kb: {
        readOnly: true,
        schema: z.object({ query: z.string() }),
        handler: () => ({ article: 'KB-12', says: 'Duplicate charges are refunded in full.' }),
      },
      get_customer: {
        readOnly: true,
        schema: customerId,
        handler: ({ customer_id }) => ({ id: customer_id, plan: 'annual', charges: [119, 119] }),
      },
      issue_refund: {
        schema: z.object({ customer_id: z.string(), amount: z.number().positive(), currency: z.string().length(3) }),
        handler: ({ amount, currency }) => ({ refund: 're_5521', amount, currency }),
      },
      close_account: { schema: customerId, handler: () => ({ closed: true }) },
      send_reply: {
        schema: z.object({ ticket_id: z.string(), body: z.string() }),
        handler: ({ ticket_id }) => ({ sent: ticket_id }),
      },
    },
  });
  await connector.createActor({ id: 'support-agent', name: 'Support Agent', role: 'ai-agent' });
  await connector.createActor({ id: 'maria', name: 'Maria Rossi', role: 'support-lead' });
  step(log, 'admin', 'creates support-agent (ai-agent) and maria (support-lead)', 'active');

  // The human: reviews whatever needs approval, a moment after it shows up, while the agent carries on.
  const decisions: Array<Promise<void>> = [];
  connector.on('action_proposed', (e) => {
    if (e.details.requiresApproval !== true) return;
    decisions.push(
      (async () => {
        await sleep(30);
        const a = await connector.getActionProposal({ id: e.entityId });
        if (a.tool === 'close_account') {
          const r = await connector.reviewAction({
            proposal_id: a.id,
            reviewer_id: 'maria',
            decision: 'reject',
            params_hash: a.paramsHash,
            comment: 'They asked for a refund, not to leave.',
          });
          step(
            log,
            'maria',
            `reviews ${a.tool} ${short(a.params)}: "They asked for a refund, not to leave."`,
            r.status,
          );
        } else {
          const r = await connector.reviewAction({
            proposal_id: a.id,
            reviewer_id: 'maria',
            decision: 'approve',
            params_hash: a.paramsHash,
          });
          step(log, 'maria', `reviews ${a.tool} ${short(a.params)}`, r.status);
        }
      })(),
    );
  });

  step(log, 'support-agent', `reads ticket ${TICKET.id}: "${TICKET.text}"`, 'plans 5 tool calls');
  const waiting: ActionProposal[] = [];
  const observations: string[] = [];
  for (const call of planToolCalls(TICKET)) {
    const p = await connector.proposeAction({ actor_id: 'support-agent', ...call });
    if (p.status === 'approved') {
      const r = await connector.executeAction({ proposal_id: p.id });
      step(
        log,
        'support-agent',
        `calls ${call.tool} ${short(call.params)}`,
        `${p.id} ran at once: ${short(r.result, 60)}`,
      );
      observations.push(`${call.tool}: ${JSON.stringify(r.result)}`);
    } else {
      step(
        log,
        'support-agent',
        `proposes ${call.tool} ${short(call.params)}`,
        `${p.id} ${p.status}, waits for a human`,
      );
      waiting.push(p);
    }
  }

  const decided = await Promise.all(
    waiting.map((p) => connector.waitForDecision({ proposal_id: p.id, timeout_ms: 5000 })),
  );
  await Promise.all(decisions);
  const statuses: Record<string, string> = {};
  for (const d of decided) {
    if (d.status === 'approved') {
      const r = await connector.executeAction({ proposal_id: d.id });
      step(
        log,
        'support-agent',
        `executes approved ${d.tool}`,
        `${r.success ? 'done' : 'failed'}: ${short(r.result, 70)}`,
      );
      observations.push(`${d.tool}: ${JSON.stringify(r.result)}`);
    } else {
      const why = d.reviews.at(-1)?.comment ?? 'no reason given';
      step(log, 'support-agent', `learns ${d.tool} was ${d.status}`, `drops it, tells the model: "${why}"`);
      observations.push(`${d.tool}: ${d.status} (${why})`);
    }
    statuses[d.tool] = (await connector.getActionProposal({ id: d.id })).status;
  }
  note(log, `the model receives ${observations.length} observations and closes the ticket`);

  expect(statuses.issue_refund === 'executed', 'the refund was executed');
  expect(statuses.close_account === 'rejected', 'the account closure was rejected');
  expect(statuses.send_reply === 'executed', 'the reply was sent');
  return { connector, statuses };
}
