import type { JsonSchemaType } from '@modelcontextprotocol/sdk/validation';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { OrchestrationError } from '../errors.js';
import {
  type ExecutionContext,
  type Executor,
  NonRetryableError,
  type ParamsCheck,
  type ToolCall,
  type ToolDescription,
} from '../execution/executor.js';
import { RemoteConnections, type RemoteConnectionsOptions, type RemoteServer, type RemoteToolInfo } from './remote.js';

/** Options of {@link McpExecutor}. */
export interface McpExecutorOptions extends RemoteConnectionsOptions {
  /** The remote MCP servers, by name. Tool names are `server.tool`, or a bare tool name that one server alone has. */
  servers: Record<string, RemoteServer>;
  /**
   * Time limit of one remote call besides the connector's own per-attempt timeout (which aborts the call).
   * @default no limit of its own
   */
  timeoutMs?: number;
}

/** A remote tool ran and answered `isError: true`. Retried only when the tool declares `idempotentHint`. */
export class RemoteToolError extends Error {
  /** The server's `CallToolResult`. */
  readonly result: unknown;
  constructor(message: string, result: unknown) {
    super(message);
    this.name = 'RemoteToolError';
    this.result = result;
  }
}

/**
 * Runs approved tool calls on remote MCP servers. It knows each server's tools (from `tools/list`):
 * unknown tools are `TOOL_NOT_FOUND`, params are checked against the tool's input schema (ajv), and
 * `readOnlyHint` / `idempotentHint` become `readOnly` (no approval needed by default) / `idempotent`.
 *
 * A tool that answers `isError: true` fails the attempt with its text; it is retried only when the
 * tool is idempotent. A lost connection (`REMOTE_ERROR`, `details.transport`) is retried, on a new
 * connection. The result of a successful call is its `structuredContent`, else its `content`.
 */
export class McpExecutor implements Executor {
  /** The underlying connections, for listing tools or calling them outside the approval flow. */
  readonly connections: RemoteConnections;
  private readonly timeoutMs: number | undefined;
  private readonly validator = new AjvJsonSchemaValidator();
  /** Descriptions (and their compiled validators) by the tool info they were made from. */
  private readonly described = new WeakMap<RemoteToolInfo, ToolDescription>();

  constructor(options: McpExecutorOptions) {
    const { servers, timeoutMs, ...rest } = options;
    this.connections = new RemoteConnections(servers, rest);
    this.timeoutMs = timeoutMs;
  }

  /**
   * Splits a tool name into server and tool: `server.tool` when `server` is configured (the longest
   * such prefix wins), else the one server that lists a tool of that name. Undefined when none does.
   */
  async resolve(name: string, signal?: AbortSignal): Promise<{ server: string; tool: string } | undefined> {
    const servers = this.connections.names();
    const prefix = servers
      .filter((s) => name.startsWith(`${s}.`) && name.length > s.length + 1)
      .sort((a, b) => b.length - a.length)[0];
    if (prefix !== undefined) return { server: prefix, tool: name.slice(prefix.length + 1) };

    const opts = signal ? { signal } : {};
    const found = await Promise.allSettled(servers.map((s) => this.connections.describeTool(s, name, opts)));
    const holders = servers.filter((_, i) => {
      const r = found[i]!;
      return r.status === 'fulfilled' && r.value !== undefined;
    });
    if (holders.length === 1) return { server: holders[0]!, tool: name };
    if (holders.length > 1) {
      throw new OrchestrationError(
        'TOOL_NOT_FOUND',
        `Tool '${name}' exists on several servers (${holders.join(', ')}). Name it as '${holders[0]}.${name}'.`,
        { tool: name, candidates: holders.map((s) => `${s}.${name}`) },
      );
    }
    // Not found anywhere reachable: an unreachable server might have it, so say that instead.
    const failure = found.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    return undefined;
  }

  async describe(tool: string): Promise<ToolDescription | undefined> {
    const target = await this.resolve(tool);
    if (target === undefined) return undefined;
    const info = await this.connections.describeTool(target.server, target.tool);
    if (info === undefined) return undefined;
    let description = this.described.get(info);
    if (description === undefined) {
      description = this.toDescription(tool, info);
      this.described.set(info, description);
    }
    return description.name === tool ? description : { ...description, name: tool };
  }

  async execute(call: ToolCall, ctx: ExecutionContext): Promise<unknown> {
    const target = await this.resolve(call.tool, ctx.signal);
    if (target === undefined) {
      throw new OrchestrationError('TOOL_NOT_FOUND', `No remote server has a tool '${call.tool}'.`, {
        tool: call.tool,
        servers: this.connections.names(),
      });
    }
    const result = await this.connections.callTool(target.server, target.tool, call.params, {
      signal: ctx.signal,
      ...(this.timeoutMs !== undefined ? { timeoutMs: this.timeoutMs } : {}),
    });
    if (result.isError === true) {
      const info = await this.connections.describeTool(target.server, target.tool).catch(() => undefined);
      const message = `Remote tool '${target.server}.${target.tool}' failed: ${resultText(result.content) || 'no message'}`;
      if (info?.annotations?.idempotentHint === true) throw new RemoteToolError(message, result);
      throw new NonRetryableError(message, { cause: new RemoteToolError(message, result) });
    }
    return result.structuredContent ?? result.content;
  }

  async close(): Promise<void> {
    await this.connections.close();
  }

  private toDescription(name: string, info: RemoteToolInfo): ToolDescription {
    const hints = info.annotations ?? {};
    const description: ToolDescription = {
      name,
      inputSchema: info.inputSchema,
      ...(info.description !== undefined ? { description: info.description } : {}),
      ...(typeof hints.readOnlyHint === 'boolean' ? { readOnly: hints.readOnlyHint } : {}),
      ...(typeof hints.idempotentHint === 'boolean' ? { idempotent: hints.idempotentHint } : {}),
    };
    const validate = this.compile(info.inputSchema);
    if (validate !== undefined) description.validate = validate;
    return description;
  }

  private compile(schema: Record<string, unknown>): ToolDescription['validate'] {
    let check: ReturnType<AjvJsonSchemaValidator['getValidator']>;
    try {
      check = this.validator.getValidator(schema as JsonSchemaType);
    } catch {
      // A schema ajv cannot compile (an unknown draft, a broken $ref) leaves the params unchecked here;
      // the remote server still checks them.
      return undefined;
    }
    return (params): ParamsCheck => {
      const r = check(params);
      return r.valid ? { success: true, params } : { success: false, issues: ajvIssues(r.errorMessage) };
    };
  }
}

/** Turns ajv's `errorsText` ("data/a must be number, data must have required property 'b'") into issues. */
function ajvIssues(text: string): Array<{ path: Array<string | number>; message: string }> {
  return text.split(/, (?=data[/ ])/).map((part) => {
    const m = /^data(\S*) (.*)$/s.exec(part);
    if (m === null) return { path: [], message: part };
    const path = m[1]!
      .split('/')
      .filter((p) => p !== '')
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replaceAll('~1', '/').replaceAll('~0', '~')));
    return { path, message: m[2]! };
  });
}

/** The text parts of a tool result, joined. */
function resultText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .filter((c): c is { type: 'text'; text: string } => c?.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n')
    .slice(0, 2000);
}
