/**
 * Stable error codes of {@link OrchestrationError}. Each is documented once, here.
 */
export const ErrorCodes = {
  /** The input failed validation (wrong type, unknown key, out of range). Fix the call. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** A referenced actor, workflow, step or proposal does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** The call clashes with existing state: duplicate id, repeated vote, stale `params_hash`. */
  CONFLICT: 'CONFLICT',
  /** The entity is not in a state that allows this move (e.g. executing an executed action). */
  INVALID_STATE: 'INVALID_STATE',
  /** The actor may not do this: not an assigned reviewer, self-approval, wrong role, not allowed server. */
  FORBIDDEN: 'FORBIDDEN',
  /** The tool requires an approved proposal and there is none (pending, rejected, or a raw call). */
  APPROVAL_REQUIRED: 'APPROVAL_REQUIRED',
  /** Workflow steps depend on each other in a cycle; `details.cycle` names it. */
  DEPENDENCY_CYCLE: 'DEPENDENCY_CYCLE',
  /** A step cannot start or complete before its dependencies are completed or skipped. */
  DEPENDENCIES_NOT_MET: 'DEPENDENCIES_NOT_MET',
  /** The executor does not know the tool. */
  TOOL_NOT_FOUND: 'TOOL_NOT_FOUND',
  /** The params do not match the tool's schema; `details.issues` lists the problems. */
  INVALID_PARAMS: 'INVALID_PARAMS',
  /** The proposal's decision or execution deadline has passed. Propose again. */
  EXPIRED: 'EXPIRED',
  /** A wait or a call ran past its time limit. */
  TIMEOUT: 'TIMEOUT',
  /** A remote MCP server failed or could not be reached. */
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** The store failed (connection lost, database locked). `details.retryable` says whether to retry. */
  STORE_ERROR: 'STORE_ERROR',
} as const;

/** One of the documented error codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Codes that only appear in `ExecutionResult.error.code`, never thrown. */
export type ExecutionErrorCode = ErrorCode | 'HANDLER_ERROR' | 'INTERRUPTED';

/**
 * The one error class the library throws. `code` is stable; `message` says what to do;
 * `details` carries machine-readable context (zod issues, the cycle, the current state).
 */
export class OrchestrationError extends Error {
  /** Stable, documented code. */
  readonly code: ErrorCode;
  /** Machine-readable context. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrchestrationError';
    this.code = code;
    this.details = details;
  }

  /** A plain object for JSON transport (MCP results, logs). */
  toJSON(): { name: string; code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** True when `err` is an {@link OrchestrationError}, optionally with the given code. */
export function isOrchestrationError(err: unknown, code?: ErrorCode): err is OrchestrationError {
  return err instanceof OrchestrationError && (code === undefined || err.code === code);
}
