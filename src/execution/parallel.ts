import pLimit from 'p-limit';
import { redactParams } from '../audit/redact.js';
import { claim, isExpired } from '../domain/actions.js';
import { requiresApproval, toolRules } from '../domain/policy.js';
import { OrchestrationError } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type * as s from '../schemas.js';
import type { ActionProposal, ExecutionResult, Policy } from '../types.js';
import { newId } from '../util/ids.js';
import type { Executions } from './execute.js';
import type { ToolDescription } from './executor.js';
import { dryRunResult, expiredError, GateBase, type In } from './gate-base.js';
import { executionContext, runAttempts } from './runner.js';

/** `executeParallel` result. */
export interface ParallelResult {
  /** True when every call succeeded. */
  success: boolean;
  dryRun: boolean;
  /** One result per call, in call order. */
  results: ExecutionResult[];
  durationMs: number;
}

/** `executeParallel`: the batch is checked as a whole first, then run under p-limit bounds. */
export class Parallel extends GateBase {
  constructor(
    k: Kernel,
    private readonly executions: Executions,
  ) {
    super(k);
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
        await this.executions.assertWorkflowOpen(a);
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

  async runPlanned(
    p:
      | { kind: 'raw'; tool: string; params: Record<string, unknown>; description: ToolDescription | undefined }
      | { kind: 'proposal'; action: ActionProposal; description: ToolDescription | undefined },
    policy: Policy,
    dryRun: boolean,
  ): Promise<ExecutionResult> {
    if (p.kind === 'proposal') {
      try {
        if (dryRun)
          return await this.executions.simulate(await this.k.load('action', p.action.id, 'Check proposal_id.'));
        return await this.executions.runClaimed(await this.executions.claimForExecution(p.action.id, policy), policy);
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
      (attempt) => this.k.executor.execute({ tool: p.tool, params: p.params }, executionContext(attempt, executionId)),
      {
        retries: policy.max_retries,
        timeoutMs: policy.timeout_ms,
        stop: this.k.stopSource,
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
}
