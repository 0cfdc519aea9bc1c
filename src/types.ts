import type { ExecutionErrorCode } from './errors.js';

/** ISO-8601 UTC timestamp string. */
export type Timestamp = string;

/** Fields every stored entity carries. `version` starts at 1 and grows by one on every change. */
export interface EntityBase {
  id: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** Optimistic-concurrency counter: 1 on creation, +1 on every change. */
  version: number;
}

export type ActorStatus = 'active' | 'inactive' | 'busy';
export type Priority = 'low' | 'medium' | 'high' | 'urgent';

/** A human, agent or service that proposes, reviews or performs work. */
export interface Actor extends EntityBase {
  name: string;
  role: string;
  capabilities: string[];
  status: ActorStatus;
}

export type WorkflowStatus = 'draft' | 'active' | 'completed' | 'failed' | 'cancelled';
export type StepStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'skipped';

/** One step of a workflow. `dependencies` are names of other steps. */
export interface WorkflowStep {
  id: string;
  name: string;
  description: string;
  actorId?: string;
  dependencies: string[];
  estimatedDuration?: number;
  status: StepStatus;
  startedAt?: Timestamp;
  completedAt?: Timestamp;
  output?: unknown;
}

/** A multi-step plan whose steps depend on each other (a DAG). */
export interface Workflow extends EntityBase {
  name: string;
  description: string;
  priority: Priority;
  status: WorkflowStatus;
  steps: WorkflowStep[];
  assignedActors: string[];
  createdBy?: string;
  startedAt?: Timestamp;
  completedAt?: Timestamp;
  cancelledAt?: Timestamp;
  cancelReason?: string;
}

export type ProposalStatus = 'pending' | 'approved' | 'rejected' | 'withdrawn';
export type ProposalDecision = 'approve' | 'reject' | 'comment';

/** A review of a general proposal. */
export interface ProposalReview {
  reviewerId: string;
  decision: ProposalDecision;
  comment?: string;
  at: Timestamp;
}

/** A general proposal: a decision people review, not tied to running a tool. */
export interface Proposal extends EntityBase {
  title: string;
  description: string;
  priority: Priority;
  status: ProposalStatus;
  requester?: string;
  assignedReviewers: string[];
  workflowId?: string;
  reviews: ProposalReview[];
}

export type ActionStatus =
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'executing'
  | 'executed'
  | 'failed'
  | 'expired'
  | 'cancelled';

export type ActionDecision = 'approve' | 'reject' | 'edit';

/** A review of an action proposal, bound to the params hash the reviewer saw. */
export interface ActionReview {
  reviewerId: string;
  decision: ActionDecision;
  comment?: string;
  at: Timestamp;
  /** `paramsHash` of the params this decision applies to. Approvals of older params do not count. */
  paramsHash: string;
}

/** The outcome of one execution (or dry run) of a tool call. */
export interface ExecutionResult {
  success: boolean;
  dryRun: boolean;
  message: string;
  proposalId?: string;
  executionId: string;
  tool: string;
  params: Record<string, unknown>;
  result?: unknown;
  error?: { code: ExecutionErrorCode; message: string };
  attempts: number;
  durationMs: number;
}

/** Execution bookkeeping kept on an action proposal. */
export interface ActionExecution {
  executionId: string;
  startedAt: Timestamp;
  /** While `executing`: after this instant the run counts as interrupted. */
  leaseExpiresAt: Timestamp;
  finishedAt?: Timestamp;
  result?: ExecutionResult;
}

/** A proposed tool call waiting for, or past, its approval. */
export interface ActionProposal extends EntityBase {
  workflowId?: string;
  stepId?: string;
  actorId: string;
  tool: string;
  params: Record<string, unknown>;
  /** SHA-256 (hex) of the canonical JSON of `params`. */
  paramsHash: string;
  /** The params as first proposed, when a reviewer edited them. */
  originalParams?: Record<string, unknown>;
  reason: string;
  status: ActionStatus;
  reviews: ActionReview[];
  approvalsRequired: number;
  approvedAt?: Timestamp;
  /** Pending: the decision deadline. Approved: the execution deadline. */
  expiresAt?: Timestamp;
  idempotencyKey?: string;
  execution?: ActionExecution;
  cancelledBy?: string;
  cancelReason?: string;
}

/** Per-tool policy rules (snake_case, as given to `updatePolicy`). */
export interface ToolPolicy {
  requires_approval?: boolean;
  approvals_required?: number;
  reviewer_roles?: string[];
  allow_self_approval?: boolean;
  approval_ttl_ms?: number;
  max_concurrency?: number;
}

/** The whole policy, snake_case, as `getPolicy()` returns it. */
export interface Policy {
  dry_run: boolean;
  max_retries: number;
  timeout_ms: number;
  max_parallel: number;
  approval_ttl_ms?: number;
  execution_lease_ms: number;
  max_params_bytes: number;
  tools: Record<string, ToolPolicy>;
}

/** The policy as the store keeps it. */
export interface PolicyRecord extends EntityBase {
  policy: Policy;
}

export type EntityType = 'actor' | 'workflow' | 'proposal' | 'action' | 'policy' | 'tool' | 'system';

/** One record of the hash-chained audit trail. */
export interface AuditEvent<T extends string = AuditEventType> {
  id: string;
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  eventType: T;
  entityType: EntityType;
  entityId: string;
  actorId?: string;
  timestamp: Timestamp;
  details: Record<string, unknown>;
  /** `hash` of the previous record; 64 zeros for the first. */
  prevHash: string;
  /** SHA-256 of the canonical JSON of this record without `hash` and `signature`. */
  hash: string;
  /** HMAC-SHA-256 of `hash` with `audit.signingKey`, when configured. */
  signature?: string;
}

export const AUDIT_EVENT_TYPES = [
  'actor_created',
  'actor_updated',
  'workflow_created',
  'workflow_started',
  'workflow_step_updated',
  'workflow_completed',
  'workflow_failed',
  'workflow_cancelled',
  'proposal_created',
  'proposal_reviewed',
  'proposal_approved',
  'proposal_rejected',
  'action_proposed',
  'action_approved',
  'action_rejected',
  'action_executing',
  'action_executed',
  'action_failed',
  'action_simulated',
  'action_expired',
  'action_cancelled',
  'parallel_executed',
  'tool_forwarded',
  'policy_updated',
  'data_cleared',
] as const;

/** The documented audit event types. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** The head of the chain, to keep outside the store for truncation checks. */
export interface AuditHead {
  seq: number;
  hash: string;
  signature?: string;
}

/** Counts by status. */
export interface StatusCounts {
  total: number;
  byStatus: Record<string, number>;
}

/** `getStats()` result. */
export interface Stats {
  actors: StatusCounts;
  workflows: StatusCounts;
  proposals: StatusCounts;
  actionProposals: StatusCounts;
  executions: { total: number; succeeded: number; failed: number; dryRun: number };
  auditEvents: { total: number };
}

/** `verifyAuditTrail()` result. */
export interface VerifyResult {
  valid: boolean;
  count: number;
  firstInvalidSeq?: number;
  reason?: string;
}
