import { z } from 'zod';
import type { Executor, ToolDefinition } from './execution/executor.js';
import { updatePolicyInput } from './schemas.js';
import type { Store } from './stores/store.js';
import type { AuditEvent } from './types.js';

/** An extra destination of audit records (a log, a SIEM, a file). The store keeps the canonical trail. */
export interface AuditSink {
  /** Shown in `'error'` events when the sink fails. */
  name?: string;
  /** Receives every record, in seq order. A failure is reported as an `'error'` event and never breaks the write. */
  write(event: AuditEvent): void | Promise<void>;
}

/** A remote MCP server on the allow-list (see `forwardToolCall`). */
export type RemoteServer =
  | { url: string; headers?: Record<string, string> }
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string };

const isObjectWith = (...methods: string[]) =>
  z.custom<object>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    `an object with ${methods.join(', ')}()`,
  );

const toolDefinition = z.looseObject({
  handler: z.custom<ToolDefinition['handler']>((v) => typeof v === 'function', 'a handler function'),
  description: z.string().optional(),
  requiresApproval: z.boolean().optional(),
  readOnly: z.boolean().optional(),
  redact: z.array(z.string().min(1)).optional(),
  schema: isObjectWith('safeParse').optional(),
});

const remoteServer = z.union([
  z.strictObject({ url: z.url(), headers: z.record(z.string(), z.string()).optional() }),
  z.strictObject({
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
  }),
]);

/** Schema of the constructor's config. */
export const connectorConfigSchema = z.strictObject({
  store: isObjectWith('commit', 'get', 'query', 'init').optional(),
  tools: z.record(z.string().min(1), toolDefinition).optional(),
  executor: isObjectWith('execute').optional(),
  remoteServers: z.record(z.string().min(1), remoteServer).optional(),
  audit: z
    .strictObject({
      sinks: z.array(isObjectWith('write')).optional(),
      signingKey: z.string().min(16, 'a signing key of at least 16 characters').optional(),
    })
    .optional(),
  enableAudit: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  maxRetries: z.number().int().min(0).max(20).optional(),
  timeoutMs: z.number().int().positive().optional(),
  policy: updatePolicyInput.omit({ updated_by: true }).optional(),
  clock: z.custom<() => Date>((v) => typeof v === 'function', 'a function returning a Date').optional(),
});

/** Configuration of {@link OrchestrationConnector}. Every key is optional. */
export interface ConnectorConfig {
  /** Where state and the audit trail live. @default new MemoryStore() */
  store?: Store;
  /** Local tools by name. */
  tools?: Record<string, ToolDefinition>;
  /** How approved calls run. @default a ToolRegistry built from `tools` */
  executor?: Executor;
  /** Allow-list of remote MCP servers for `forwardToolCall` / `executeWithRetry`. @default {} */
  remoteServers?: Record<string, RemoteServer>;
  /** Extra sinks, and an HMAC key that signs every record. */
  audit?: { sinks?: AuditSink[]; signingKey?: string };
  /** Keep the audit trail. With false no records are stored, sunk or chained; events still fire with `seq: 0`. @default true */
  enableAudit?: boolean;
  /** Initial policy `dry_run`. @default false */
  dryRun?: boolean;
  /** Initial policy `max_retries`: retries after the first attempt. @default 3 */
  maxRetries?: number;
  /** Initial policy `timeout_ms`, per attempt. @default 10000 */
  timeoutMs?: number;
  /** Initial policy (the fields `updatePolicy` takes). A policy saved in the store by `updatePolicy` wins over it. */
  policy?: Omit<z.input<typeof updatePolicyInput>, 'updated_by'>;
  /** Time source, for tests. @default () => new Date() */
  clock?: () => Date;
}
