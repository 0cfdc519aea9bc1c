import type { ToolDescription } from '../execution/executor.js';
import type { UpdatePolicyInput } from '../schemas.js';
import type { Policy, ToolPolicy } from '../types.js';

/** Defaults of every policy field. */
export const DEFAULT_POLICY: Policy = {
  dry_run: false,
  max_retries: 3,
  timeout_ms: 10_000,
  max_parallel: 10,
  execution_lease_ms: 300_000,
  max_params_bytes: 1024 * 1024,
  tools: {},
};

/** A new policy: `current` with the fields of `update` applied. `tools.<name>: null` removes that tool's rules. */
export function applyPolicyUpdate(current: Policy, update: UpdatePolicyInput): Policy {
  const next: Policy = { ...current, tools: { ...current.tools } };
  if (update.dry_run !== undefined) next.dry_run = update.dry_run;
  if (update.max_retries !== undefined) next.max_retries = update.max_retries;
  if (update.timeout_ms !== undefined) next.timeout_ms = update.timeout_ms;
  if (update.max_parallel !== undefined) next.max_parallel = update.max_parallel;
  if (update.execution_lease_ms !== undefined) next.execution_lease_ms = update.execution_lease_ms;
  if (update.max_params_bytes !== undefined) next.max_params_bytes = update.max_params_bytes;
  if (update.approval_ttl_ms === null) delete next.approval_ttl_ms;
  else if (update.approval_ttl_ms !== undefined) next.approval_ttl_ms = update.approval_ttl_ms;
  for (const [tool, rules] of Object.entries(update.tools ?? {})) {
    if (rules === null) delete next.tools[tool];
    else next.tools[tool] = { ...next.tools[tool], ...dropUndefined(rules) };
  }
  return next;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The rules of one tool (a qualified `server.tool` name falls back to the bare tool name). */
export function toolRules(policy: Policy, tool: string): ToolPolicy {
  const own = Object.hasOwn(policy.tools, tool) ? policy.tools[tool] : undefined;
  if (own !== undefined) return own;
  const dot = tool.indexOf('.');
  if (dot > 0) {
    const bare = tool.slice(dot + 1);
    if (Object.hasOwn(policy.tools, bare)) return policy.tools[bare] as ToolPolicy;
  }
  return {};
}

/**
 * Whether calls of a tool need approval: the policy decides when it says; otherwise the tool's own
 * declaration (`requiresApproval: false` or `readOnly: true` mean no); unknown tools need approval.
 */
export function requiresApproval(policy: Policy, tool: string, description: ToolDescription | undefined): boolean {
  const rule = toolRules(policy, tool).requires_approval;
  if (rule !== undefined) return rule;
  if (description === undefined) return true;
  return description.requiresApproval ?? description.readOnly !== true;
}
