import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import * as s from '../schemas.js';

/** How one connector method is offered as an MCP tool. */
export interface McpToolSpec {
  /** The method's input schema (the same zod schema the connector validates with). */
  schema: z.ZodObject;
  title: string;
  description: string;
  annotations: ToolAnnotations;
  /** Input fields that name the actor doing the call; bound to `actorId` when the server has one. */
  actingFields?: readonly string[];
}

const readOnly: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };
const write: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};
const idempotentWrite: ToolAnnotations = { ...write, idempotentHint: true };
const runs: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

/** Every connector method served over MCP, by name. */
export const MCP_TOOLS = {
  createActor: {
    schema: s.createActorInput,
    title: 'Create actor',
    description: 'Register a human, agent or service that proposes, reviews or performs work. Returns the actor.',
    annotations: write,
  },
  updateActor: {
    schema: s.updateActorInput,
    title: 'Update actor',
    description: "Change an actor's name, role, capabilities or status. Returns the actor.",
    annotations: idempotentWrite,
  },
  getActor: { schema: s.getByIdInput, title: 'Get actor', description: 'Read one actor by id.', annotations: readOnly },
  queryActors: {
    schema: s.queryActorsInput,
    title: 'Query actors',
    description: 'List actors by status, role or capabilities, oldest first (page with limit/after).',
    annotations: readOnly,
  },
  createWorkflow: {
    schema: s.createWorkflowInput,
    title: 'Create workflow',
    description: 'Create a draft workflow of named steps that depend on each other (no cycles). Returns the workflow.',
    annotations: write,
    actingFields: ['createdBy'],
  },
  updateWorkflowStep: {
    schema: s.updateWorkflowStepInput,
    title: 'Update workflow step',
    description: 'Move a step (by name or id) to in_progress, completed, failed or skipped. Returns the workflow.',
    annotations: write,
    actingFields: ['actor_id'],
  },
  cancelWorkflow: {
    schema: s.cancelWorkflowInput,
    title: 'Cancel workflow',
    description: 'Cancel a workflow, giving a reason. Returns the workflow.',
    annotations: idempotentWrite,
  },
  getWorkflow: {
    schema: s.getByIdInput,
    title: 'Get workflow',
    description: 'Read one workflow.',
    annotations: readOnly,
  },
  queryWorkflows: {
    schema: s.queryWorkflowsInput,
    title: 'Query workflows',
    description: 'List workflows by status, priority or assigned actor, oldest first.',
    annotations: readOnly,
  },
  createProposal: {
    schema: s.createProposalInput,
    title: 'Create proposal',
    description: 'Ask people to decide something (not a tool call). Returns the pending proposal.',
    annotations: write,
    actingFields: ['requester'],
  },
  reviewProposal: {
    schema: s.reviewProposalInput,
    title: 'Review proposal',
    description: 'Approve, reject or comment on a general proposal. Returns the proposal.',
    annotations: write,
    actingFields: ['reviewer_id'],
  },
  getProposal: {
    schema: s.getByIdInput,
    title: 'Get proposal',
    description: 'Read one proposal.',
    annotations: readOnly,
  },
  queryProposals: {
    schema: s.queryProposalsInput,
    title: 'Query proposals',
    description: 'List general proposals by status, priority, requester or reviewer, oldest first.',
    annotations: readOnly,
  },
  proposeAction: {
    schema: s.proposeActionInput,
    title: 'Propose action',
    description:
      'Ask for approval to run a tool with these params. Returns the action proposal: "approved" at once for tools ' +
      'that need no approval, else "pending" until a reviewer decides (see waitForDecision), then run it with executeAction.',
    annotations: write,
    actingFields: ['actor_id'],
  },
  reviewAction: {
    schema: s.reviewActionInput,
    title: 'Review action',
    description:
      'Approve, reject or edit a pending action proposal. Pass params_hash to bind the decision to the params you saw.',
    annotations: write,
    actingFields: ['reviewer_id'],
  },
  executeAction: {
    schema: s.executeActionInput,
    title: 'Execute action',
    description:
      'Run an approved action proposal, exactly once, with retries and a timeout. Returns the ExecutionResult ' +
      '(a failed tool is success: false, not an error).',
    annotations: { ...runs, idempotentHint: true },
  },
  executeParallel: {
    schema: s.executeParallelInput,
    title: 'Execute in parallel',
    description:
      'Run several approved proposals, or raw calls of tools that need no approval, with bounded concurrency.',
    annotations: runs,
  },
  cancelAction: {
    schema: s.cancelActionInput,
    title: 'Cancel action',
    description: 'Withdraw a pending or approved action proposal, giving a reason.',
    annotations: idempotentWrite,
    actingFields: ['actor_id'],
  },
  getActionProposal: {
    schema: s.getByIdInput,
    title: 'Get action proposal',
    description: 'Read one action proposal, with its reviews and execution result.',
    annotations: readOnly,
  },
  queryActionProposals: {
    schema: s.queryActionProposalsInput,
    title: 'Query action proposals',
    description: 'List action proposals by status, tool, actor or workflow, oldest first.',
    annotations: readOnly,
  },
  waitForDecision: {
    schema: s.waitForDecisionInput,
    title: 'Wait for decision',
    description:
      'Wait until an action proposal is no longer pending (TIMEOUT after timeout_ms, default 30 s). Cancel the request to stop waiting.',
    annotations: readOnly,
  },
  recoverStaleExecutions: {
    schema: s.emptyInput,
    title: 'Recover stale executions',
    description: 'Mark executions whose process died as failed (INTERRUPTED). Never re-runs a tool.',
    annotations: idempotentWrite,
  },
  updatePolicy: {
    schema: s.updatePolicyInput,
    title: 'Update policy',
    description: 'Change global settings and per-tool approval rules. Returns the whole policy.',
    annotations: idempotentWrite,
    actingFields: ['updated_by'],
  },
  getPolicy: { schema: s.emptyInput, title: 'Get policy', description: 'Read the policy.', annotations: readOnly },
  queryAuditEvents: {
    schema: s.queryAuditEventsInput,
    title: 'Query audit events',
    description: 'List audit records by type, entity, actor or date range, oldest first.',
    annotations: readOnly,
  },
  verifyAuditTrail: {
    schema: s.verifyAuditTrailInput,
    title: 'Verify audit trail',
    description: 'Check the hash chain (and a head kept elsewhere, when given).',
    annotations: readOnly,
  },
  getAuditHead: {
    schema: s.emptyInput,
    title: 'Get audit head',
    description: 'The last record seq and hash.',
    annotations: readOnly,
  },
  getStats: {
    schema: s.emptyInput,
    title: 'Get stats',
    description: 'Counts of actors, workflows, proposals, executions, audit events.',
    annotations: readOnly,
  },
  clearAllData: {
    schema: s.emptyInput,
    title: 'Clear all data',
    description: 'Empty the store (for tests). Audited as the first record of a new trail.',
    annotations: { ...runs, openWorldHint: false },
  },
  forwardToolCall: {
    schema: s.forwardToolCallInput,
    title: 'Forward tool call',
    description: 'Call a tool on an allow-listed remote MCP server. Tools that need approval are refused.',
    annotations: runs,
  },
  executeWithRetry: {
    schema: s.executeWithRetryInput,
    title: 'Execute with retry',
    description: "Run a tool that needs no approval, locally or on a remote server, with the policy's retries.",
    annotations: runs,
  },
} satisfies Record<string, McpToolSpec>;

/** Name of a connector method served over MCP. */
export type McpToolName = keyof typeof MCP_TOOLS;

/** Names of every method served over MCP. */
export const MCP_TOOL_NAMES = Object.keys(MCP_TOOLS) as McpToolName[];

/** Hidden unless listed in `tools`: they decide, or destroy, and an agent must not do that to its own work. */
export const HIDDEN_BY_DEFAULT: readonly McpToolName[] = [
  'reviewAction',
  'reviewProposal',
  'updatePolicy',
  'clearAllData',
];
