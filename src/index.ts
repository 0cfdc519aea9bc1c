/**
 * orchestration-connector: an approval gate between AI agents (or automations) and the tools they
 * want to run. See the README for a tour and `OrchestrationConnector` for the API.
 * @packageDocumentation
 */

export { canonicalJson } from './audit/canonical.js';
export { GENESIS_HASH, hashEvent, sha256Canonical } from './audit/chain.js';
export { REDACTED, redactParams } from './audit/redact.js';
export type { AuditSink, ConnectorConfig, RemoteServer } from './config.js';
export { connectorConfigSchema } from './config.js';
export { OrchestrationConnector } from './connector.js';
export type { ErrorCode, ExecutionErrorCode } from './errors.js';
export { ErrorCodes, isOrchestrationError, OrchestrationError } from './errors.js';
export type { BackgroundErrorContext, ConnectorEvents } from './events.js';
export type {
  ExecutionContext,
  Executor,
  ParamsCheck,
  ToolCall,
  ToolDefinition,
  ToolDescription,
} from './execution/executor.js';
export { defineTool, NonRetryableError } from './execution/executor.js';
export type { ParallelResult } from './execution/gate.js';
export { ToolRegistry } from './execution/registry.js';
export type { ForwardResult } from './execution/remote-gateway.js';
export type * from './schemas.js';
export {
  actionStatusSchema,
  actorStatusSchema,
  cancelActionInput,
  cancelWorkflowInput,
  createActorInput,
  createProposalInput,
  createWorkflowInput,
  emptyInput,
  executeActionInput,
  executeParallelInput,
  executeWithRetryInput,
  forwardToolCallInput,
  getByIdInput,
  parallelCallInput,
  prioritySchema,
  proposalStatusSchema,
  proposeActionInput,
  queryActionProposalsInput,
  queryActorsInput,
  queryAuditEventsInput,
  queryProposalsInput,
  queryWorkflowsInput,
  reviewActionInput,
  reviewProposalInput,
  stepStatusSchema,
  toolPolicyInput,
  updateActorInput,
  updatePolicyInput,
  updateWorkflowStepInput,
  verifyAuditTrailInput,
  waitForDecisionInput,
  waitForDecisionOptions,
  workflowStatusSchema,
  workflowStepInput,
} from './schemas.js';
export { indexEntries, uniqueKeys } from './stores/indexing.js';
export { MemoryStore } from './stores/memory.js';
export type {
  AnyEntity,
  AuditDraft,
  AuditQuery,
  AuditSealer,
  Change,
  CommitConflict,
  CommitResult,
  EntityKind,
  EntityMap,
  EntityQuery,
  Store,
  StoreCapabilities,
  Write,
} from './stores/store.js';
export type {
  ActionDecision,
  ActionExecution,
  ActionProposal,
  ActionReview,
  ActionStatus,
  Actor,
  ActorStatus,
  AuditEvent,
  AuditEventType,
  AuditHead,
  EntityBase,
  EntityType,
  ExecutionResult,
  Policy,
  PolicyRecord,
  Priority,
  Proposal,
  ProposalDecision,
  ProposalReview,
  ProposalStatus,
  Stats,
  StatusCounts,
  StepStatus,
  Timestamp,
  ToolPolicy,
  VerifyResult,
  Workflow,
  WorkflowStatus,
  WorkflowStep,
} from './types.js';
export { AUDIT_EVENT_TYPES } from './types.js';
