/**
 * The audit trail: every change is one hash-chained record in the store. Query it by type, entity,
 * actor and date range; verify the chain; keep the head outside the store to detect truncation.
 */
import { z } from 'zod';
import { type AuditEvent, OrchestrationConnector } from '../src/index.js';
import { expect, type Log, manualClock, note, step } from './support.js';

export const title = 'Audit queries: by type, entity, actor, date range; verification';

const DAY = 24 * 3600_000;
const types = (events: AuditEvent[]) => events.map((e) => e.eventType).join(', ');

export async function run(log: Log) {
  const time = manualClock('2026-03-02T09:00:00Z');
  const service = z.object({ service: z.string(), replicas: z.number().int().positive().optional() });
  let seen = 0;
  const connector = new OrchestrationConnector({
    clock: time.clock,
    audit: { signingKey: 'demo-signing-key-keep-me-secret' },
    tools: {
      restart_service: { schema: service, handler: ({ service }) => ({ restarted: service }) },
      scale_service: { schema: service, handler: ({ service, replicas }) => ({ service, replicas }) },
    },
  });
  connector.on('audit', () => {
    seen++;
  });

  // Monday: a restart is proposed, approved and run.
  await connector.createActor({ id: 'alice', name: 'Alice Chen', role: 'sre' });
  await connector.createActor({ id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent' });
  const restart = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'restart_service',
    params: { service: 'search' },
    reason: 'p99 latency above 2s',
  });
  await connector.reviewAction({ proposal_id: restart.id, reviewer_id: 'alice', decision: 'approve' });
  await connector.executeAction({ proposal_id: restart.id });
  step(log, 'ops-agent', 'on 2026-03-02: restart_service search, approved by alice', `${restart.id} executed`);

  // Tuesday: a scale-up is rejected.
  time.advance(DAY);
  const scale = await connector.proposeAction({
    actor_id: 'ops-agent',
    tool: 'scale_service',
    params: { service: 'search', replicas: 40 },
    reason: 'Traffic spike',
  });
  await connector.reviewAction({
    proposal_id: scale.id,
    reviewer_id: 'alice',
    decision: 'reject',
    comment: '40 replicas is over budget',
  });
  step(log, 'ops-agent', 'on 2026-03-03: scale_service search to 40, rejected by alice', `${scale.id} rejected`);

  const executed = await connector.queryAuditEvents({ eventType: 'action_executed' });
  step(
    log,
    'auditor',
    'queries eventType action_executed',
    `${executed.length} event(s), seq ${executed.map((e) => e.seq).join(', ')}`,
  );
  const history = await connector.queryAuditEvents({ entityId: restart.id });
  step(log, 'auditor', `queries entity ${restart.id}`, types(history));
  const byAlice = await connector.queryAuditEvents({ actorId: 'alice' });
  step(log, 'auditor', 'queries actor alice', types(byAlice));
  const monday = await connector.queryAuditEvents({ startDate: '2026-03-02', endDate: '2026-03-02' });
  step(log, 'auditor', 'queries 2026-03-02 (whole day)', `${monday.length} events`);
  const tuesday = await connector.queryAuditEvents({ startDate: '2026-03-03' });
  step(log, 'auditor', 'queries from 2026-03-03', `${tuesday.length} events: ${types(tuesday)}`);
  const reviews = await connector.queryAuditEvents({ entityType: 'action', eventType: 'proposal_reviewed' });
  step(
    log,
    'auditor',
    'queries action reviews',
    reviews.map((e) => `${e.details.decision} by ${e.actorId}`).join(', '),
  );
  const page1 = await connector.queryAuditEvents({ limit: 5 });
  const page2 = await connector.queryAuditEvents({ limit: 5, after: page1[page1.length - 1]?.id });
  step(
    log,
    'auditor',
    'pages through the trail 5 at a time',
    `page 1: seq ${page1[0]?.seq}-${page1.at(-1)?.seq}, page 2: seq ${page2[0]?.seq}-${page2.at(-1)?.seq}`,
  );

  const verified = await connector.verifyAuditTrail();
  step(
    log,
    'auditor',
    'verifies the hash chain (and HMAC signatures)',
    `valid=${verified.valid}, ${verified.count} records`,
  );
  const head = await connector.getAuditHead();
  step(
    log,
    'auditor',
    'saves the audit head outside the store',
    `seq ${head.seq}, hash ${head.hash.slice(0, 12)}..., signed=${head.signature !== undefined}`,
  );

  await connector.createActor({ id: 'bob', name: 'Bob Okafor', role: 'developer' });
  const withHead = await connector.verifyAuditTrail({ head });
  step(log, 'auditor', 'verifies later against the saved head', `valid=${withHead.valid}, ${withHead.count} records`);
  const forged = await connector.verifyAuditTrail({ head: { seq: head.seq + 10, hash: head.hash } });
  step(
    log,
    'auditor',
    'verifies against a head 10 records further on',
    `valid=${forged.valid}: ${forged.reason ?? ''}`,
  );
  note(log, `the 'audit' listener saw ${seen} events as they happened`);

  expect(executed.length === 1, 'one execution is on record');
  expect(monday.length + tuesday.length === verified.count, 'the two days cover the whole trail');
  expect(verified.valid && withHead.valid && !forged.valid, 'verification tells the real trail from a truncated one');
  expect(seen === verified.count + 1, "the 'audit' listener saw every record");
  return { connector, head, monday: monday.length, tuesday: tuesday.length, forged };
}
