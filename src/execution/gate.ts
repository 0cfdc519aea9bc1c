import { sha256Canonical } from '../audit/chain.js';
import { redactParams } from '../audit/redact.js';
import {
  approvalDeadline,
  assertMayReview,
  assertWorkflowTakesAction,
  cancel as cancelRule,
  isExpired,
  type ReviewRequest,
  review as reviewRule,
} from '../domain/actions.js';
import { requiresApproval, toolRules } from '../domain/policy.js';
import { assertDependenciesMet, findStep, stepNames } from '../domain/workflows.js';
import { OrchestrationError } from '../errors.js';
import type { Described, Kernel, MutateOutcome } from '../kernel.js';
import type * as s from '../schemas.js';
import type { ActionProposal, Actor, ExecutionResult, Policy, ToolPolicy } from '../types.js';
import { newId } from '../util/ids.js';
import { isoOf } from '../util/time.js';
import { Executions } from './execute.js';
import type { ToolDescription } from './executor.js';
import { GateBase, type In } from './gate-base.js';
import { Parallel, type ParallelResult } from './parallel.js';
import { waitForDecision } from './wait.js';

export type { ParallelResult } from './parallel.js';

/**
 * The approval machine of SPEC 5: propose, review and cancel live here; execution, parallel batches
 * and waiting in their own modules.
 */
export class Gate extends GateBase {
  private readonly executions: Executions;
  private readonly batches: Parallel;

  constructor(k: Kernel) {
    super(k);
    this.executions = new Executions(k);
    this.batches = new Parallel(k, this.executions);
  }

  execute(i: In<typeof s.executeActionInput>): Promise<ExecutionResult> {
    return this.executions.execute(i);
  }

  parallel(i: In<typeof s.executeParallelInput>): Promise<ParallelResult> {
    return this.batches.parallel(i);
  }

  recoverStale(): Promise<ActionProposal[]> {
    return this.executions.recoverStale();
  }

  waitForDecision(
    i: In<typeof s.waitForDecisionInput>,
    events: Parameters<typeof waitForDecision>[2],
    signal?: AbortSignal,
  ): Promise<ActionProposal> {
    return waitForDecision(this, i, events, signal);
  }

  // ------------------------------------------------------------ propose

  async propose(i: In<typeof s.proposeActionInput>): Promise<ActionProposal> {
    if (i.idempotency_key !== undefined) {
      const existing = await this.k.guardStore(() =>
        this.k.store.getByUnique('action', 'idempotencyKey', i.idempotency_key as string),
      );
      if (existing !== undefined) return this.sameProposal(existing, i);
    }
    const {
      items: [found],
      policy,
    } = await this.k.viewWithPolicy([['actor', i.actor_id]]);
    if (found === undefined) {
      throw this.k.notFound('actor', i.actor_id, `Create it with createActor({ id: '${i.actor_id}', ... }).`);
    }
    const actor = found as Actor;
    if (actor.status !== 'active') {
      throw new OrchestrationError(
        'FORBIDDEN',
        `Actor '${actor.id}' is ${actor.status}; only active actors may propose actions.`,
        {
          actorId: actor.id,
        },
      );
    }
    let stepId: string | undefined;
    if (i.step !== undefined && i.workflow_id === undefined) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        'proposeAction: `step` needs `workflow_id`. Name the workflow of the step.',
        {},
      );
    }
    if (i.workflow_id !== undefined) {
      const wf = await this.k.viewOrThrow('workflow', i.workflow_id, 'Check workflow_id.');
      assertWorkflowTakesAction(wf, undefined);
      if (i.step !== undefined) {
        const step = findStep(wf, i.step);
        if (step === undefined) {
          throw new OrchestrationError(
            'NOT_FOUND',
            `Workflow '${wf.id}' has no step '${i.step}'. Use one of: ${stepNames(wf)}.`,
            {
              workflowId: wf.id,
              step: i.step,
            },
          );
        }
        assertWorkflowTakesAction(wf, step.id);
        assertDependenciesMet(wf, step);
        stepId = step.id;
      }
    }
    const known = this.describeKnown(i.tool);
    const description = known instanceof Promise ? await known : known;
    const params = this.checkParams(i.tool, i.params ?? {}, description, policy);
    const rules = toolRules(policy, i.tool);
    const needsApproval = requiresApproval(policy, i.tool, description);
    const nowDate = this.k.now();
    const now = isoOf(nowDate);
    const action: ActionProposal = {
      id: newId('action'),
      ...(i.workflow_id !== undefined ? { workflowId: i.workflow_id } : {}),
      ...(stepId !== undefined ? { stepId } : {}),
      actorId: actor.id,
      tool: i.tool,
      params,
      paramsHash: sha256Canonical(params),
      reason: i.reason,
      status: needsApproval ? 'pending' : 'approved',
      reviews: [],
      approvalsRequired: needsApproval ? (rules.approvals_required ?? 1) : 0,
      ...(i.idempotency_key !== undefined ? { idempotencyKey: i.idempotency_key } : {}),
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    if (needsApproval) {
      if (i.expires_in_ms !== undefined) action.expiresAt = new Date(nowDate.getTime() + i.expires_in_ms).toISOString();
    } else {
      action.approvedAt = now;
      const deadline = approvalDeadline(nowDate.getTime(), rules.approval_ttl_ms ?? policy.approval_ttl_ms);
      if (deadline !== undefined) action.expiresAt = deadline;
    }
    const shown = redactParams(params, description?.redact);
    const drafts = [
      this.k.draft(
        {
          type: 'action_proposed',
          details: {
            tool: action.tool,
            params: shown,
            paramsHash: action.paramsHash,
            reason: action.reason,
            requiresApproval: needsApproval,
            approvalsRequired: action.approvalsRequired,
            ...(action.expiresAt !== undefined ? { expiresAt: action.expiresAt } : {}),
            ...(action.workflowId !== undefined ? { workflowId: action.workflowId, stepId } : {}),
          },
        },
        'action',
        action.id,
        actor.id,
        now,
      ),
    ];
    if (!needsApproval)
      drafts.push(
        this.k.draft({ type: 'action_approved', details: { automatic: true } }, 'action', action.id, actor.id, now),
      );
    const r = await this.k.commit({ writes: [{ kind: 'action', entity: action }], drafts });
    if (!r.ok) {
      if (r.conflict.reason === 'unique' && i.idempotency_key !== undefined) {
        const existing = await this.k.guardStore(() =>
          this.k.store.getByUnique('action', 'idempotencyKey', i.idempotency_key as string),
        );
        if (existing !== undefined) return this.sameProposal(existing, i);
      }
      throw new OrchestrationError('CONFLICT', 'proposeAction: the proposal conflicts with existing data. Retry.', {
        conflict: r.conflict,
      });
    }
    return action;
  }

  /**
   * The proposal an `idempotency_key` already names, when the call repeats it: same tool, same actor
   * and the same params as first proposed (compared after schema normalisation). Anything else is CONFLICT.
   */
  private async sameProposal(existing: ActionProposal, i: In<typeof s.proposeActionInput>): Promise<ActionProposal> {
    const conflict = (what: string) =>
      new OrchestrationError(
        'CONFLICT',
        `idempotency_key '${i.idempotency_key}' already belongs to proposal '${existing.id}' ${what}. Use a new key for a different call.`,
        { proposalId: existing.id },
      );
    if (existing.tool !== i.tool || existing.actorId !== i.actor_id) {
      throw conflict(`for tool '${existing.tool}' by '${existing.actorId}'`);
    }
    const first = sha256Canonical(existing.originalParams ?? existing.params);
    const raw = i.params ?? {};
    if (sha256Canonical(raw) === first) return existing;
    let normalised: string | undefined;
    try {
      const description = (await this.k.describe(i.tool)).description;
      normalised = sha256Canonical(this.checkParams(i.tool, raw, description, await this.k.policy()));
    } catch {
      // params that no longer validate cannot be the ones first proposed
    }
    if (normalised !== first) throw conflict('with different params');
    return existing;
  }

  // ------------------------------------------------------------ review

  async review(i: In<typeof s.reviewActionInput>): Promise<ActionProposal> {
    const hasParams = i.params !== undefined;
    const hasEdits = i.edits !== undefined;
    if (i.decision === 'edit' && hasParams === hasEdits) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        'reviewAction: an edit takes exactly one of `params` (replace) or `edits` (shallow merge).',
        {},
      );
    }
    if (i.decision !== 'edit' && (hasParams || hasEdits)) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        `reviewAction: \`params\` and \`edits\` go only with decision 'edit', not '${i.decision}'.`,
        {},
      );
    }
    // The reviewer, the proposal and the policy in one read where the store allows it.
    const {
      items: [found, proposal],
      policy,
    } = await this.k.viewWithPolicy([
      ['actor', i.reviewer_id],
      ['action', i.proposal_id],
    ]);
    if (found === undefined) {
      throw this.k.notFound('actor', i.reviewer_id, `Create it with createActor({ id: '${i.reviewer_id}', ... }).`);
    }
    const reviewer = found as Actor;
    return this.k.mutate(
      'action',
      i.proposal_id,
      'Check proposal_id.',
      (a) => this.reviewStep(a, i, reviewer, policy),
      {
        current: proposal as ActionProposal | undefined,
      },
    );
  }

  /** One attempt of a review on `a` as stored now (see {@link Kernel.mutate}). */
  private reviewStep(
    a: ActionProposal,
    i: In<typeof s.reviewActionInput>,
    reviewer: Actor,
    policy: Policy,
  ): MutateOutcome<ActionProposal> | Promise<MutateOutcome<ActionProposal>> {
    const nowDate = this.k.now();
    if (isExpired(a, nowDate.getTime())) return this.expireThenRefuse(a);
    const rules = toolRules(policy, a.tool);
    const request = {
      reviewer,
      decision: i.decision,
      ...(i.comment !== undefined ? { comment: i.comment } : {}),
      ...(i.params_hash !== undefined ? { seenHash: i.params_hash } : {}),
    };
    // Who may decide is settled before the edited params are validated.
    assertMayReview(a, request, rules);
    if (i.decision !== 'edit') return this.decide(a, request, rules, policy, nowDate, undefined, undefined);
    // An edit: the tool's schema checks the new params (the description may take a round trip).
    const described = this.k.describe(a.tool);
    const withEdit = (d: Described) => {
      const merged = i.params ?? { ...a.params, ...(i.edits as Record<string, unknown>) };
      const params = this.checkParams(a.tool, merged, d.description, policy);
      const edited = { params, paramsHash: sha256Canonical(params) };
      return this.decide(a, request, rules, policy, nowDate, edited, d.description);
    };
    return described instanceof Promise ? described.then(withEdit) : withEdit(described);
  }

  /** The change a review makes to `a`, with its audit records. */
  private decide(
    a: ActionProposal,
    request: Omit<ReviewRequest, 'edited'>,
    rules: ToolPolicy,
    policy: Policy,
    nowDate: Date,
    edited: { params: Record<string, unknown>; paramsHash: string } | undefined,
    description: ToolDescription | undefined,
  ): MutateOutcome<ActionProposal> {
    const now = isoOf(nowDate);
    const c = reviewRule(
      a,
      { ...request, ...(edited !== undefined ? { edited } : {}) },
      rules,
      rules.approval_ttl_ms ?? policy.approval_ttl_ms,
      now,
      nowDate.getTime(),
    );
    if (edited !== undefined) {
      const first = c.events[0];
      if (first) first.details.params = redactParams(edited.params, description?.redact);
    }
    return {
      mutation: {
        writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
        drafts: this.k.drafts(c.events, 'action', a.id, request.reviewer.id, now),
      },
      result: c.action,
    };
  }

  // ------------------------------------------------------------ cancel, wait, recover

  /** FORBIDDEN when `actor` (not the proposer) may not cancel `a`: inactive, or outside the tool's reviewer roles. */
  private async cancelForbidden(actor: Actor, a: ActionProposal): Promise<OrchestrationError | undefined> {
    const roles = toolRules(await this.k.policy(), a.tool).reviewer_roles;
    if (actor.status === 'active' && (roles === undefined || roles.length === 0 || roles.includes(actor.role))) {
      return undefined;
    }
    return new OrchestrationError(
      'FORBIDDEN',
      `Actor '${actor.id}' may not cancel '${a.id}': only its proposer or an active actor who may review it can.`,
      { proposalId: a.id, actorId: actor.id },
    );
  }

  async cancel(i: In<typeof s.cancelActionInput>): Promise<ActionProposal> {
    const actor = await this.k.viewOrThrow(
      'actor',
      i.actor_id,
      `Create it with createActor({ id: '${i.actor_id}', ... }).`,
    );
    return this.k.mutate('action', i.proposal_id, 'Check proposal_id.', async (a) => {
      // Who may cancel is settled first; a proposal found past its deadline is expired either way.
      const forbidden = actor.id === a.actorId ? undefined : await this.cancelForbidden(actor, a);
      if (isExpired(a, this.k.now().getTime())) {
        const expiry = this.expireThenRefuse(a);
        return forbidden === undefined ? expiry : { mutation: expiry.mutation, error: forbidden };
      }
      if (forbidden !== undefined) throw forbidden;
      const now = this.iso();
      const c = cancelRule(a, actor.id, i.reason, now);
      return {
        mutation: {
          writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
          drafts: this.k.drafts(c.events, 'action', a.id, actor.id, now),
        },
        result: c.action,
      };
    });
  }
}
