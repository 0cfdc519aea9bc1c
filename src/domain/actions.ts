import { OrchestrationError } from '../errors.js';
import type { ActionProposal, ActionReview, Actor, ExecutionResult, ToolPolicy, Workflow } from '../types.js';
import { type DomainEvent, findStep } from './workflows.js';

/**
 * `a` with `changes`, as a new object (members in `a`'s order, new ones after). Not a spread literal
 * (`{ ...a, execution }`): V8 builds one that adds a member its source lacks on a slow path, about
 * 1 µs against 0.1 µs, and every step of an execution adds one.
 */
export function revised<T extends object>(a: T, changes: Partial<T>): T {
  return Object.assign({}, a, changes);
}

/** An action proposal after a rule, with the audit records it needs. */
export interface ActionChange {
  action: ActionProposal;
  events: DomainEvent[];
}

/** Distinct actors whose approval (or edit) applies to the current params. */
export function approvers(a: ActionProposal): Set<string> {
  const out = new Set<string>();
  for (const r of a.reviews) {
    if ((r.decision === 'approve' || r.decision === 'edit') && r.paramsHash === a.paramsHash) out.add(r.reviewerId);
  }
  return out;
}

/** True when the proposal is pending or approved and its deadline is past. Exactly at the deadline it is still valid. */
export function isExpired(a: ActionProposal, nowMs: number): boolean {
  return (
    (a.status === 'pending' || a.status === 'approved') && a.expiresAt !== undefined && nowMs > Date.parse(a.expiresAt)
  );
}

/** Moves a proposal whose deadline passed to `expired`. */
export function expire(a: ActionProposal, now: string): ActionChange {
  return {
    action: revised(a, { status: 'expired', updatedAt: now, version: a.version + 1 }),
    events: [{ type: 'action_expired', details: { from: a.status, expiresAt: a.expiresAt } }],
  };
}

/** Deadline after approval: approval time + the tool's (or global) TTL, if any. */
export function approvalDeadline(nowMs: number, ttlMs: number | undefined): string | undefined {
  return ttlMs === undefined ? undefined : new Date(nowMs + ttlMs).toISOString();
}

function stateError(a: ActionProposal, doing: string): OrchestrationError {
  if (a.status === 'expired') {
    return new OrchestrationError('EXPIRED', `Action proposal '${a.id}' has expired. Propose the action again.`, {
      proposalId: a.id,
      status: a.status,
    });
  }
  return new OrchestrationError('INVALID_STATE', `Action proposal '${a.id}' is ${a.status}; it cannot be ${doing}.`, {
    proposalId: a.id,
    status: a.status,
  });
}

/** A reviewer's decision, as the connector prepared it (edited params already merged and validated). */
export interface ReviewRequest {
  reviewer: Actor;
  decision: ActionReview['decision'];
  comment?: string;
  /** `params_hash` the reviewer saw, when given. */
  seenHash?: string;
  /** With `edit`: the new params and their hash. */
  edited?: { params: Record<string, unknown>; paramsHash: string };
}

/**
 * Checks that a decision may be made, without applying it (SPEC 5): only a `pending` proposal
 * (INVALID_STATE / EXPIRED); stale `params_hash` -> CONFLICT; inactive reviewer, self-review without
 * `allow_self_approval`, role outside `reviewer_roles` -> FORBIDDEN; a second approval of the same
 * params -> CONFLICT. Callers run it before validating edited params, so that a reviewer who may not
 * decide learns that first, whatever the params.
 */
export function assertMayReview(a: ActionProposal, req: Omit<ReviewRequest, 'edited'>, rules: ToolPolicy): void {
  if (a.status !== 'pending') throw stateError(a, 'reviewed');
  const who = req.reviewer.id;
  if (req.seenHash !== undefined && req.seenHash !== a.paramsHash) {
    throw new OrchestrationError(
      'CONFLICT',
      `The params of action proposal '${a.id}' changed since you saw them. Reload it and review the current params (paramsHash ${a.paramsHash}).`,
      { proposalId: a.id, expected: req.seenHash, current: a.paramsHash },
    );
  }
  if (req.reviewer.status !== 'active') {
    throw new OrchestrationError(
      'FORBIDDEN',
      `Actor '${who}' is ${req.reviewer.status}; only active actors may review.`,
      {
        proposalId: a.id,
        reviewerId: who,
      },
    );
  }
  if (who === a.actorId && rules.allow_self_approval !== true) {
    throw new OrchestrationError(
      'FORBIDDEN',
      `Actor '${who}' proposed action '${a.id}' and cannot review it. Ask another actor${rules.reviewer_roles?.length ? ` with role ${rules.reviewer_roles.join(' or ')}` : ''}.`,
      { proposalId: a.id, reviewerId: who },
    );
  }
  if (
    rules.reviewer_roles !== undefined &&
    rules.reviewer_roles.length > 0 &&
    !rules.reviewer_roles.includes(req.reviewer.role)
  ) {
    throw new OrchestrationError(
      'FORBIDDEN',
      `Actor '${who}' has role '${req.reviewer.role}'; tool '${a.tool}' needs a reviewer with role ${rules.reviewer_roles.join(' or ')}.`,
      { proposalId: a.id, reviewerId: who, role: req.reviewer.role, reviewerRoles: rules.reviewer_roles },
    );
  }
  if (req.decision === 'approve' && approvers(a).has(who)) {
    throw new OrchestrationError('CONFLICT', `Actor '${who}' has already approved action proposal '${a.id}'.`, {
      proposalId: a.id,
      reviewerId: who,
    });
  }
}

/**
 * Applies a decision after {@link assertMayReview}. `approve`/`edit` approve at `approvalsRequired`
 * distinct approvals of the current params; `reject` rejects at once. Expiry is checked by the caller.
 */
export function review(
  a: ActionProposal,
  req: ReviewRequest,
  rules: ToolPolicy,
  ttlMs: number | undefined,
  now: string,
  nowMs: number,
): ActionChange {
  assertMayReview(a, req, rules);
  const who = req.reviewer.id;

  const next: ActionProposal = revised(a, { updatedAt: now, version: a.version + 1 });
  if (req.decision === 'edit' && req.edited !== undefined) {
    if (next.originalParams === undefined) next.originalParams = a.params;
    next.params = req.edited.params;
    next.paramsHash = req.edited.paramsHash;
  }
  const entry: ActionReview = {
    reviewerId: who,
    decision: req.decision,
    at: now,
    paramsHash: next.paramsHash,
    ...(req.comment !== undefined ? { comment: req.comment } : {}),
  };
  next.reviews = [...a.reviews, entry];
  const details: Record<string, unknown> = { decision: req.decision, paramsHash: next.paramsHash };
  if (req.comment !== undefined) details.comment = req.comment;
  if (req.decision === 'edit') details.previousParamsHash = a.paramsHash;
  const events: DomainEvent[] = [{ type: 'proposal_reviewed', details }];

  if (req.decision === 'reject') {
    next.status = 'rejected';
    events.push({ type: 'action_rejected', details: { reviewerId: who } });
  } else {
    const count = approvers(next).size;
    details.approvals = count;
    details.approvalsRequired = a.approvalsRequired;
    if (count >= a.approvalsRequired) {
      next.status = 'approved';
      next.approvedAt = now;
      const deadline = approvalDeadline(nowMs, ttlMs);
      if (deadline === undefined) delete next.expiresAt;
      else next.expiresAt = deadline;
      events.push({ type: 'action_approved', details: { approvers: [...approvers(next)], expiresAt: next.expiresAt } });
    }
  }
  return { action: next, events };
}

/** The atomic `approved -> executing` move. Expiry is checked by the caller. */
export function claim(a: ActionProposal, executionId: string, now: string, leaseExpiresAt: string): ActionChange {
  if (a.status === 'pending' || a.status === 'rejected' || a.status === 'cancelled') {
    throw new OrchestrationError(
      'APPROVAL_REQUIRED',
      a.status === 'pending'
        ? `Action proposal '${a.id}' is still pending (${approvers(a).size}/${a.approvalsRequired} approvals). Wait for its approval.`
        : `Action proposal '${a.id}' is ${a.status}; it will not run. Propose the action again.`,
      { proposalId: a.id, status: a.status },
    );
  }
  if (a.status !== 'approved') throw stateError(a, 'executed');
  return {
    action: revised(a, {
      status: 'executing',
      execution: { executionId, startedAt: now, leaseExpiresAt },
      updatedAt: now,
      version: a.version + 1,
    }),
    events: [{ type: 'action_executing', details: { executionId, leaseExpiresAt } }],
  };
}

/** The end of an execution: `executing -> executed | failed`, with its result. */
export function finish(a: ActionProposal, result: ExecutionResult, now: string): ActionChange {
  const ok = result.success;
  return {
    action: revised(a, {
      status: ok ? 'executed' : 'failed',
      execution: revised(a.execution as NonNullable<ActionProposal['execution']>, { finishedAt: now, result }),
      updatedAt: now,
      version: a.version + 1,
    }),
    events: [
      {
        type: ok ? 'action_executed' : 'action_failed',
        details: {
          executionId: result.executionId,
          attempts: result.attempts,
          durationMs: result.durationMs,
          ...(result.error !== undefined ? { error: result.error } : {}),
        },
      },
    ],
  };
}

/** Cancels a pending or approved proposal. */
export function cancel(a: ActionProposal, actorId: string, reason: string, now: string): ActionChange {
  if (a.status !== 'pending' && a.status !== 'approved') throw stateError(a, 'cancelled');
  return {
    action: revised(a, {
      status: 'cancelled',
      cancelledBy: actorId,
      cancelReason: reason,
      updatedAt: now,
      version: a.version + 1,
    }),
    events: [{ type: 'action_cancelled', details: { reason, from: a.status } }],
  };
}

/** True when an `executing` proposal's lease ran out. */
export function leaseExpired(a: ActionProposal, nowMs: number): boolean {
  return a.status === 'executing' && a.execution !== undefined && nowMs > Date.parse(a.execution.leaseExpiresAt);
}

/**
 * Throws INVALID_STATE when a workflow takes no more actions: it is cancelled or completed, or the
 * named step is already completed or skipped. Checked when an action is proposed and again before it
 * runs, so that cancelling a workflow (or finishing a step by hand) stops its approved actions.
 */
export function assertWorkflowTakesAction(wf: Workflow, stepRef: string | undefined): void {
  if (wf.status === 'cancelled' || wf.status === 'completed') {
    throw new OrchestrationError('INVALID_STATE', `Workflow '${wf.id}' is ${wf.status}; it takes no more actions.`, {
      workflowId: wf.id,
      status: wf.status,
    });
  }
  const step = stepRef === undefined ? undefined : findStep(wf, stepRef);
  if (step !== undefined && (step.status === 'completed' || step.status === 'skipped')) {
    throw new OrchestrationError(
      'INVALID_STATE',
      `Step '${step.name}' of workflow '${wf.id}' is already ${step.status}.`,
      {
        workflowId: wf.id,
        step: step.name,
        status: step.status,
      },
    );
  }
}
