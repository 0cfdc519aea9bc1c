import { reviewProposal as applyProposalReview } from '../domain/proposals.js';
import type * as s from '../schemas.js';
import type { Proposal } from '../types.js';
import { newId } from '../util/ids.js';

import { type In, Service } from './service.js';

/** General proposals: creation, reviews, queries. Internal: the connector validates inputs and delegates here. */
export class Proposals extends Service {
  async createProposal(i: In<typeof s.createProposalInput>): Promise<Proposal> {
    const reviewers = [...new Set(i.assignedReviewers ?? [])];
    await this.requireActors([...reviewers, ...(i.requester ? [i.requester] : [])], 'Reviewers and requester');
    if (i.workflow_id !== undefined) await this.k.load('workflow', i.workflow_id, 'Check workflow_id.');
    const now = this.nowIso();
    const p: Proposal = {
      id: newId('proposal'),
      title: i.title,
      description: i.description,
      priority: i.priority ?? 'medium',
      status: 'pending',
      ...(i.requester !== undefined ? { requester: i.requester } : {}),
      assignedReviewers: reviewers,
      ...(i.workflow_id !== undefined ? { workflowId: i.workflow_id } : {}),
      reviews: [],
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.k.commit({
      writes: [{ kind: 'proposal', entity: p }],
      drafts: [
        this.k.draft(
          { type: 'proposal_created', details: { title: p.title, priority: p.priority, assignedReviewers: reviewers } },
          'proposal',
          p.id,
          i.requester,
          now,
        ),
      ],
    });
    return p;
  }

  async reviewProposal(i: In<typeof s.reviewProposalInput>): Promise<Proposal> {
    await this.requireActors([i.reviewer_id], 'reviewer_id');
    return this.k.mutate('proposal', i.proposal_id, 'Check proposal_id.', (p) => {
      const now = this.nowIso();
      const c = applyProposalReview(p, i.reviewer_id, i.decision, i.comment, now);
      return {
        mutation: {
          writes: [{ kind: 'proposal', entity: c.proposal, expectedVersion: p.version }],
          drafts: this.k.drafts(c.events, 'proposal', p.id, i.reviewer_id, now),
        },
        result: c.proposal,
      };
    });
  }

  async getProposal(i: In<typeof s.getByIdInput>): Promise<Proposal> {
    return this.k.load('proposal', i.id, 'Check the proposal id.');
  }

  async queryProposals(i: In<typeof s.queryProposalsInput>): Promise<Proposal[]> {
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.priority) filters.push(['priority', i.priority]);
    if (i.requester) filters.push(['requester', i.requester]);
    if (i.reviewer) filters.push(['reviewer', i.reviewer]);
    return this.query('proposal', filters, i.limit, i.after);
  }
}
