import { redactParams } from '../audit/redact.js';
import { assertWorkflowTakesAction, claim, finish, isExpired, leaseExpired } from '../domain/actions.js';
import { settleStepWithExecution } from '../domain/workflows.js';
import { OrchestrationError } from '../errors.js';
import type { Mutation } from '../kernel.js';
import type * as s from '../schemas.js';
import type { Write } from '../stores/store.js';
import type { ActionProposal, ExecutionResult, Policy } from '../types.js';
import { newId } from '../util/ids.js';
import { isoAt, isoOf } from '../util/time.js';
import { checkStoredParams, dryRunResult, expiredError, GateBase, type In } from './gate-base.js';
import { LeaseKeeper } from './lease-keeper.js';
import { executionContext, runAttempts } from './runner.js';

/** Execution of approved proposals: the atomic claim, attempts with lease renewal, the outcome, recovery. */
export class Executions extends GateBase {
  // ------------------------------------------------------------ execute

  async execute(i: In<typeof s.executeActionInput>): Promise<ExecutionResult> {
    // The proposal and the policy in one read where the store allows it.
    const {
      items: [proposal],
      policy,
    } = await this.k.viewWithPolicy([['action', i.proposal_id]]);
    // A dry-run policy is a safety switch: a call may ask for a dry run, never out of one.
    const dryRun = policy.dry_run || i.dry_run === true;
    if (dryRun) {
      await this.expireIfDue(i.proposal_id);
      return this.simulate(await this.k.load('action', i.proposal_id, 'Check proposal_id.'));
    }
    const claimed = await this.claimForExecution(i.proposal_id, policy, {
      current: proposal as ActionProposal | undefined,
    });
    return this.runClaimed(claimed, policy);
  }

  async simulate(a: ActionProposal): Promise<ExecutionResult> {
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

  /**
   * INVALID_STATE when the proposal's workflow was cancelled or completed, or its step finished, since
   * it was proposed. Nothing to wait for (undefined) when the proposal belongs to no workflow.
   */
  assertWorkflowOpen(a: ActionProposal): Promise<void> | undefined {
    if (a.workflowId === undefined) return undefined;
    return this.k.view('workflow', a.workflowId).then((wf) => {
      if (wf !== undefined) assertWorkflowTakesAction(wf, a.stepId);
    });
  }

  claimForExecution(
    id: string,
    policy: Policy,
    first?: { current: ActionProposal | undefined },
  ): Promise<ActionProposal> {
    return this.k.mutate(
      'action',
      id,
      'Check proposal_id.',
      (a) => {
        const nowDate = this.k.now();
        if (isExpired(a, nowDate.getTime())) return this.expireThenRefuse(a);
        const now = isoOf(nowDate);
        const lease = isoAt(nowDate.getTime() + policy.execution_lease_ms);
        const c = claim(a, newId('exec'), now, lease);
        const outcome = {
          mutation: {
            writes: [{ kind: 'action' as const, entity: c.action, expectedVersion: a.version }],
            drafts: this.k.drafts(c.events, 'action', a.id, a.actorId, now),
          },
          result: c.action,
        };
        const open = this.assertWorkflowOpen(a);
        return open === undefined ? outcome : open.then(() => outcome);
      },
      first,
    );
  }

  /** Keeps the leases of this connector's running executions alive (one timer for all). */
  private readonly leases = new LeaseKeeper((id, executionId, leaseMs) => this.renewLease(id, executionId, leaseMs));

  /** Runs a claimed proposal and stores its outcome (and settles its workflow step). */
  async runClaimed(a: ActionProposal, policy: Policy): Promise<ExecutionResult> {
    const executionId = (a.execution as NonNullable<ActionProposal['execution']>).executionId;
    const started = performance.now();
    const described = this.k.descriptionOf(a.tool);
    const description = described instanceof Promise ? await described : described;
    let outcome: Awaited<ReturnType<typeof runAttempts>>;
    let params = a.params;
    const lease = this.leases.keep(a.id, executionId, policy.execution_lease_ms);
    try {
      params = checkStoredParams(a.tool, a.params, description);
      const call = { tool: a.tool, params };
      outcome = await runAttempts(
        (attempt) => this.k.executor.execute(call, executionContext(attempt, executionId, a.id, a.actorId)),
        {
          retries: policy.max_retries,
          timeoutMs: policy.timeout_ms,
          stop: this.k.stopSource,
          retryTimeouts: description?.idempotent !== false,
        },
      );
    } catch (err) {
      const e = err instanceof OrchestrationError ? err : new OrchestrationError('INVALID_PARAMS', String(err));
      outcome = { ok: false, error: { code: e.code, message: e.message }, attempts: 0 };
    } finally {
      const renewing = lease.stop();
      if (renewing !== undefined) await renewing;
    }
    const result = this.resultOf(a.tool, params, description, a.id, executionId, outcome, performance.now() - started);
    await this.storeOutcome(a, result);
    return result;
  }

  /**
   * Moves the lease of a running execution forward. The renewal is bookkeeping, not a decision: no
   * audit record.
   */
  private async renewLease(id: string, executionId: string, leaseMs: number): Promise<void> {
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
  }

  async storeOutcome(a: ActionProposal, result: ExecutionResult): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      // First try on the proposal as claimed: unless a lease renewal or a recovery changed it since
      // (then the version check fails and it is read again), that is what is stored, and a read is spared.
      const current = attempt === 0 ? a : await this.k.view('action', a.id);
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
      const drafts = this.k.drafts(c.events, 'action', a.id, a.actorId, now);
      if (current.workflowId !== undefined && current.stepId !== undefined) {
        const wf = await this.k.view('workflow', current.workflowId);
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

  async interrupt(a: ActionProposal): Promise<ActionProposal | undefined> {
    const now = this.iso();
    const exec = a.execution as NonNullable<ActionProposal['execution']>;
    const result: ExecutionResult = {
      success: false,
      dryRun: false,
      message: `Execution of ${a.tool} was interrupted: its lease ran out at ${exec.leaseExpiresAt}. It was not re-run.`,
      proposalId: a.id,
      executionId: exec.executionId,
      tool: a.tool,
      params: redactParams(a.params, (await this.k.descriptionOf(a.tool))?.redact),
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
        m.drafts.push(...this.k.drafts(settled.events, 'workflow', wf.id, undefined, now));
      }
    }
    const r = await this.k.commit(m);
    return r.ok ? c.action : undefined;
  }
}
