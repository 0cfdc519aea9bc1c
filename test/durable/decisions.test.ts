import { afterEach, describe, expect, it } from 'vitest';
import type { ActionProposal } from '../../src/types.js';
import { allActions, allAuditEvents, Child, makeTarget, seedProposals, type Target, targetNames } from './harness.js';

const ROUNDS = 500;

let target: Target | undefined;
afterEach(async () => {
  await target?.cleanup();
  target = undefined;
});

describe.each(targetNames())('decisions across processes (%s)', (name) => {
  it(`reviewAction - approve and reject sent at once from two processes end in exactly one decision (${ROUNDS} rounds)`, async () => {
    target = await makeTarget(name);
    const setup = await target.connector();
    const ids = await seedProposals(setup, ROUNDS, { approve: false, reviewers: ['approver', 'rejecter'] });
    const deciders = [
      new Child('decide', { ...target.env, OC_DECISION: 'approve', OC_REVIEWER: 'approver' }),
      new Child('decide', { ...target.env, OC_DECISION: 'reject', OC_REVIEWER: 'rejecter' }),
    ] as const;
    await Promise.all(deciders.map((d) => d.waitFor('ready')));
    // One round per proposal: both decisions are sent at the same moment (who is told first alternates).
    const approved = new Set<string>();
    const rejected = new Set<string>();
    const outcomes: Record<string, number> = {};
    for (const [round, id] of ids.entries()) {
      const order = round % 2 === 0 ? deciders : ([deciders[1], deciders[0]] as const);
      for (const d of order) d.send(`go ${id}`);
      const [fromApprover, fromRejecter] = await Promise.all(
        deciders.map(async (d) => (await d.waitFor('decided', 30_000, (m) => m.id === id)).outcome as string),
      );
      for (const o of [fromApprover, fromRejecter] as string[]) outcomes[o] = (outcomes[o] ?? 0) + 1;
      if (fromApprover === 'ok:approved') approved.add(id);
      if (fromRejecter === 'ok:rejected') rejected.add(id);
    }
    for (const d of deciders) d.send('end');
    await Promise.all(deciders.map((d) => d.done()));

    // Each round has exactly one winner; the loser saw INVALID_STATE and nothing else.
    expect(approved.size + rejected.size).toBe(ROUNDS);
    expect([...approved].filter((id) => rejected.has(id))).toEqual([]);
    expect(outcomes).toEqual({ 'ok:approved': approved.size, 'ok:rejected': rejected.size, INVALID_STATE: ROUNDS });
    // Both sides won rounds: the decisions really raced.
    expect(approved.size).toBeGreaterThan(0);
    expect(rejected.size).toBeGreaterThan(0);

    // The stored state agrees with the callers: one review, by the winner.
    const actions = await allActions(setup);
    for (const action of actions) {
      const want = approved.has(action.id) ? 'approved' : 'rejected';
      expect({ id: action.id, status: action.status, reviewers: action.reviews.map((x) => x.reviewerId) }).toEqual({
        id: action.id,
        status: want,
        reviewers: [want === 'approved' ? 'approver' : 'rejecter'],
      });
    }

    // The audit trail agrees: one review and one action_approved xor action_rejected per proposal.
    const trail = await allAuditEvents(setup);
    const perProposal = new Map<string, string[]>();
    for (const e of trail) {
      if (e.entityType !== 'action' || e.eventType === 'action_proposed') continue;
      perProposal.set(e.entityId, [...(perProposal.get(e.entityId) ?? []), e.eventType]);
    }
    expect(perProposal.size).toBe(ROUNDS);
    for (const id of ids) {
      expect(perProposal.get(id)).toEqual([
        'proposal_reviewed',
        approved.has(id) ? 'action_approved' : 'action_rejected',
      ]);
    }
    expect(trail.map((e) => e.seq)).toEqual(trail.map((_, i) => i + 1));
    expect(await setup.verifyAuditTrail()).toEqual({ valid: true, count: trail.length });
  }, 120_000);

  it('waitForDecision - resolves in one process when another process decides', async () => {
    target = await makeTarget(name);
    const setup = await target.connector();
    const [toApprove, toReject, undecided] = (await seedProposals(setup, 3, { approve: false })) as [
      string,
      string,
      string,
    ];
    const waiter = new Child('wait-decision', {
      ...target.env,
      OC_WAITS: `${toApprove}=20000,${toReject}=20000,${undecided}=1000`,
    });
    await waiter.waitFor('waiting');
    // Give the waits time to pass their first look at the store, so the decisions below reach them
    // through polling or notifications, not through that first read.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await setup.reviewAction({ proposal_id: toApprove, reviewer_id: 'reviewer', decision: 'approve' });
    await setup.reviewAction({ proposal_id: toReject, reviewer_id: 'reviewer', decision: 'reject' });
    const done = await waiter.done();

    const results = done.results as Array<{
      id: string;
      status?: ActionProposal['status'];
      reviewers?: string[];
      error?: { code: string };
    }>;
    expect(results.map(({ id, status, reviewers, error }) => ({ id, status, reviewers, code: error?.code }))).toEqual([
      { id: toApprove, status: 'approved', reviewers: ['reviewer'], code: undefined },
      { id: toReject, status: 'rejected', reviewers: ['reviewer'], code: undefined },
      { id: undecided, status: undefined, reviewers: undefined, code: 'TIMEOUT' },
    ]);
    const watch = done.watch as { available: boolean; subscriptions: number; notified: string[] };
    if (name === 'postgres') {
      // PostgreSQL: the waits subscribed to LISTEN/NOTIFY and heard both decisions.
      expect(watch.available).toBe(true);
      expect(watch.subscriptions).toBe(3);
      expect(watch.notified).toEqual(expect.arrayContaining([toApprove, toReject]));
    } else {
      // SQLite has no notifications: the waits polled the shared file.
      expect(watch).toEqual({ available: false, subscriptions: 0, notified: [] });
    }
  }, 60_000);
});
