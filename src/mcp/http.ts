import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { OrchestrationError } from '../errors.js';

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
  /**
   * A shared secret every request must carry as `Authorization: Bearer <token>`; others get 401 before their
   * body is read. At least 32 characters of `A-Z a-z 0-9 - . _ ~ + / =` (e.g. `randomBytes(32).toString('base64url')`).
   * Without it anyone who can reach the port can call the exposed tools.
   */
  authToken?: string;
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
 * rebinding. With `authToken`, requests must also carry it as a bearer token; without it there is no
 * authentication: bind to loopback, or put it behind something that authenticates.
 */
export async function serveMcpHttp(makeServer: () => McpServer, options: McpHttpOptions = {}): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/mcp';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const hostName = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const allowed = new Set(options.allowedHosts ?? (LOOPBACK.includes(hostName) ? LOOPBACK : [...LOOPBACK, hostName]));
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const authorized = bearerCheck(options.authToken);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) return reply(res, 404, 'Not found');
    if (!hostAllowed(req.headers.host, allowed)) return reply(res, 403, `Invalid Host header: ${req.headers.host}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !hostAllowed(urlHost(origin), allowed)) {
      return reply(res, 403, `Invalid Origin header: ${origin}`);
    }
    if (!authorized(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="orchestration-connector"');
      return reply(res, 401, 'Unauthorized: send the server\'s token as "Authorization: Bearer <token>".');
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

const MIN_TOKEN_LENGTH = 32;
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Throws `INVALID_INPUT` unless `token` is fit to be an `authToken`. */
export function checkAuthToken(token: unknown): void {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || !TOKEN_CHARS.test(token)) {
    throw new OrchestrationError(
      'INVALID_INPUT',
      `authToken must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then =), ` +
        "e.g. randomBytes(32).toString('base64url').",
      { minLength: MIN_TOKEN_LENGTH },
    );
  }
}

/** Whether an `Authorization` header carries the token; compared in constant time. Always true without one. */
function bearerCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true;
  checkAuthToken(token);
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const expected = digest(token);
  return (header) => {
    const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    return match !== null && timingSafeEqual(digest(match[1]!), expected);
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
