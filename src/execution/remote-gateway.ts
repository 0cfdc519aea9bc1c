import { scrubSecrets } from '../audit/redact.js';
import type { RemoteServer } from '../config.js';
import { requiresApproval, toolRules } from '../domain/policy.js';
import { OrchestrationError } from '../errors.js';
import type { Kernel } from '../kernel.js';
import type { ExecuteWithRetryInput, ForwardToolCallInput } from '../schemas.js';
import { newId } from '../util/ids.js';
import { toJsonData } from '../util/json.js';
import { checkToolParams } from './gate-base.js';
import { executionContext, runAttempts } from './runner.js';

/** Result of `forwardToolCall` and `executeWithRetry`. */
export interface ForwardResult {
  success: boolean;
  data?: unknown;
  error?: { code: string; message: string };
  execution_time_ms: number;
}

/** The slice of `RemoteConnections` (orchestration-connector/mcp) the gateway uses. */
interface RemoteClient {
  describeTool(
    server: string,
    tool: string,
  ): Promise<{ annotations?: { readOnlyHint?: boolean; idempotentHint?: boolean } } | undefined>;
  callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    opts: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Forwards calls to allow-listed remote MCP servers. The MCP SDK is loaded on first use only, so a
 * user of the root entry who never forwards never loads it.
 */
export class RemoteGateway {
  private client: Promise<RemoteClient> | undefined;

  constructor(
    private readonly k: Kernel,
    private readonly servers: Record<string, RemoteServer>,
  ) {}

  /** The configured name of `server` (a name, or the exact URL of a configured server); FORBIDDEN otherwise. */
  resolve(server: string): string {
    if (Object.hasOwn(this.servers, server)) return server;
    for (const [name, cfg] of Object.entries(this.servers)) {
      if ('url' in cfg && cfg.url === server) return name;
    }
    const names = Object.keys(this.servers);
    throw new OrchestrationError(
      'FORBIDDEN',
      `Server '${server.slice(0, 200)}' is not on the allow-list. ${names.length ? `Use one of: ${names.join(', ')}` : 'Configure it in remoteServers'}.`,
      { server: server.slice(0, 200) },
    );
  }

  private async remote(): Promise<RemoteClient> {
    if (this.client === undefined) {
      this.client = import('../mcp/remote.js').then(
        (m) => new m.RemoteConnections(this.servers) as unknown as RemoteClient,
      );
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }

  private async checkRemote(name: string, tool: string): Promise<{ idempotent: boolean }> {
    const remote = await this.remote();
    const info = await remote.describeTool(name, tool);
    if (info === undefined) {
      throw new OrchestrationError(
        'TOOL_NOT_FOUND',
        `Server '${name}' has no tool '${tool}'. List its tools and check the name.`,
        {
          server: name,
          tool,
        },
      );
    }
    const qualified = `${name}.${tool}`;
    const policy = await this.k.policy();
    const readOnly = info.annotations?.readOnlyHint === true;
    const rule = toolRules(policy, qualified).requires_approval;
    const needs = rule ?? requiresApproval(policy, qualified, { name: qualified, readOnly });
    if (needs) {
      throw new OrchestrationError(
        'APPROVAL_REQUIRED',
        `Tool '${qualified}' requires approval. Propose it with proposeAction through an McpExecutor, or mark it read-only in the policy.`,
        { server: name, tool },
      );
    }
    return { idempotent: info.annotations?.idempotentHint === true };
  }

  async forward(i: ForwardToolCallInput): Promise<ForwardResult> {
    const name = this.resolve(i.server);
    const policy = await this.k.policy();
    const args = toJsonData(i.args ?? {}, policy.max_params_bytes, `Args of '${i.tool_name}'`, 'INVALID_PARAMS');
    await this.checkRemote(name, i.tool_name);
    const remote = await this.remote();
    const started = performance.now();
    let result: ForwardResult;
    try {
      const data = await remote.callTool(name, i.tool_name, args, {
        timeoutMs: i.timeout_ms ?? policy.timeout_ms,
        signal: this.k.lifetime.signal,
      });
      result = fromCallResult(data, performance.now() - started);
    } catch (err) {
      const e = err instanceof OrchestrationError ? err : new OrchestrationError('REMOTE_ERROR', String(err));
      result = {
        success: false,
        error: { code: e.code, message: e.message },
        execution_time_ms: ms(performance.now() - started),
      };
    }
    await this.audit(name, i.tool_name, result, 1);
    return result;
  }

  async executeWithRetry(i: ExecuteWithRetryInput): Promise<ForwardResult> {
    const policy = await this.k.policy();
    const started = performance.now();
    if (i.server === undefined) {
      const { known, description } = await this.k.describe(i.tool);
      if (!known)
        throw new OrchestrationError('TOOL_NOT_FOUND', `Tool '${i.tool}' is not known to the executor.`, {
          tool: i.tool,
        });
      if (requiresApproval(policy, i.tool, description)) {
        throw new OrchestrationError(
          'APPROVAL_REQUIRED',
          `Tool '${i.tool}' requires approval. Propose it with proposeAction.`,
          { tool: i.tool },
        );
      }
      const params = checkToolParams(i.tool, i.params ?? {}, description, policy);
      const executionId = newId('exec');
      const outcome = await runAttempts(
        (attempt) => this.k.executor.execute({ tool: i.tool, params }, executionContext(attempt, executionId)),
        { retries: policy.max_retries, timeoutMs: policy.timeout_ms, stop: this.k.stopSource },
      );
      const result: ForwardResult = outcome.ok
        ? { success: true, data: outcome.value, execution_time_ms: ms(performance.now() - started) }
        : {
            success: false,
            error: { ...outcome.error, message: scrubSecrets(outcome.error.message, params, description?.redact) },
            execution_time_ms: ms(performance.now() - started),
          };
      await this.audit('local', i.tool, result, outcome.attempts);
      return result;
    }
    const name = this.resolve(i.server);
    const args = toJsonData(i.params ?? {}, policy.max_params_bytes, `Params of '${i.tool}'`, 'INVALID_PARAMS');
    const { idempotent } = await this.checkRemote(name, i.tool);
    const remote = await this.remote();
    let remoteFailure: ForwardResult | undefined;
    const outcome = await runAttempts(
      async ({ signal }) => {
        const data = await remote.callTool(name, i.tool, args, { timeoutMs: policy.timeout_ms, signal });
        const r = fromCallResult(data, 0);
        if (!r.success) {
          remoteFailure = r;
          // A tool that answered with an error ran: retry only what says it is idempotent.
          throw Object.assign(new Error(r.error?.message ?? 'remote tool failed'), { retryable: idempotent });
        }
        return r.data;
      },
      {
        retries: policy.max_retries,
        timeoutMs: policy.timeout_ms,
        stop: this.k.stopSource,
        retryTimeouts: idempotent,
      },
    );
    const elapsed = ms(performance.now() - started);
    const result: ForwardResult = outcome.ok
      ? { success: true, data: outcome.value, execution_time_ms: elapsed }
      : { success: false, error: remoteFailure?.error ?? outcome.error, execution_time_ms: elapsed };
    await this.audit(name, i.tool, result, outcome.attempts);
    return result;
  }

  private async audit(server: string, tool: string, r: ForwardResult, attempts: number): Promise<void> {
    const now = this.k.now().toISOString();
    await this.k.commit({
      writes: [],
      drafts: [
        this.k.draft(
          {
            type: 'tool_forwarded',
            details: {
              server,
              tool,
              success: r.success,
              attempts,
              executionTimeMs: r.execution_time_ms,
              ...(r.error ? { error: r.error } : {}),
            },
          },
          'tool',
          `${server}.${tool}`,
          undefined,
          now,
        ),
      ],
    });
  }

  async close(): Promise<void> {
    if (this.client === undefined) return;
    const c = await this.client.catch(() => undefined);
    await c?.close();
  }
}

function ms(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Maps an MCP CallToolResult to the SPEC 7 shape. */
function fromCallResult(raw: unknown, elapsed: number): ForwardResult {
  const r = (raw ?? {}) as {
    isError?: boolean;
    structuredContent?: unknown;
    content?: Array<{ type: string; text?: string }>;
  };
  const text = (r.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
  if (r.isError)
    return {
      success: false,
      error: { code: 'REMOTE_ERROR', message: text || 'The remote tool failed.' },
      execution_time_ms: ms(elapsed),
    };
  return { success: true, data: r.structuredContent ?? r.content ?? null, execution_time_ms: ms(elapsed) };
}
