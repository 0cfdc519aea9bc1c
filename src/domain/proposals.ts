import { OrchestrationError } from '../errors.js';
import type { Proposal, ProposalDecision } from '../types.js';
import type { DomainEvent } from './workflows.js';

/**
 * Applies a review to a general proposal (SPEC 4): only pending proposals; when reviewers are
 * assigned only they may review; approved once every assigned reviewer approved (or on the first
 * approval when none are assigned); rejected on the first reject; comments are kept.
 * Without assigned reviewers the requester may not approve or reject their own proposal.
 */
export function reviewProposal(
  p: Proposal,
  reviewerId: string,
  decision: ProposalDecision,
  comment: string | undefined,
  now: string,
): { proposal: Proposal; events: DomainEvent[] } {
  if (p.status !== 'pending') {
    throw new OrchestrationError(
      'INVALID_STATE',
      `Proposal '${p.id}' is already ${p.status}; it takes no more reviews.`,
      {
        proposalId: p.id,
        status: p.status,
      },
    );
  }
  const assigned = p.assignedReviewers;
  if (assigned.length > 0 && !assigned.includes(reviewerId)) {
    throw new OrchestrationError(
      'FORBIDDEN',
      `Actor '${reviewerId}' is not an assigned reviewer of proposal '${p.id}'. Assigned: ${assigned.join(', ')}.`,
      { proposalId: p.id, reviewerId, assignedReviewers: assigned },
    );
  }
  if (assigned.length === 0 && decision !== 'comment' && p.requester === reviewerId) {
    throw new OrchestrationError(
      'FORBIDDEN',
      `Actor '${reviewerId}' requested proposal '${p.id}' and cannot decide it. Ask another actor to review it.`,
      { proposalId: p.id, reviewerId },
    );
  }
  if (decision === 'approve' && p.reviews.some((r) => r.reviewerId === reviewerId && r.decision === 'approve')) {
    throw new OrchestrationError('CONFLICT', `Actor '${reviewerId}' has already approved proposal '${p.id}'.`, {
      proposalId: p.id,
      reviewerId,
    });
  }
  const review = { reviewerId, decision, at: now, ...(comment !== undefined ? { comment } : {}) };
  const reviews = [...p.reviews, review];
  let status: Proposal['status'] = p.status;
  if (decision === 'reject') status = 'rejected';
  if (decision === 'approve') {
    const approvers = new Set(reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewerId));
    status = assigned.length === 0 || assigned.every((a) => approvers.has(a)) ? 'approved' : 'pending';
  }
  const events: DomainEvent[] = [
    { type: 'proposal_reviewed', details: { decision, ...(comment !== undefined ? { comment } : {}) } },
  ];
  if (status === 'approved') events.push({ type: 'proposal_approved', details: {} });
  if (status === 'rejected') events.push({ type: 'proposal_rejected', details: {} });
  return { proposal: { ...p, reviews, status, updatedAt: now, version: p.version + 1 }, events };
}
