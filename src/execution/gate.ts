import pLimit from 'p-limit';
import type { z } from 'zod';
import { canonicalJson } from '../audit/canonical.js';
import { sha256Canonical } from '../audit/chain.js';
import { redactParams, scrubSecrets } from '../audit/redact.js';
import {
  approvalDeadline,
  assertMayReview,
  assertWorkflowTakesAction,
  cancel as cancelRule,
  claim,
  expire,
  finish,
  isExpired,
  leaseExpired,
  review as reviewRule,
} from '../domain/actions.js';
import { requiresApproval, toolRules } from '../domain/policy.js';
import { assertDependenciesMet, findStep, settleStepWithExecution, stepNames } from '../domain/workflows.js';
import { OrchestrationError } from '../errors.js';
import type { Kernel, Mutation } from '../kernel.js';
import type * as s from '../schemas.js';
import type { Write } from '../stores/store.js';
import type { ActionProposal, ExecutionResult, Policy } from '../types.js';
import { newId } from '../util/ids.js';
import { toJsonData } from '../util/json.js';
import type { ToolDescription } from './executor.js';
import { runAttempts } from './runner.js';

type In<S extends z.ZodType> = z.output<S>;

/** `executeParallel` result. */
export interface ParallelResult {
  /** True when every call succeeded. */
  success: boolean;
  dryRun: boolean;
  /** One result per call, in call order. */
  results: ExecutionResult[];
  durationMs: number;
}

const DEFAULT_WAIT_MS = 30_000;
const SHARED_POLL_MS = 100;

/** The approval machine of SPEC 5: propose, review, execute once, cancel, wait, recover. */
export class Gate {
  constructor(private readonly k: Kernel) {}

  private iso(): string {
    return this.k.now().toISOString();
  }

  /** Checks params: plain JSON within the size limit, then the tool's schema (INVALID_PARAMS). */
  private checkParams(tool: string, params: Record<string, unknown>, d: ToolDescription | undefined, policy: Policy) {
    const data = toJsonData(params, policy.max_params_bytes, `Params of '${tool}'`, 'INVALID_PARAMS');
    if (d?.validate === undefined) return data;
    const r = d.validate(data);
    if (!r.success) {
      throw new OrchestrationError(
        'INVALID_PARAMS',
        `Params of '${tool}' do not match its schema: ${r.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || 'params'}: ${i.message}`)
          .join('; ')}. Fix them and propose again.`,
        { tool, issues: r.issues },
      );
    }
    return r.params;
  }

  private async describeKnown(tool: string): Promise<ToolDescription | undefined> {
    const { known, description } = await this.k.describe(tool);
    if (!known) {
      throw new OrchestrationError(
        'TOOL_NOT_FOUND',
        `Tool '${tool}' is not known to the executor. Register it in \`tools\` or check its name.`,
        {
          tool,
        },
      );
    }
    return description;
  }

  // ------------------------------------------------------------ propose

  async propose(i: In<typeof s.proposeActionInput>): Promise<ActionProposal> {
    if (i.idempotency_key !== undefined) {
      const existing = await this.k.guardStore(() =>
        this.k.store.getByUnique('action', 'idempotencyKey', i.idempotency_key as string),
      );
      if (existing !== undefined) return this.sameProposal(existing, i);
    }
    const actor = await this.k.load('actor', i.actor_id, `Create it with createActor({ id: '${i.actor_id}', ... }).`);
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
      const wf = await this.k.load('workflow', i.workflow_id, 'Check workflow_id.');
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
    const description = await this.describeKnown(i.tool);
    const policy = await this.k.policy();
    const params = this.checkParams(i.tool, i.params ?? {}, description, policy);
    const rules = toolRules(policy, i.tool);
    const needsApproval = requiresApproval(policy, i.tool, description);
    const nowDate = this.k.now();
    const now = nowDate.toISOString();
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
    const reviewer = await this.k.load(
      'actor',
      i.reviewer_id,
      `Create it with createActor({ id: '${i.reviewer_id}', ... }).`,
    );
    await this.expireIfDue(i.proposal_id);
    return this.k.mutate('action', i.proposal_id, 'Check proposal_id.', async (a) => {
      const policy = await this.k.policy();
      const rules = toolRules(policy, a.tool);
      const nowDate = this.k.now();
      if (isExpired(a, nowDate.getTime())) throw expiredError(a);
      const request = {
        reviewer,
        decision: i.decision,
        ...(i.comment !== undefined ? { comment: i.comment } : {}),
        ...(i.params_hash !== undefined ? { seenHash: i.params_hash } : {}),
      };
      // Who may decide is settled before the edited params are validated.
      assertMayReview(a, request, rules);
      let edited: { params: Record<string, unknown>; paramsHash: string } | undefined;
      let description: ToolDescription | undefined;
      if (i.decision === 'edit') {
        description = (await this.k.describe(a.tool)).description;
        const merged = i.params ?? { ...a.params, ...(i.edits as Record<string, unknown>) };
        const params = this.checkParams(a.tool, merged, description, policy);
        edited = { params, paramsHash: sha256Canonical(params) };
      }
      const now = nowDate.toISOString();
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
          drafts: c.events.map((e) => this.k.draft(e, 'action', a.id, reviewer.id, now)),
        },
        result: c.action,
      };
    });
  }

  /** Moves a proposal past its deadline to `expired` (audited). Returns it when it did. */
  private async expireIfDue(id: string): Promise<ActionProposal | undefined> {
    const a = await this.k.guardStore(() => this.k.store.get('action', id));
    if (a === undefined || !isExpired(a, this.k.now().getTime())) return undefined;
    const now = this.iso();
    const c = expire(a, now);
    const r = await this.k.commit({
      writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
      drafts: c.events.map((e) => this.k.draft(e, 'action', a.id, undefined, now)),
    });
    return r.ok ? c.action : undefined;
  }

  // ------------------------------------------------------------ execute

  async execute(i: In<typeof s.executeActionInput>): Promise<ExecutionResult> {
    const policy = await this.k.policy();
    // A dry-run policy is a safety switch: a call may ask for a dry run, never out of one.
    const dryRun = policy.dry_run || i.dry_run === true;
    await this.expireIfDue(i.proposal_id);
    if (dryRun) return this.simulate(await this.k.load('action', i.proposal_id, 'Check proposal_id.'));
    const claimed = await this.claimForExecution(i.proposal_id, policy);
    return this.runClaimed(claimed, policy);
  }

  private async simulate(a: ActionProposal): Promise<ExecutionResult> {
    if (isExpired(a, this.k.now().getTime())) throw expiredError(a);
    claim(a, 'dry-run', '', ''); // throws the same precondition errors as a real run
    await this.assertWorkflowOpen(a);
    const description = (await this.k.describe(a.tool)).description;
    const result = dryRunResult(a.tool, a.params, description, a.id);
    const now = this.iso();
    await this.k.commit({
      writes: [],
      drafts: [
        this.k.draft(
          { type: 'action_simulated', details: { tool: a.tool, message: result.message } },
          'action',
          a.id,
          a.actorId,
          now,
        ),
      ],
    });
    return result;
  }

  /** INVALID_STATE when the proposal's workflow was cancelled or completed, or its step finished, since it was proposed. */
  private async assertWorkflowOpen(a: ActionProposal): Promise<void> {
    if (a.workflowId === undefined) return;
    const wf = await this.k.guardStore(() => this.k.store.get('workflow', a.workflowId as string));
    if (wf !== undefined) assertWorkflowTakesAction(wf, a.stepId);
  }

  private claimForExecution(id: string, policy: Policy): Promise<ActionProposal> {
    return this.k.mutate('action', id, 'Check proposal_id.', async (a) => {
      const nowDate = this.k.now();
      if (isExpired(a, nowDate.getTime())) throw expiredError(a);
      const now = nowDate.toISOString();
      const lease = new Date(nowDate.getTime() + policy.execution_lease_ms).toISOString();
      const c = claim(a, newId('exec'), now, lease);
      await this.assertWorkflowOpen(a);
      return {
        mutation: {
          writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
          drafts: c.events.map((e) => this.k.draft(e, 'action', a.id, a.actorId, now)),
        },
        result: c.action,
      };
    });
  }

  /** Runs a claimed proposal and stores its outcome (and settles its workflow step). */
  private async runClaimed(a: ActionProposal, policy: Policy): Promise<ExecutionResult> {
    const executionId = (a.execution as NonNullable<ActionProposal['execution']>).executionId;
    const started = performance.now();
    const description = (await this.k.describe(a.tool).catch(() => ({ description: undefined }))).description;
    let outcome: Awaited<ReturnType<typeof runAttempts>>;
    let params = a.params;
    const heartbeat = this.keepLease(a.id, executionId, policy.execution_lease_ms);
    try {
      params = this.checkParams(a.tool, a.params, description, policy);
      outcome = await runAttempts(
        ({ signal, attempt }) =>
          this.k.executor.execute(
            { tool: a.tool, params },
            { signal, attempt, executionId, proposalId: a.id, actorId: a.actorId },
          ),
        {
          retries: policy.max_retries,
          timeoutMs: policy.timeout_ms,
          signal: this.k.lifetime.signal,
          retryTimeouts: description?.idempotent !== false,
        },
      );
    } catch (err) {
      const e = err instanceof OrchestrationError ? err : new OrchestrationError('INVALID_PARAMS', String(err));
      outcome = { ok: false, error: { code: e.code, message: e.message }, attempts: 0 };
    } finally {
      await heartbeat.stop();
    }
    const result = this.resultOf(a.tool, params, description, a.id, executionId, outcome, performance.now() - started);
    await this.storeOutcome(a, result);
    return result;
  }

  /**
   * Renews the lease of a running execution every third of its length, so that only a process that
   * stopped (crashed, frozen) lets it run out. The renewal is bookkeeping, not a decision: no audit record.
   */
  private keepLease(id: string, executionId: string, leaseMs: number): { stop: () => Promise<void> } {
    let inFlight: Promise<void> = Promise.resolve();
    const renew = async () => {
      const a = await this.k.store.get('action', id);
      if (a?.status !== 'executing' || a.execution?.executionId !== executionId) return;
      const leaseExpiresAt = new Date(this.k.now().getTime() + leaseMs).toISOString();
      await this.k.store.commit({
        writes: [
          {
            kind: 'action',
            entity: { ...a, execution: { ...a.execution, leaseExpiresAt }, version: a.version + 1 },
            expectedVersion: a.version,
          },
        ],
        audit: [],
        seal: this.k.seal,
      });
    };
    const timer = setInterval(
      () => {
        inFlight = inFlight.then(renew).catch(() => {
          // a failed renewal is retried at the next tick; the lease itself is the safety net
        });
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await inFlight;
      },
    };
  }

  private resultOf(
    tool: string,
    params: Record<string, unknown>,
    description: ToolDescription | undefined,
    proposalId: string | undefined,
    executionId: string,
    outcome: Awaited<ReturnType<typeof runAttempts>>,
    durationMs: number,
  ): ExecutionResult {
    const shown = redactParams(params, description?.redact);
    const base = {
      dryRun: false,
      ...(proposalId !== undefined ? { proposalId } : {}),
      executionId,
      tool,
      params: shown,
      attempts: outcome.attempts,
      durationMs: Math.round(durationMs * 1000) / 1000,
    };
    if (outcome.ok) {
      let value: unknown = outcome.value;
      try {
        value = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
      } catch {
        value = String(value);
      }
      return { ...base, success: true, message: `Executed ${tool}`, ...(value !== undefined ? { result: value } : {}) };
    }
    return {
      ...base,
      success: false,
      message: `Failed to execute ${tool}: ${scrubSecrets(outcome.error.message, params, description?.redact)}`,
      error: { ...outcome.error, message: scrubSecrets(outcome.error.message, params, description?.redact) },
    };
  }

  private async storeOutcome(a: ActionProposal, result: ExecutionResult): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.k.guardStore(() => this.k.store.get('action', a.id));
      if (
        current === undefined ||
        current.status !== 'executing' ||
        current.execution?.executionId !== result.executionId
      ) {
        return; // recovered as interrupted meanwhile: the trail already says so
      }
      const now = this.iso();
      const c = finish(current, result, now);
      const writes: Write[] = [{ kind: 'action', entity: c.action, expectedVersion: current.version }];
      const drafts = c.events.map((e) => this.k.draft(e, 'action', a.id, a.actorId, now));
      if (current.workflowId !== undefined && current.stepId !== undefined) {
        const wf = await this.k.guardStore(() => this.k.store.get('workflow', current.workflowId as string));
        if (wf !== undefined) {
          const settled = settleStepWithExecution(wf, current.stepId, result.success, result.result, now);
          if (settled !== undefined) {
            writes.push({ kind: 'workflow', entity: settled.workflow, expectedVersion: wf.version });
            drafts.push(
              ...settled.events.map((e) =>
                this.k.draft({ ...e, details: { ...e.details, proposalId: a.id } }, 'workflow', wf.id, a.actorId, now),
              ),
            );
          }
        }
      }
      const r = await this.k.commit({ writes, drafts });
      if (r.ok) return;
    }
    throw new OrchestrationError(
      'STORE_ERROR',
      `Could not store the outcome of '${a.id}'; it stays executing until recoverStaleExecutions().`,
      {
        proposalId: a.id,
        retryable: true,
      },
    );
  }

  // ------------------------------------------------------------ parallel

  async parallel(i: In<typeof s.executeParallelInput>): Promise<ParallelResult> {
    const started = performance.now();
    const policy = await this.k.policy();
    // A dry-run policy is a safety switch: a call may ask for a dry run, never out of one.
    const dryRun = policy.dry_run || i.dry_run === true;
    type Planned =
      | { kind: 'raw'; tool: string; params: Record<string, unknown>; description: ToolDescription | undefined }
      | { kind: 'proposal'; action: ActionProposal; description: ToolDescription | undefined };
    const plan: Planned[] = [];
    const seen = new Set<string>();
    // Check the whole batch before anything runs.
    for (const [n, call] of i.calls.entries()) {
      if ('proposal_id' in call) {
        if (seen.has(call.proposal_id)) {
          throw new OrchestrationError(
            'INVALID_INPUT',
            `executeParallel: proposal '${call.proposal_id}' appears twice (call ${n}). List it once.`,
            {
              index: n,
            },
          );
        }
        seen.add(call.proposal_id);
        const a = await this.k.load('action', call.proposal_id, `Check calls[${n}].proposal_id.`);
        if (isExpired(a, this.k.now().getTime())) throw expiredError(a);
        claim(a, 'check', '', '');
        await this.assertWorkflowOpen(a);
        plan.push({ kind: 'proposal', action: a, description: (await this.k.describe(a.tool)).description });
      } else {
        const description = await this.describeKnown(call.tool);
        if (!dryRun && requiresApproval(policy, call.tool, description)) {
          throw new OrchestrationError(
            'APPROVAL_REQUIRED',
            `executeParallel: tool '${call.tool}' (call ${n}) requires approval. Propose it with proposeAction and pass { proposal_id } once approved. Nothing in this batch ran.`,
            { index: n, tool: call.tool },
          );
        }
        plan.push({
          kind: 'raw',
          tool: call.tool,
          params: this.checkParams(call.tool, call.params ?? {}, description, policy),
          description,
        });
      }
    }
    const limit = pLimit(i.concurrency ?? policy.max_parallel);
    const perTool = new Map<string, ReturnType<typeof pLimit>>();
    const toolLimit = (tool: string): ((fn: () => Promise<ExecutionResult>) => Promise<ExecutionResult>) => {
      const max = toolRules(policy, tool).max_concurrency;
      if (max === undefined) return (fn) => fn();
      let l = perTool.get(tool);
      if (l === undefined) {
        l = pLimit(max);
        perTool.set(tool, l);
      }
      return l;
    };
    // The tool's own limit is taken first, so that a call queued behind it holds no batch slot.
    const results = await Promise.all(
      plan.map((p) =>
        toolLimit(p.kind === 'raw' ? p.tool : p.action.tool)(() => limit(() => this.runPlanned(p, policy, dryRun))),
      ),
    );
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    const success = results.every((r) => r.success);
    const now = this.iso();
    await this.k.commit({
      writes: [],
      drafts: [
        this.k.draft(
          {
            type: 'parallel_executed',
            details: {
              calls: results.length,
              succeeded: results.filter((r) => r.success).length,
              failed: results.filter((r) => !r.success).length,
              dryRun,
              executions: results.map((r) => ({
                tool: r.tool,
                executionId: r.executionId,
                success: r.success,
                ...(r.proposalId ? { proposalId: r.proposalId } : {}),
              })),
            },
          },
          'system',
          'parallel',
          undefined,
          now,
        ),
      ],
    });
    return { success, dryRun, results, durationMs };
  }

  private async runPlanned(
    p:
      | { kind: 'raw'; tool: string; params: Record<string, unknown>; description: ToolDescription | undefined }
      | { kind: 'proposal'; action: ActionProposal; description: ToolDescription | undefined },
    policy: Policy,
    dryRun: boolean,
  ): Promise<ExecutionResult> {
    if (p.kind === 'proposal') {
      try {
        if (dryRun) return await this.simulate(await this.k.load('action', p.action.id, 'Check proposal_id.'));
        return await this.runClaimed(await this.claimForExecution(p.action.id, policy), policy);
      } catch (err) {
        const e = err instanceof OrchestrationError ? err : new OrchestrationError('STORE_ERROR', String(err));
        return {
          success: false,
          dryRun,
          message: `Did not execute ${p.action.tool}: ${e.message}`,
          proposalId: p.action.id,
          executionId: newId('exec'),
          tool: p.action.tool,
          params: redactParams(p.action.params, p.description?.redact),
          error: { code: e.code, message: e.message },
          attempts: 0,
          durationMs: 0,
        };
      }
    }
    if (dryRun) {
      const simulated = dryRunResult(p.tool, p.params, p.description, undefined);
      await this.k.commit({
        writes: [],
        drafts: [
          this.k.draft(
            { type: 'action_simulated', details: { tool: p.tool, raw: true, message: simulated.message } },
            'tool',
            p.tool,
            undefined,
            this.iso(),
          ),
        ],
      });
      return simulated;
    }
    const executionId = newId('exec');
    const started = performance.now();
    const outcome = await runAttempts(
      ({ signal, attempt }) =>
        this.k.executor.execute({ tool: p.tool, params: p.params }, { signal, attempt, executionId }),
      {
        retries: policy.max_retries,
        timeoutMs: policy.timeout_ms,
        signal: this.k.lifetime.signal,
        retryTimeouts: p.description?.idempotent !== false,
      },
    );
    const result = this.resultOf(
      p.tool,
      p.params,
      p.description,
      undefined,
      executionId,
      outcome,
      performance.now() - started,
    );
    const now = this.iso();
    await this.k.commit({
      writes: [],
      drafts: [
        this.k.draft(
          {
            type: result.success ? 'action_executed' : 'action_failed',
            details: {
              executionId,
              raw: true,
              params: result.params,
              attempts: result.attempts,
              ...(result.error ? { error: result.error } : {}),
            },
          },
          'tool',
          p.tool,
          undefined,
          now,
        ),
      ],
    });
    return result;
  }

  // ------------------------------------------------------------ cancel, wait, recover

  async cancel(i: In<typeof s.cancelActionInput>): Promise<ActionProposal> {
    const actor = await this.k.load('actor', i.actor_id, `Create it with createActor({ id: '${i.actor_id}', ... }).`);
    await this.expireIfDue(i.proposal_id);
    return this.k.mutate('action', i.proposal_id, 'Check proposal_id.', async (a) => {
      if (isExpired(a, this.k.now().getTime())) throw expiredError(a);
      if (actor.id !== a.actorId) {
        const roles = toolRules(await this.k.policy(), a.tool).reviewer_roles;
        if (actor.status !== 'active' || (roles !== undefined && roles.length > 0 && !roles.includes(actor.role))) {
          throw new OrchestrationError(
            'FORBIDDEN',
            `Actor '${actor.id}' may not cancel '${a.id}': only its proposer or an active actor who may review it can.`,
            {
              proposalId: a.id,
              actorId: actor.id,
            },
          );
        }
      }
      const now = this.iso();
      const c = cancelRule(a, actor.id, i.reason, now);
      return {
        mutation: {
          writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
          drafts: c.events.map((e) => this.k.draft(e, 'action', a.id, actor.id, now)),
        },
        result: c.action,
      };
    });
  }

  async waitForDecision(
    i: In<typeof s.waitForDecisionInput>,
    events: {
      on(e: 'audit', fn: (e: { entityId: string }) => void): unknown;
      off(e: 'audit', fn: (e: { entityId: string }) => void): unknown;
    },
  ): Promise<ActionProposal> {
    const timeoutMs = i.timeout_ms ?? DEFAULT_WAIT_MS;
    let deadline: string | undefined;
    const check = async (): Promise<ActionProposal | undefined> => {
      const expired = await this.expireIfDue(i.proposal_id);
      if (expired) return expired;
      const a = await this.k.load('action', i.proposal_id, 'Check proposal_id.');
      deadline = a.expiresAt;
      return a.status === 'pending' ? undefined : a;
    };
    const first = await check();
    if (first) return first;
    return new Promise<ActionProposal>((resolve, reject) => {
      let done = false;
      let checking = false;
      let again = false;
      const timers: NodeJS.Timeout[] = [];
      let unwatch: (() => void) | undefined;
      const finishWith = (fn: () => void) => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        clearInterval(poll);
        events.off('audit', onEvent);
        unwatch?.();
        fn();
      };
      const recheck = () => {
        if (done) return;
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        check().then(
          (a) => {
            checking = false;
            if (a) finishWith(() => resolve(a));
            else if (again) {
              again = false;
              recheck();
            }
          },
          (err) => {
            checking = false;
            finishWith(() => reject(err));
          },
        );
      };
      const onEvent = (e: { entityId: string }) => {
        if (e.entityId === i.proposal_id) recheck();
      };
      events.on('audit', onEvent);
      const store = this.k.store;
      if (store.capabilities.notifications && typeof store.watch === 'function') {
        unwatch = store.watch((kind, id) => {
          if (kind === 'action' && id === i.proposal_id) recheck();
        });
      }
      const poll = setInterval(recheck, store.capabilities.shared ? SHARED_POLL_MS : 1000);
      if (deadline !== undefined) {
        // Expiry is a decision too: look again just after the deadline instead of at the next poll.
        const dueInMs = Date.parse(deadline) - this.k.now().getTime() + 1;
        if (dueInMs < timeoutMs) timers.push(setTimeout(recheck, Math.max(0, dueInMs)));
      }
      timers.push(
        setTimeout(
          () =>
            finishWith(() =>
              reject(
                new OrchestrationError(
                  'TIMEOUT',
                  `No decision on '${i.proposal_id}' within ${timeoutMs} ms. Wait again or remind its reviewers.`,
                  {
                    proposalId: i.proposal_id,
                    timeoutMs,
                  },
                ),
              ),
            ),
          timeoutMs,
        ),
      );
    });
  }

  async recoverStale(): Promise<ActionProposal[]> {
    const moved: ActionProposal[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.k.guardStore(() =>
        this.k.store.query('action', {
          filters: [['status', 'executing']],
          limit: 500,
          ...(after !== undefined ? { after } : {}),
        }),
      );
      for (const a of page) {
        if (!leaseExpired(a, this.k.now().getTime())) continue;
        const r = await this.interrupt(a);
        if (r) moved.push(r);
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.id;
    }
    return moved;
  }

  private async interrupt(a: ActionProposal): Promise<ActionProposal | undefined> {
    const now = this.iso();
    const exec = a.execution as NonNullable<ActionProposal['execution']>;
    const result: ExecutionResult = {
      success: false,
      dryRun: false,
      message: `Execution of ${a.tool} was interrupted: its lease ran out at ${exec.leaseExpiresAt}. It was not re-run.`,
      proposalId: a.id,
      executionId: exec.executionId,
      tool: a.tool,
      params: redactParams(
        a.params,
        (await this.k.describe(a.tool).catch(() => ({ description: undefined }))).description?.redact,
      ),
      error: { code: 'INTERRUPTED', message: 'The process running this execution stopped before storing its outcome.' },
      attempts: 0,
      durationMs: Date.parse(now) - Date.parse(exec.startedAt),
    };
    const c = finish(a, result, now);
    const m: Mutation = {
      writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
      drafts: c.events.map((e) =>
        this.k.draft({ ...e, details: { ...e.details, interrupted: true } }, 'action', a.id, undefined, now),
      ),
    };
    if (a.workflowId !== undefined && a.stepId !== undefined) {
      const wf = await this.k.guardStore(() => this.k.store.get('workflow', a.workflowId as string));
      const settled = wf && settleStepWithExecution(wf, a.stepId, false, undefined, now);
      if (wf && settled) {
        m.writes.push({ kind: 'workflow', entity: settled.workflow, expectedVersion: wf.version });
        m.drafts.push(...settled.events.map((e) => this.k.draft(e, 'workflow', wf.id, undefined, now)));
      }
    }
    const r = await this.k.commit(m);
    return r.ok ? c.action : undefined;
  }
}

function expiredError(a: ActionProposal): OrchestrationError {
  return new OrchestrationError(
    'EXPIRED',
    `Action proposal '${a.id}' expired at ${a.expiresAt}. Propose the action again.`,
    {
      proposalId: a.id,
      expiresAt: a.expiresAt,
    },
  );
}

function dryRunResult(
  tool: string,
  params: Record<string, unknown>,
  d: ToolDescription | undefined,
  proposalId: string | undefined,
): ExecutionResult {
  const shown = redactParams(params, d?.redact);
  return {
    success: true,
    dryRun: true,
    // Canonical (sorted keys): the same params read the same whichever store kept them.
    message: `[DRY RUN] Would execute ${tool} with ${canonicalJson(shown)}`,
    ...(proposalId !== undefined ? { proposalId } : {}),
    executionId: newId('exec'),
    tool,
    params: shown,
    attempts: 0,
    durationMs: 0,
  };
}
