/**
 * A general proposal: a decision people review, not a tool call. When reviewers are assigned only
 * they may review, and it is approved once every one of them approved.
 */
import { OrchestrationConnector } from '../src/index.js';
import { expect, type Log, refused, step } from './support.js';

export const title = 'General proposal reviewed by assigned reviewers';

export async function run(log: Log) {
  const connector = new OrchestrationConnector();
  for (const a of [
    { id: 'carol', name: 'Carol Diaz', role: 'product-manager' },
    { id: 'alice', name: 'Alice Chen', role: 'tech-lead' },
    { id: 'bob', name: 'Bob Okafor', role: 'developer' },
    { id: 'dave', name: 'Dave Kim', role: 'developer' },
  ]) {
    await connector.createActor(a);
  }
  step(log, 'admin', 'creates actors carol, alice, bob, dave', 'active');

  let p = await connector.createProposal({
    title: 'Launch every UI change behind a feature flag',
    description: 'New UI ships dark, then ramps 1% -> 10% -> 100% with a kill switch.',
    priority: 'medium',
    requester: 'carol',
    assignedReviewers: ['alice', 'bob'],
  });
  step(log, 'carol', `proposes '${p.title}' to alice and bob`, `${p.id} ${p.status}`);

  await refused(log, 'dave', 'approves it (not an assigned reviewer)', 'FORBIDDEN', () =>
    connector.reviewProposal({ proposal_id: p.id, reviewer_id: 'dave', decision: 'approve' }),
  );
  p = await connector.reviewProposal({
    proposal_id: p.id,
    reviewer_id: 'alice',
    decision: 'comment',
    comment: 'Who owns cleaning up old flags?',
  });
  step(log, 'alice', 'comments "Who owns cleaning up old flags?"', p.status);
  p = await connector.reviewProposal({
    proposal_id: p.id,
    reviewer_id: 'alice',
    decision: 'approve',
    comment: 'Approve, with a 90-day flag expiry.',
  });
  step(log, 'alice', 'approves', `${p.status} (1 of 2 assigned reviewers)`);
  p = await connector.reviewProposal({ proposal_id: p.id, reviewer_id: 'bob', decision: 'approve' });
  step(log, 'bob', 'approves', `${p.status} (2 of 2 assigned reviewers)`);
  await refused(log, 'bob', 'rejects it afterwards', 'INVALID_STATE', () =>
    connector.reviewProposal({ proposal_id: p.id, reviewer_id: 'bob', decision: 'reject' }),
  );

  let q = await connector.createProposal({
    title: 'Drop IE11 support',
    description: 'Remove the polyfills.',
    requester: 'dave',
    assignedReviewers: ['alice', 'bob'],
  });
  step(log, 'dave', `proposes '${q.title}' to alice and bob`, `${q.id} ${q.status}`);
  q = await connector.reviewProposal({
    proposal_id: q.id,
    reviewer_id: 'alice',
    decision: 'reject',
    comment: 'Two enterprise customers still need it until Q3.',
  });
  step(log, 'alice', 'rejects it: "Two enterprise customers still need it until Q3."', `${q.status} at once`);

  const bobsQueue = await connector.queryProposals({ reviewer: 'bob' });
  step(log, 'bob', 'lists proposals he reviews', bobsQueue.map((x) => `'${x.title}' ${x.status}`).join(', '));

  expect(p.status === 'approved', 'the feature-flag proposal is approved');
  expect(q.status === 'rejected', 'the IE11 proposal is rejected');
  return { connector, approved: p, rejected: q };
}
