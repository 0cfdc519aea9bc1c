import type { z } from 'zod';
import { canonicalJson } from '../audit/canonical.js';
import { redactParams, scrubSecrets } from '../audit/redact.js';
import { expire, isExpired } from '../domain/actions.js';
import { OrchestrationError } from '../errors.js';
import type { Described, Kernel, Mutation } from '../kernel.js';
import type { ActionProposal, ExecutionResult, Policy } from '../types.js';
import { copyData } from '../util/copy.js';
import { newId } from '../util/ids.js';
import { jsonCopy, toJsonData } from '../util/json.js';
import { isoOf } from '../util/time.js';
import type { ToolDescription } from './executor.js';
import type { runAttempts } from './runner.js';

export type In<S extends z.ZodType> = z.output<S>;

/** What every part of the approval machine shares: the kernel, params checks, expiry. Internal. */
export class GateBase {
  constructor(readonly k: Kernel) {}

  iso(): string {
    return isoOf(this.k.now());
  }

  /** Checks params: plain JSON within the size limit, then the tool's schema (INVALID_PARAMS). */
  checkParams(tool: string, params: Record<string, unknown>, d: ToolDescription | undefined, policy: Policy) {
    return checkToolParams(tool, params, d, policy);
  }

  /**
   * What the executor says of `tool`, or TOOL_NOT_FOUND when it does not know it. Synchronous when
   * the executor answers synchronously (local tools); a failure to describe is then thrown at once.
   */
  describeKnown(tool: string): ToolDescription | undefined | Promise<ToolDescription | undefined> {
    const d = this.k.describe(tool);
    return d instanceof Promise ? d.then((x) => knownTool(tool, x)) : knownTool(tool, d);
  }

  /** Moves a proposal past its deadline to `expired` (audited). Returns it when it did. */
  async expireIfDue(id: string): Promise<ActionProposal | undefined> {
    const a = await this.k.view('action', id);
    if (a === undefined || !isExpired(a, this.k.now().getTime())) return undefined;
    const { mutation, action } = this.expiry(a);
    const r = await this.k.commit(mutation);
    return r.ok ? action : undefined;
  }

  /** The change that moves `a` (past its deadline) to `expired`, with its audit record. */
  expiry(a: ActionProposal): { mutation: Mutation; action: ActionProposal } {
    const now = this.iso();
    const c = expire(a, now);
    return {
      mutation: {
        writes: [{ kind: 'action', entity: c.action, expectedVersion: a.version }],
        drafts: this.k.drafts(c.events, 'action', a.id, undefined, now),
      },
      action: c.action,
    };
  }

  /**
   * For a {@link Kernel.mutate} step that found `a` past its deadline: record the expiry, then
   * refuse the call with EXPIRED.
   */
  expireThenRefuse(a: ActionProposal): { mutation: Mutation; error: Error } {
    return { mutation: this.expiry(a).mutation, error: expiredError(a) };
  }

  resultOf(
    tool: string,
    params: Record<string, unknown>,
    description: ToolDescription | undefined,
    proposalId: string | undefined,
    executionId: string,
    outcome: Awaited<ReturnType<typeof runAttempts>>,
    durationMs: number,
  ): ExecutionResult {
    const shown = redactParams(params, description?.redact);
    const duration = Math.round(durationMs * 1000) / 1000;
    if (outcome.ok) {
      let value: unknown = outcome.value;
      try {
        value = value === undefined ? undefined : jsonCopy(value);
      } catch {
        value = String(value);
      }
      const result: ExecutionResult = {
        success: true,
        dryRun: false,
        message: `Executed ${tool}`,
        executionId,
        tool,
        params: shown,
        attempts: outcome.attempts,
        durationMs: duration,
      };
      if (proposalId !== undefined) result.proposalId = proposalId;
      if (value !== undefined) result.result = value;
      return result;
    }
    const message = scrubSecrets(outcome.error.message, params, description?.redact);
    const result: ExecutionResult = {
      success: false,
      dryRun: false,
      message: `Failed to execute ${tool}: ${message}`,
      executionId,
      tool,
      params: shown,
      attempts: outcome.attempts,
      durationMs: duration,
      error: { ...outcome.error, message },
    };
    if (proposalId !== undefined) result.proposalId = proposalId;
    return result;
  }
}

function knownTool(tool: string, { known, description }: Described): ToolDescription | undefined {
  if (!known) {
    throw new OrchestrationError(
      'TOOL_NOT_FOUND',
      `Tool '${tool}' is not known to the executor. Register it in \`tools\` or check its name.`,
      { tool },
    );
  }
  return description;
}

export function expiredError(a: ActionProposal): OrchestrationError {
  return new OrchestrationError(
    'EXPIRED',
    `Action proposal '${a.id}' expired at ${a.expiresAt}. Propose the action again.`,
    {
      proposalId: a.id,
      expiresAt: a.expiresAt,
    },
  );
}

export function dryRunResult(
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

/** Checks params: plain JSON within the size limit, then the tool's schema (INVALID_PARAMS). */
export function checkToolParams(
  tool: string,
  params: Record<string, unknown>,
  d: ToolDescription | undefined,
  policy: Policy,
): Record<string, unknown> {
  return validateParams(tool, toJsonData(params, policy.max_params_bytes, `Params of '${tool}'`, 'INVALID_PARAMS'), d);
}

/**
 * Params read back from the store, for the handler: its own copy, checked against the tool's schema
 * again (the tool may have changed since). They were checked as JSON data within the size limit when
 * they came in, and the store holds nothing else.
 */
export function checkStoredParams(
  tool: string,
  params: Record<string, unknown>,
  d: ToolDescription | undefined,
): Record<string, unknown> {
  return validateParams(tool, copyData(params), d);
}

/** The tool's schema check of JSON params (INVALID_PARAMS); returns the params as the schema normalised them. */
function validateParams(
  tool: string,
  data: Record<string, unknown>,
  d: ToolDescription | undefined,
): Record<string, unknown> {
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
