import type { z } from 'zod';

/** A tool call as an executor receives it. */
export interface ToolCall {
  tool: string;
  params: Record<string, unknown>;
}

/** What an executor (and a tool handler) gets besides the params. */
export interface ExecutionContext {
  /** Aborted at the attempt's timeout or when the connector closes. */
  signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, ... */
  attempt: number;
  /** Stable across the attempts of one execution: use it to de-duplicate side effects. */
  executionId: string;
  proposalId?: string;
  actorId?: string;
}

/** Result of checking params against a tool's schema. */
export type ParamsCheck =
  | { success: true; params: Record<string, unknown> }
  | { success: false; issues: Array<{ path: Array<string | number>; message: string }> };

/** What an executor knows of one tool. */
export interface ToolDescription {
  name: string;
  description?: string;
  /** Declared by the tool; the policy may override it. Unknown: treated as true. */
  requiresApproval?: boolean;
  /** Declared read-only (for MCP tools: the `readOnlyHint` annotation); read-only tools need no approval by default. */
  readOnly?: boolean;
  /** Safe to retry after a timeout (MCP `idempotentHint`). */
  idempotent?: boolean;
  /** Param paths to show as `[REDACTED]` in audit records, events and messages. */
  redact?: string[];
  /** JSON Schema of the params, when known (for MCP clients and docs). */
  inputSchema?: Record<string, unknown>;
  /** Validates (and may normalise) params. Absent: params are accepted as they are. */
  validate?: (params: Record<string, unknown>) => ParamsCheck;
}

/**
 * Runs approved tool calls. The default is a {@link ToolRegistry} of local handlers; `McpExecutor`
 * (from `orchestration-connector/mcp`) runs them on remote MCP servers; anything else can implement this.
 */
export interface Executor {
  /** Runs one attempt. Throw to fail it; throw a {@link NonRetryableError} to stop retries. */
  execute(call: ToolCall, ctx: ExecutionContext): Promise<unknown>;
  /**
   * Describes a tool, or returns undefined when the tool is unknown (then proposals of it are
   * refused with `TOOL_NOT_FOUND`). Executors without `describe` accept every tool name and every
   * tool needs approval.
   */
  describe?(tool: string): ToolDescription | undefined | Promise<ToolDescription | undefined>;
  /** Releases connections. */
  close?(): Promise<void>;
}

/** Throw from a handler or executor to fail the execution at once, without retries. */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** A local tool. */
export interface ToolDefinition<P extends Record<string, unknown> = Record<string, unknown>> {
  description?: string;
  /** Zod schema of the params; validated at propose, edit and execute time. */
  schema?: z.ZodType<P>;
  /** Runs the call. Declared as a method so that a handler typed for its own params fits `Record<string, ToolDefinition>`. */
  handler(params: P, ctx: ExecutionContext): unknown | Promise<unknown>;
  /** @default true (unless readOnly) */
  requiresApproval?: boolean;
  /** Read-only tools need no approval. @default false */
  readOnly?: boolean;
  /**
   * Param paths (`'password'`, `'token.value'`; through arrays, every element) shown as `[REDACTED]` in
   * audit records, events, results and messages, and scrubbed from the tool's error messages. The
   * handler gets the real values, and the store keeps them in the proposal's `params`.
   */
  redact?: string[];
}

/**
 * Declares a local tool with its handler's params typed from its zod schema:
 * `tools: { deploy: defineTool({ schema: z.object({ env: z.string() }), handler: ({ env }) => ... }) }`.
 */
export function defineTool<P extends Record<string, unknown>>(
  def: ToolDefinition<P> & { schema: z.ZodType<P> },
): ToolDefinition;
export function defineTool(def: ToolDefinition): ToolDefinition;
export function defineTool(def: ToolDefinition): ToolDefinition {
  return def;
}
