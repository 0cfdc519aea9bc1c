import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

/** Options of {@link serveMcpHttp}. */
export interface McpHttpOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Path of the MCP endpoint. @default '/mcp' */
  path?: string;
  /**
   * Host names (without port) accepted in the `Host` and `Origin` headers, against DNS rebinding.
   * @default ['127.0.0.1', 'localhost', '[::1]'], plus `host` when it is not a loopback name
   */
  allowedHosts?: string[];
  /** Largest accepted request body. @default 4 MiB */
  maxBodyBytes?: number;
}

/** A running Streamable HTTP endpoint. */
export interface McpHttpServer {
  /** The endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  url: string;
  port: number;
  /** Closes every session and stops listening. */
  close(): Promise<void>;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Serves MCP over Streamable HTTP with stateful sessions: each `initialize` opens a session with its own
 * server from `makeServer()` (they may share one connector). Requests whose `Host` or `Origin` names
 * another host are refused with 403, which keeps web pages from reaching a loopback server through DNS
 * rebinding. There is no authentication: bind to loopback, or put it behind something that authenticates.
 */
export async function serveMcpHttp(makeServer: () => McpServer, options: McpHttpOptions = {}): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/mcp';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const hostName = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const allowed = new Set(options.allowedHosts ?? (LOOPBACK.includes(hostName) ? LOOPBACK : [...LOOPBACK, hostName]));
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) return reply(res, 404, 'Not found');
    if (!hostAllowed(req.headers.host, allowed)) return reply(res, 403, `Invalid Host header: ${req.headers.host}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !hostAllowed(urlHost(origin), allowed)) {
      return reply(res, 403, `Invalid Origin header: ${origin}`);
    }
    const body = req.method === 'POST' ? await readJson(req, maxBody) : undefined;
    if (body instanceof HttpError) return reply(res, body.status, body.message);
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const transport = sessions.get(sid);
      if (transport === undefined) return reply(res, 404, 'Session not found. Initialize a new session.');
      return await transport.handleRequest(req, res, body);
    }
    const initializes = Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
    if (req.method !== 'POST' || !initializes) {
      return reply(res, 400, 'No mcp-session-id header: send an initialize request first.');
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await makeServer().connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, err instanceof Error ? err.message : 'Internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://${hostName}:${port}${path}`,
    port,
    async close() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      sessions.clear();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return new HttpError(413, `Request body over ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return new HttpError(400, 'Parse error: the body is not JSON.');
  }
}

function urlHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** Whether a `host[:port]` names an allowed host, whatever the port. */
function hostAllowed(hostHeader: string | undefined, allowed: Set<string>): boolean {
  if (hostHeader === undefined || hostHeader === '') return false;
  try {
    return allowed.has(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return false;
  }
}

/** A JSON-RPC error response without id, as the SDK sends for transport-level refusals. */
function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: status === 500 ? -32603 : -32000, message }, id: null }));
}
