import { z } from 'zod';

/** Longest accepted id. */
export const MAX_ID_LENGTH = 200;
/** Longest accepted name, title, role, tool name. */
export const MAX_NAME_LENGTH = 500;
/** Longest accepted description, reason or comment. */
export const MAX_TEXT_LENGTH = 20_000;
/** Most items in one list input (steps, reviewers, capabilities, batch calls). */
export const MAX_LIST_LENGTH = 1000;

const idRef = z.string().min(1).max(MAX_ID_LENGTH);
/** A caller-chosen id: letters, digits and `_ . : @ -`. */
const newId = idRef.regex(
  /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/,
  'use letters, digits and _ . : @ -, starting with a letter or digit',
);
const name = z.string().trim().min(1).max(MAX_NAME_LENGTH);
const text = z.string().max(MAX_TEXT_LENGTH);
const tag = z.string().min(1).max(MAX_NAME_LENGTH);
const limit = z.number().int().min(1).max(1000).optional().describe('page size, default 100, at most 1000');
const after = idRef.optional().describe('id of the last item of the previous page');
const params = z.record(z.string(), z.unknown());

export const actorStatusSchema = z.enum(['active', 'inactive', 'busy']);
export const prioritySchema = z.enum(['low', 'medium', 'high', 'urgent']);
export const stepStatusSchema = z.enum(['pending', 'in_progress', 'completed', 'failed', 'skipped']);
export const workflowStatusSchema = z.enum(['draft', 'active', 'completed', 'failed', 'cancelled']);
export const proposalStatusSchema = z.enum(['pending', 'approved', 'rejected', 'withdrawn']);
export const actionStatusSchema = z.enum([
  'pending',
  'approved',
  'rejected',
  'executing',
  'executed',
  'failed',
  'expired',
  'cancelled',
]);

/** Input of `getActor`, `getWorkflow`, `getProposal`, `getActionProposal`. */
export const getByIdInput = z.strictObject({ id: idRef });
/** Input of methods that take no arguments. */
export const emptyInput = z.strictObject({});

/** Input of `createActor`. */
export const createActorInput = z.strictObject({
  id: newId.optional(),
  name,
  role: tag,
  capabilities: z.array(tag).max(MAX_LIST_LENGTH).optional(),
  status: actorStatusSchema.optional(),
});
/** Input of `updateActor`. */
export const updateActorInput = z.strictObject({
  id: idRef,
  name: name.optional(),
  role: tag.optional(),
  capabilities: z.array(tag).max(MAX_LIST_LENGTH).optional(),
  status: actorStatusSchema.optional(),
});
/** Input of `queryActors`. */
export const queryActorsInput = z.strictObject({
  status: actorStatusSchema.optional(),
  role: tag.optional(),
  capabilities: z.array(tag).max(100).optional(),
  limit,
  after,
});

/** One step of `createWorkflow`. */
export const workflowStepInput = z.strictObject({
  name,
  description: text.optional(),
  actorId: idRef.optional(),
  dependencies: z.array(name).max(MAX_LIST_LENGTH).optional(),
  estimatedDuration: z.number().finite().nonnegative().optional(),
});
/** Input of `createWorkflow`. */
export const createWorkflowInput = z.strictObject({
  name,
  description: text,
  priority: prioritySchema.optional(),
  steps: z.array(workflowStepInput).max(MAX_LIST_LENGTH).optional(),
  assignedActors: z.array(idRef).max(MAX_LIST_LENGTH).optional(),
  createdBy: idRef.optional(),
});
/** Input of `updateWorkflowStep`. `step` is a step name or id. */
export const updateWorkflowStepInput = z.strictObject({
  workflow_id: idRef,
  step: name,
  status: stepStatusSchema,
  actor_id: idRef.optional(),
  output: z.unknown().optional(),
});
/** Input of `cancelWorkflow`. */
export const cancelWorkflowInput = z.strictObject({ workflow_id: idRef, reason: text.min(1) });
/** Input of `queryWorkflows`. */
export const queryWorkflowsInput = z.strictObject({
  status: workflowStatusSchema.optional(),
  priority: prioritySchema.optional(),
  assignedActor: idRef.optional(),
  limit,
  after,
});

/** Input of `createProposal`. */
export const createProposalInput = z.strictObject({
  title: name,
  description: text,
  priority: prioritySchema.optional(),
  assignedReviewers: z.array(idRef).max(MAX_LIST_LENGTH).optional(),
  requester: idRef.optional(),
  workflow_id: idRef.optional(),
});
/** Input of `reviewProposal`. */
export const reviewProposalInput = z.strictObject({
  proposal_id: idRef,
  reviewer_id: idRef,
  decision: z.enum(['approve', 'reject', 'comment']),
  comment: text.optional(),
});
/** Input of `queryProposals`. */
export const queryProposalsInput = z.strictObject({
  status: proposalStatusSchema.optional(),
  priority: prioritySchema.optional(),
  requester: idRef.optional(),
  reviewer: idRef.optional(),
  limit,
  after,
});

/** Input of `proposeAction`. */
export const proposeActionInput = z.strictObject({
  workflow_id: idRef.optional(),
  step: name.optional(),
  actor_id: idRef,
  tool: tag,
  params: params.optional(),
  reason: text.min(1),
  idempotency_key: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
  expires_in_ms: z
    .number()
    .int()
    .positive()
    .max(365 * 24 * 3600 * 1000)
    .optional(),
});
/** Input of `reviewAction`. */
export const reviewActionInput = z.strictObject({
  proposal_id: idRef,
  reviewer_id: idRef,
  decision: z.enum(['approve', 'reject', 'edit']),
  params: params.optional(),
  edits: params.optional(),
  comment: text.optional(),
  params_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256')
    .optional(),
});
/** Input of `executeAction`. */
export const executeActionInput = z.strictObject({ proposal_id: idRef, dry_run: z.boolean().optional() });
/** One call of `executeParallel`: a raw tool call or an approved proposal. */
export const parallelCallInput = z.union([
  z.strictObject({ tool: tag, params: params.optional() }),
  z.strictObject({ proposal_id: idRef }),
]);
/** Input of `executeParallel`. */
export const executeParallelInput = z.strictObject({
  calls: z.array(parallelCallInput).min(1).max(MAX_LIST_LENGTH),
  concurrency: z.number().int().min(1).max(1000).optional(),
  dry_run: z.boolean().optional(),
});
/** Input of `cancelAction`. */
export const cancelActionInput = z.strictObject({ proposal_id: idRef, actor_id: idRef, reason: text.min(1) });
/** Input of `queryActionProposals`. */
export const queryActionProposalsInput = z.strictObject({
  status: actionStatusSchema.optional(),
  tool: tag.optional(),
  actor_id: idRef.optional(),
  workflow_id: idRef.optional(),
  limit,
  after,
});
/** Input of `waitForDecision`. */
export const waitForDecisionInput = z.strictObject({
  proposal_id: idRef,
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000)
    .optional()
    .describe('default 30000'),
});
/** The second argument of `waitForDecision`: what the caller may end the wait with. */
export const waitForDecisionOptions = z.strictObject({
  signal: z
    .instanceof(AbortSignal, { message: 'signal must be an AbortSignal (e.g. AbortSignal.timeout(ms))' })
    .optional(),
});

/** One tool's rules in `updatePolicy`. */
export const toolPolicyInput = z.strictObject({
  requires_approval: z.boolean().optional(),
  approvals_required: z.number().int().min(1).max(100).optional(),
  reviewer_roles: z.array(tag).max(100).optional(),
  allow_self_approval: z.boolean().optional(),
  approval_ttl_ms: z.number().int().positive().optional(),
  max_concurrency: z.number().int().min(1).max(1000).optional(),
});
/** Input of `updatePolicy` (and the `policy` config key). `tools.<name>: null` removes a tool's rules. */
export const updatePolicyInput = z.strictObject({
  dry_run: z.boolean().optional(),
  max_retries: z.number().int().min(0).max(20).optional(),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000)
    .optional(),
  max_parallel: z.number().int().min(1).max(1000).optional(),
  approval_ttl_ms: z.number().int().positive().nullable().optional(),
  execution_lease_ms: z.number().int().positive().optional(),
  max_params_bytes: z
    .number()
    .int()
    .min(64)
    .max(64 * 1024 * 1024)
    .optional(),
  tools: z.record(tag, toolPolicyInput.nullable()).optional(),
  updated_by: idRef.optional(),
});

const dateInput = z
  .string()
  .max(64)
  .refine(
    (s) => ISO_DATE.test(s) && !Number.isNaN(Date.parse(s)) && sameCalendarDay(s),
    'an ISO date (2026-01-31) or date-time (2026-01-31T12:00:00Z)',
  );
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
/** Rejects dates that Date.parse rolls over (2026-02-31). */
function sameCalendarDay(s: string): boolean {
  const [y, m, d] = s.slice(0, 10).split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}
/** Input of `queryAuditEvents`. Dates are inclusive. */
export const queryAuditEventsInput = z.strictObject({
  eventType: tag.optional(),
  entityType: z.enum(['actor', 'workflow', 'proposal', 'action', 'policy', 'tool', 'system']).optional(),
  entityId: idRef.optional(),
  actorId: idRef.optional(),
  startDate: dateInput.optional(),
  endDate: dateInput.optional(),
  limit,
  after,
});
/** Input of `verifyAuditTrail`. */
export const verifyAuditTrailInput = z.strictObject({
  head: z
    .strictObject({
      seq: z.number().int().nonnegative(),
      hash: z.string().max(128),
      signature: z.string().max(128).optional(),
    })
    .optional(),
});

/** Input of `forwardToolCall`. */
export const forwardToolCallInput = z.strictObject({
  server: z.string().min(1).max(2000),
  tool_name: tag,
  args: params.optional(),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000)
    .optional(),
});
/** Input of `executeWithRetry`. */
export const executeWithRetryInput = z.strictObject({
  tool: tag,
  params: params.optional(),
  server: z.string().min(1).max(2000).optional(),
});

export type CreateActorInput = z.input<typeof createActorInput>;
export type UpdateActorInput = z.input<typeof updateActorInput>;
export type QueryActorsInput = z.input<typeof queryActorsInput>;
export type GetByIdInput = z.input<typeof getByIdInput>;
export type WorkflowStepInput = z.input<typeof workflowStepInput>;
export type CreateWorkflowInput = z.input<typeof createWorkflowInput>;
export type UpdateWorkflowStepInput = z.input<typeof updateWorkflowStepInput>;
export type CancelWorkflowInput = z.input<typeof cancelWorkflowInput>;
export type QueryWorkflowsInput = z.input<typeof queryWorkflowsInput>;
export type CreateProposalInput = z.input<typeof createProposalInput>;
export type ReviewProposalInput = z.input<typeof reviewProposalInput>;
export type QueryProposalsInput = z.input<typeof queryProposalsInput>;
export type ProposeActionInput = z.input<typeof proposeActionInput>;
export type ReviewActionInput = z.input<typeof reviewActionInput>;
export type ExecuteActionInput = z.input<typeof executeActionInput>;
export type ParallelCallInput = z.input<typeof parallelCallInput>;
export type ExecuteParallelInput = z.input<typeof executeParallelInput>;
export type CancelActionInput = z.input<typeof cancelActionInput>;
export type QueryActionProposalsInput = z.input<typeof queryActionProposalsInput>;
export type WaitForDecisionInput = z.input<typeof waitForDecisionInput>;
export type WaitForDecisionOptions = z.input<typeof waitForDecisionOptions>;
export type ToolPolicyInput = z.input<typeof toolPolicyInput>;
export type UpdatePolicyInput = z.input<typeof updatePolicyInput>;
export type QueryAuditEventsInput = z.input<typeof queryAuditEventsInput>;
export type VerifyAuditTrailInput = z.input<typeof verifyAuditTrailInput>;
export type ForwardToolCallInput = z.input<typeof forwardToolCallInput>;
export type ExecuteWithRetryInput = z.input<typeof executeWithRetryInput>;
