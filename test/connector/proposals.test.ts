import { describe, expect, it } from 'vitest';
import type { OrchestrationConnector } from '../../src/connector.js';
import type { Proposal } from '../../src/types.js';
import { connectorsOn, expectError, expectUnchanged, manualClock, snapshot } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    async function people(c: OrchestrationConnector) {
      return {
        req: await c.createActor({ id: 'req', name: 'Requester', role: 'agent' }),
        r1: await c.createActor({ id: 'r1', name: 'Reviewer 1', role: 'human' }),
        r2: await c.createActor({ id: 'r2', name: 'Reviewer 2', role: 'human' }),
        other: await c.createActor({ id: 'other', name: 'Bystander', role: 'human' }),
      };
    }
    const review = (
      c: OrchestrationConnector,
      p: Proposal,
      reviewer: string,
      decision: 'approve' | 'reject' | 'comment',
      comment?: string,
    ) =>
      c.reviewProposal({
        proposal_id: p.id,
        reviewer_id: reviewer,
        decision,
        ...(comment !== undefined ? { comment } : {}),
      });

    describe('createProposal', () => {
      it('creates a pending proposal with a prefixed id, medium priority and no reviews', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        const p = await c.createProposal({ title: 'Adopt TS 6', description: 'Upgrade the compiler' });
        expect(p).toEqual({
          id: expect.stringMatching(/^proposal_/),
          title: 'Adopt TS 6',
          description: 'Upgrade the compiler',
          priority: 'medium',
          status: 'pending',
          assignedReviewers: [],
          reviews: [],
          createdAt: clock.now().toISOString(),
          updatedAt: clock.now().toISOString(),
          version: 1,
        });
        expect(await c.getProposal({ id: p.id })).toEqual(p);
      });

      it('keeps requester, reviewers (without duplicates), priority and workflow', async () => {
        const c = await connectors.make();
        await people(c);
        const wf = await c.createWorkflow({ name: 'w', description: '' });
        const p = await c.createProposal({
          title: 't',
          description: 'd',
          priority: 'urgent',
          requester: 'req',
          assignedReviewers: ['r1', 'r2', 'r1'],
          workflow_id: wf.id,
        });
        expect(p).toMatchObject({
          requester: 'req',
          assignedReviewers: ['r1', 'r2'],
          priority: 'urgent',
          workflowId: wf.id,
        });
        expect(await c.getProposal({ id: p.id })).toEqual(p);
      });

      it('fails with NOT_FOUND for an unknown reviewer, requester or workflow, storing nothing', async () => {
        const c = await connectors.make();
        await people(c);
        const before = await snapshot(c);
        await expectError(
          c.createProposal({ title: 't', description: '', assignedReviewers: ['r1', 'ghost'] }),
          'NOT_FOUND',
          {
            id: 'ghost',
          },
        );
        await expectError(c.createProposal({ title: 't', description: '', requester: 'ghost' }), 'NOT_FOUND', {
          id: 'ghost',
        });
        await expectError(
          c.createProposal({ title: 't', description: '', workflow_id: 'workflow_ghost' }),
          'NOT_FOUND',
          {
            id: 'workflow_ghost',
          },
        );
        await expectUnchanged(c, before);
      });

      const invalid: Array<[string, Record<string, unknown>]> = [
        ['an unknown key', { title: 't', description: '', status: 'approved' }],
        ['a camelCase workflowId', { title: 't', description: '', workflowId: 'workflow_x' }],
        ['a missing title', { description: '' }],
        ['a missing description', { title: 't' }],
        ['an unknown priority', { title: 't', description: '', priority: 'p0' }],
        ['reviewers that are not a list', { title: 't', description: '', assignedReviewers: 'r1' }],
      ];
      for (const [what, input] of invalid) {
        it(`rejects ${what} with INVALID_INPUT, storing nothing`, async () => {
          const c = await connectors.make();
          const before = await snapshot(c);
          await expectError(c.createProposal(input as never), 'INVALID_INPUT');
          await expectUnchanged(c, before);
        });
      }
    });

    describe('reviewProposal', () => {
      it('approves once every assigned reviewer approved, keeping each review', async () => {
        const clock = manualClock('2026-04-01T12:00:00.000Z');
        const c = await connectors.make({ clock: clock.now });
        await people(c);
        const p = await c.createProposal({
          title: 't',
          description: '',
          requester: 'req',
          assignedReviewers: ['r1', 'r2'],
        });
        clock.advance(1000);
        const one = await review(c, p, 'r1', 'approve', 'fine by me');
        expect(one.status).toBe('pending');
        expect(one.reviews).toEqual([
          { reviewerId: 'r1', decision: 'approve', comment: 'fine by me', at: '2026-04-01T12:00:01.000Z' },
        ]);
        clock.advance(1000);
        const two = await review(c, p, 'r2', 'approve');
        expect(two.status).toBe('approved');
        expect(two.reviews).toEqual([
          { reviewerId: 'r1', decision: 'approve', comment: 'fine by me', at: '2026-04-01T12:00:01.000Z' },
          { reviewerId: 'r2', decision: 'approve', at: '2026-04-01T12:00:02.000Z' },
        ]);
        expect(two.updatedAt).toBe('2026-04-01T12:00:02.000Z');
        expect(await c.getProposal({ id: p.id })).toEqual(two);
      });

      it('rejects on the first reject, even after approvals', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', assignedReviewers: ['r1', 'r2'] });
        await review(c, p, 'r1', 'approve');
        const rejected = await review(c, p, 'r2', 'reject', 'too risky');
        expect(rejected.status).toBe('rejected');
        expect(rejected.reviews.map((r) => [r.reviewerId, r.decision, r.comment])).toEqual([
          ['r1', 'approve', undefined],
          ['r2', 'reject', 'too risky'],
        ]);
      });

      it('rejects at once when the first review is a reject', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', assignedReviewers: ['r1', 'r2'] });
        expect((await review(c, p, 'r2', 'reject')).status).toBe('rejected');
      });

      it('keeps comments without deciding anything', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', assignedReviewers: ['r1'] });
        await review(c, p, 'r1', 'comment', 'what about rollback?');
        const after = await review(c, p, 'r1', 'comment', 'and monitoring?');
        expect(after.status).toBe('pending');
        expect(after.reviews.map((r) => [r.decision, r.comment])).toEqual([
          ['comment', 'what about rollback?'],
          ['comment', 'and monitoring?'],
        ]);
        expect((await review(c, p, 'r1', 'approve')).status).toBe('approved');
      });

      it('lets only assigned reviewers review: others get FORBIDDEN and change nothing', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', requester: 'req', assignedReviewers: ['r1'] });
        const before = await snapshot(c);
        for (const [who, decision] of [
          ['other', 'approve'],
          ['other', 'reject'],
          ['other', 'comment'],
          ['req', 'approve'],
        ] as const) {
          const err = await expectError(review(c, p, who, decision), 'FORBIDDEN', {
            proposalId: p.id,
            reviewerId: who,
          });
          expect(err.message).toContain('r1');
        }
        await expectUnchanged(c, before);
        expect(await c.getProposal({ id: p.id })).toEqual(p);
      });

      it('approves on the first approval when no reviewers are assigned', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', requester: 'req' });
        const after = await review(c, p, 'other', 'approve');
        expect(after.status).toBe('approved');
      });

      it('refuses the requester deciding their own proposal without reviewers, but keeps their comments', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', requester: 'req' });
        const before = await snapshot(c);
        await expectError(review(c, p, 'req', 'approve'), 'FORBIDDEN', { reviewerId: 'req' });
        await expectError(review(c, p, 'req', 'reject'), 'FORBIDDEN', { reviewerId: 'req' });
        await expectUnchanged(c, before);
        const commented = await review(c, p, 'req', 'comment', 'context: see ticket 12');
        expect(commented.status).toBe('pending');
        expect(commented.reviews).toHaveLength(1);
      });

      it('refuses a second approval by the same reviewer with CONFLICT', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '', assignedReviewers: ['r1', 'r2'] });
        const once = await review(c, p, 'r1', 'approve');
        const before = await snapshot(c);
        await expectError(review(c, p, 'r1', 'approve'), 'CONFLICT', { proposalId: p.id, reviewerId: 'r1' });
        await expectUnchanged(c, before);
        expect(await c.getProposal({ id: p.id })).toEqual(once);
      });

      for (const decided of ['approved', 'rejected'] as const) {
        it(`refuses any review of an ${decided} proposal with INVALID_STATE`, async () => {
          const c = await connectors.make();
          await people(c);
          const p = await c.createProposal({ title: 't', description: '', assignedReviewers: ['r1', 'r2'] });
          if (decided === 'approved') {
            await review(c, p, 'r1', 'approve');
            await review(c, p, 'r2', 'approve');
          } else {
            await review(c, p, 'r1', 'reject');
          }
          const before = await snapshot(c);
          for (const decision of ['approve', 'reject', 'comment'] as const) {
            await expectError(review(c, p, 'r2', decision), 'INVALID_STATE', { status: decided });
          }
          await expectUnchanged(c, before);
        });
      }

      it('fails with NOT_FOUND for an unknown proposal or reviewer', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '' });
        const before = await snapshot(c);
        await expectError(
          c.reviewProposal({ proposal_id: 'proposal_ghost', reviewer_id: 'r1', decision: 'approve' }),
          'NOT_FOUND',
          { id: 'proposal_ghost' },
        );
        await expectError(review(c, p, 'ghost', 'approve'), 'NOT_FOUND', { id: 'ghost' });
        await expectUnchanged(c, before);
      });

      it('rejects an unknown decision, camelCase keys and unknown keys with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await people(c);
        const p = await c.createProposal({ title: 't', description: '' });
        const before = await snapshot(c);
        await expectError(review(c, p, 'r1', 'edit' as 'approve'), 'INVALID_INPUT');
        await expectError(
          c.reviewProposal({ proposalId: p.id, reviewerId: 'r1', decision: 'approve' } as never),
          'INVALID_INPUT',
        );
        await expectError(
          c.reviewProposal({ proposal_id: p.id, reviewer_id: 'r1', decision: 'approve', weight: 2 } as never),
          'INVALID_INPUT',
        );
        await expectUnchanged(c, before);
      });

      it('counts concurrent approvals of every assigned reviewer', async () => {
        const c = await connectors.make();
        const reviewers: string[] = [];
        for (let i = 0; i < 5; i++) reviewers.push((await c.createActor({ name: `r${i}`, role: 'human' })).id);
        const p = await c.createProposal({ title: 't', description: '', assignedReviewers: reviewers });
        await Promise.all(reviewers.map((r) => review(c, p, r, 'approve')));
        const after = await c.getProposal({ id: p.id });
        expect(after.status).toBe('approved');
        expect(after.reviews.map((r) => r.reviewerId).sort()).toEqual([...reviewers].sort());
        expect(await c.queryAuditEvents({ entityId: p.id, eventType: 'proposal_approved' })).toHaveLength(1);
      });
    });

    describe('getProposal', () => {
      it('fails with NOT_FOUND for an unknown id and INVALID_INPUT for unknown keys', async () => {
        const c = await connectors.make();
        await expectError(c.getProposal({ id: 'proposal_ghost' }), 'NOT_FOUND', { id: 'proposal_ghost' });
        await expectError(c.getProposal({ proposal_id: 'x' } as never), 'INVALID_INPUT');
      });
    });

    describe('queryProposals', () => {
      async function seed(c: OrchestrationConnector) {
        await people(c);
        const p1 = await c.createProposal({
          title: 'p1',
          description: '',
          priority: 'high',
          requester: 'req',
          assignedReviewers: ['r1'],
        });
        const p2 = await c.createProposal({
          title: 'p2',
          description: '',
          requester: 'other',
          assignedReviewers: ['r1', 'r2'],
        });
        const p3 = await c.createProposal({ title: 'p3', description: '', priority: 'high' });
        const p4 = await c.createProposal({
          title: 'p4',
          description: '',
          priority: 'low',
          requester: 'req',
          assignedReviewers: ['r2'],
        });
        await review(c, p1, 'r1', 'approve');
        await review(c, p4, 'r2', 'reject');
        return { p1, p2, p3, p4 };
      }
      const titles = (list: Proposal[]) => list.map((p) => p.title);

      it('returns every proposal, oldest first, without filters', async () => {
        const c = await connectors.make();
        await seed(c);
        expect(titles(await c.queryProposals())).toEqual(['p1', 'p2', 'p3', 'p4']);
      });

      it('filters by status, priority, requester and reviewer, alone and together', async () => {
        const c = await connectors.make();
        await seed(c);
        expect(titles(await c.queryProposals({ status: 'pending' }))).toEqual(['p2', 'p3']);
        expect(titles(await c.queryProposals({ status: 'approved' }))).toEqual(['p1']);
        expect(titles(await c.queryProposals({ status: 'rejected' }))).toEqual(['p4']);
        expect(titles(await c.queryProposals({ status: 'withdrawn' }))).toEqual([]);
        expect(titles(await c.queryProposals({ priority: 'high' }))).toEqual(['p1', 'p3']);
        expect(titles(await c.queryProposals({ priority: 'medium' }))).toEqual(['p2']);
        expect(titles(await c.queryProposals({ requester: 'req' }))).toEqual(['p1', 'p4']);
        expect(titles(await c.queryProposals({ reviewer: 'r1' }))).toEqual(['p1', 'p2']);
        expect(titles(await c.queryProposals({ reviewer: 'r2' }))).toEqual(['p2', 'p4']);
        expect(titles(await c.queryProposals({ reviewer: 'r2', status: 'pending' }))).toEqual(['p2']);
        expect(titles(await c.queryProposals({ requester: 'req', priority: 'low', reviewer: 'r2' }))).toEqual(['p4']);
        expect(await c.queryProposals({ requester: 'nobody' })).toEqual([]);
      });

      it('pages with limit and after, without gaps or duplicates', async () => {
        const c = await connectors.make();
        await seed(c);
        const seen: string[] = [];
        let after: string | undefined;
        for (let i = 0; i < 10; i++) {
          const page = await c.queryProposals({ limit: 1, ...(after ? { after } : {}) });
          if (page.length === 0) break;
          seen.push(...titles(page));
          after = page[0]?.id;
        }
        expect(seen).toEqual(['p1', 'p2', 'p3', 'p4']);
        const high = await c.queryProposals({ priority: 'high', limit: 1 });
        expect(titles(await c.queryProposals({ priority: 'high', after: high[0]?.id }))).toEqual(['p3']);
      });

      it('rejects a limit above 1000 and unknown filters with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.queryProposals({ limit: 1001 }), 'INVALID_INPUT');
        await expectError(c.queryProposals({ status: 'open' } as never), 'INVALID_INPUT');
        await expectError(c.queryProposals({ assignedReviewer: 'r1' } as never), 'INVALID_INPUT');
      });
    });
  });
}
