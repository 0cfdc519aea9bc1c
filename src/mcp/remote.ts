import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type ToolAnnotations,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { RemoteServer } from '../config.js';
import { OrchestrationError } from '../errors.js';

export type { RemoteServer };

/** What a remote server says about one of its tools (from `tools/list`). */
export interface RemoteToolInfo {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  /** MCP hints: `readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`. */
  annotations?: ToolAnnotations;
}

/** Limits of one remote call. */
export interface RemoteCallOptions {
  /**
   * Time limit of the request; past it the call fails with `TIMEOUT` and the server is told to cancel.
   * @default 60000, or no limit besides `signal` when a signal is given
   */
  timeoutMs?: number;
  /** Aborts the request (the server is sent `notifications/cancelled`). */
  signal?: AbortSignal;
}

/** Options of {@link RemoteConnections}. */
export interface RemoteConnectionsOptions {
  /** Time limit of connecting and the MCP handshake. @default 30000 */
  connectTimeoutMs?: number;
  /** How this client introduces itself to servers. @default { name: 'orchestration-connector', version: '0.1.0' } */
  clientInfo?: { name: string; version: string };
}

/** The longest timer Node accepts: "no limit" for the SDK's per-request timeout. */
const NO_TIMEOUT = 2_147_483_647;
const DEFAULT_TIMEOUT_MS = 60_000;

interface Connection {
  client?: Client;
  connecting?: Promise<Client>;
  /** Survives reconnects; dropped on `notifications/tools/list_changed` or when a tool is missing. */
  tools?: Map<string, RemoteToolInfo>;
  listing?: Promise<Map<string, RemoteToolInfo>>;
}

/**
 * One MCP client per configured server, connected on first use, kept open, and opened again on the
 * next call after the connection dropped (transport closed, process exited). Streamable HTTP for
 * `{ url }` servers, stdio for `{ command }` servers. Every failure is an {@link OrchestrationError}:
 * `REMOTE_ERROR` (`details.transport: true` and `details.retryable: true` when the connection failed),
 * `TIMEOUT`, `TOOL_NOT_FOUND`, `FORBIDDEN` for a server that is not configured. A tool's own failure
 * (`isError: true`) is not thrown: the result says so and the caller decides.
 *
 * A stdio server is started with the SDK's safe default environment (PATH, HOME, USER, ...) plus its
 * `env`, not with all of this process's variables; its stderr goes to this process's stderr.
 */
export class RemoteConnections {
  private readonly servers: Record<string, RemoteServer>;
  private readonly connections = new Map<string, Connection>();
  private readonly connectTimeoutMs: number;
  private readonly clientInfo: { name: string; version: string };
  private closed = false;

  constructor(servers: Record<string, RemoteServer>, options: RemoteConnectionsOptions = {}) {
    for (const [name, spec] of Object.entries(servers)) {
      if ('url' in spec) {
        if (!URL.canParse(spec.url)) {
          throw new OrchestrationError('INVALID_INPUT', `Remote server '${name}' has an invalid url '${spec.url}'.`, {
            server: name,
          });
        }
      } else if (typeof spec?.command !== 'string' || spec.command.length === 0) {
        throw new OrchestrationError('INVALID_INPUT', `Remote server '${name}' needs a url or a command.`, {
          server: name,
        });
      }
    }
    this.servers = { ...servers };
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.clientInfo = options.clientInfo ?? { name: 'orchestration-connector', version: '0.1.0' };
  }

  /** Names of the configured servers. */
  names(): string[] {
    return Object.keys(this.servers);
  }

  /** The configured name of `serverOrUrl` (a name, or the exact url of a configured server); undefined if none. */
  resolve(serverOrUrl: string): string | undefined {
    if (Object.hasOwn(this.servers, serverOrUrl)) return serverOrUrl;
    return Object.entries(this.servers).find(([, spec]) => 'url' in spec && spec.url === serverOrUrl)?.[0];
  }

  /** The tools of a server, as it lists them (cached; `refresh` asks again). */
  async listTools(server: string, opts: RemoteCallOptions & { refresh?: boolean } = {}): Promise<RemoteToolInfo[]> {
    return [...(await this.toolMap(this.nameOf(server), opts)).values()];
  }

  /** One tool of a server, or undefined when the server does not list it. */
  async describeTool(server: string, tool: string, opts: RemoteCallOptions = {}): Promise<RemoteToolInfo | undefined> {
    const name = this.nameOf(server);
    const found = (await this.toolMap(name, opts)).get(tool);
    // The list may be older than the server's tools: ask once more before saying no.
    return found ?? (await this.toolMap(name, { ...opts, refresh: true })).get(tool);
  }

  /** Calls a tool. Resolves with the `CallToolResult`, `isError` results included. */
  async callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    opts: RemoteCallOptions = {},
  ): Promise<CallToolResult> {
    const name = this.nameOf(server);
    if ((await this.describeTool(name, tool, opts)) === undefined) {
      throw new OrchestrationError('TOOL_NOT_FOUND', `Remote server '${name}' has no tool '${tool}'.`, {
        server: name,
        tool,
      });
    }
    const client = await this.client(name, opts.signal);
    try {
      const result = await client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: opts.timeoutMs ?? (opts.signal ? NO_TIMEOUT : DEFAULT_TIMEOUT_MS),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return result as CallToolResult;
    } catch (err) {
      const error = toOrchestrationError(err, name, tool, 'call', opts);
      if (error.details.transport === true) await this.drop(name, client);
      throw error;
    }
  }

  /** Closes every connection (stdio servers are stopped). Later calls fail with `REMOTE_ERROR`. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.connections.values()].map(async (conn) => {
      const client = conn.client ?? (await conn.connecting?.catch(() => undefined));
      conn.client = undefined;
      await client?.close().catch(() => {});
    });
    await Promise.all(pending);
    this.connections.clear();
  }

  private nameOf(server: string): string {
    const name = this.resolve(server);
    if (name === undefined) {
      throw new OrchestrationError(
        'FORBIDDEN',
        `Remote server '${server}' is not configured. Add it to remoteServers (or McpExecutor servers) first.`,
        { server, configured: this.names() },
      );
    }
    return name;
  }

  private connection(name: string): Connection {
    let conn = this.connections.get(name);
    if (conn === undefined) {
      conn = {};
      this.connections.set(name, conn);
    }
    return conn;
  }

  private async toolMap(name: string, opts: RemoteCallOptions & { refresh?: boolean }) {
    const conn = this.connection(name);
    if (opts.refresh) conn.tools = undefined;
    if (conn.tools) return conn.tools;
    conn.listing ??= this.fetchTools(name, opts).finally(() => {
      conn.listing = undefined;
    });
    return await abortable(conn.listing, opts.signal);
  }

  private async fetchTools(name: string, opts: RemoteCallOptions): Promise<Map<string, RemoteToolInfo>> {
    const client = await this.client(name);
    const tools = new Map<string, RemoteToolInfo>();
    try {
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, {
          timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        });
        for (const t of page.tools) {
          tools.set(t.name, {
            name: t.name,
            inputSchema: t.inputSchema as Record<string, unknown>,
            ...(t.description !== undefined ? { description: t.description } : {}),
            ...(t.outputSchema !== undefined ? { outputSchema: t.outputSchema as Record<string, unknown> } : {}),
            ...(t.annotations !== undefined ? { annotations: t.annotations } : {}),
          });
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    } catch (err) {
      const error = toOrchestrationError(err, name, undefined, 'list', opts);
      if (error.details.transport === true) await this.drop(name, client);
      throw error;
    }
    this.connection(name).tools = tools;
    return tools;
  }

  /** The live client of a server, connecting (once, shared by concurrent callers) when there is none. */
  private async client(name: string, signal?: AbortSignal): Promise<Client> {
    if (this.closed) {
      throw new OrchestrationError('REMOTE_ERROR', 'The remote connections are closed.', {
        server: name,
        retryable: false,
      });
    }
    const conn = this.connection(name);
    if (conn.client) return conn.client;
    conn.connecting ??= this.open(name, conn).finally(() => {
      conn.connecting = undefined;
    });
    return await abortable(conn.connecting, signal);
  }

  private async open(name: string, conn: Connection): Promise<Client> {
    const spec = this.servers[name]!;
    const transport: Transport =
      'url' in spec
        ? new StreamableHTTPClientTransport(new URL(spec.url), {
            ...(spec.headers ? { requestInit: { headers: spec.headers } } : {}),
          })
        : new StdioClientTransport({
            command: spec.command,
            ...(spec.args ? { args: spec.args } : {}),
            ...(spec.env ? { env: spec.env } : {}),
            ...(spec.cwd ? { cwd: spec.cwd } : {}),
            // The server's log goes where ours goes: stdout may be an MCP transport of our own.
            stderr: 'inherit',
          });
    const client = new Client(this.clientInfo, { capabilities: {} });
    client.onclose = () => {
      if (conn.client === client) conn.client = undefined;
    };
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      conn.tools = undefined;
    });
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
    } catch (err) {
      await client.close().catch(() => {});
      throw toOrchestrationError(err, name, undefined, 'connect', { timeoutMs: this.connectTimeoutMs });
    }
    if (this.closed) {
      await client.close().catch(() => {});
      throw new OrchestrationError('REMOTE_ERROR', 'The remote connections are closed.', {
        server: name,
        retryable: false,
      });
    }
    conn.client = client;
    return client;
  }

  /** Forgets a broken client so that the next call opens a new connection. */
  private async drop(name: string, client: Client): Promise<void> {
    const conn = this.connection(name);
    if (conn.client === client) conn.client = undefined;
    await client.close().catch(() => {});
  }
}

/** Waits for `promise`, or rejects with the signal's reason when it aborts first. */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

type Phase = 'connect' | 'list' | 'call';

/** Maps whatever the SDK or the transport threw to an {@link OrchestrationError}. */
function toOrchestrationError(
  err: unknown,
  server: string,
  tool: string | undefined,
  phase: Phase,
  opts: RemoteCallOptions = {},
): OrchestrationError {
  if (err instanceof OrchestrationError) return err;
  const where = tool === undefined ? `remote server '${server}'` : `tool '${tool}' on remote server '${server}'`;
  const base = { server, ...(tool !== undefined ? { tool } : {}), phase };
  const message = err instanceof Error ? err.message : String(err);
  if (opts.signal?.aborted) {
    const reason: unknown = opts.signal.reason;
    if (reason instanceof OrchestrationError) return reason;
    const name = reason instanceof Error ? reason.name : '';
    if (name === 'TimeoutError' || name === 'AttemptTimeout') {
      return new OrchestrationError(
        'TIMEOUT',
        `The call to ${where} timed out.`,
        { ...base, aborted: true },
        { cause: reason },
      );
    }
    return new OrchestrationError(
      'REMOTE_ERROR',
      `The call to ${where} was aborted.`,
      { ...base, aborted: true, retryable: false },
      { cause: reason },
    );
  }
  if (err instanceof McpError) {
    switch (err.code) {
      case ErrorCode.RequestTimeout:
        return new OrchestrationError(
          'TIMEOUT',
          `No answer from ${where} within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms.`,
          { ...base, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS },
          { cause: err },
        );
      case ErrorCode.ConnectionClosed:
        return transportError(where, base, err);
      case ErrorCode.InvalidParams:
        if (/not found|unknown tool/i.test(message) && tool !== undefined) {
          return new OrchestrationError('TOOL_NOT_FOUND', `Remote server '${server}' has no tool '${tool}'.`, base, {
            cause: err,
          });
        }
        if (!/structured content|output schema/i.test(message)) {
          return new OrchestrationError('INVALID_PARAMS', `${where} refused the arguments: ${message}`, {
            ...base,
            issues: [{ path: [], message }],
          });
        }
        break;
    }
    return new OrchestrationError(
      'REMOTE_ERROR',
      `${where} answered with an error: ${message}`,
      { ...base, mcpCode: err.code, retryable: false },
      { cause: err },
    );
  }
  return transportError(where, base, err);
}

function transportError(where: string, base: Record<string, unknown>, err: unknown): OrchestrationError {
  const message = err instanceof Error ? err.message : String(err);
  return new OrchestrationError(
    'REMOTE_ERROR',
    `Could not reach ${where}: ${message}. The connection is opened again on the next call.`,
    { ...base, transport: true, retryable: true },
    { cause: err },
  );
}
