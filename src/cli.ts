#!/usr/bin/env node
/**
 * The `orchestration-connector` bin: serves a connector to agents over MCP (stdio by default, or
 * Streamable HTTP on loopback). stdout belongs to the stdio transport: everything else goes to stderr.
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ConnectorConfig } from './config.js';
import { OrchestrationConnector } from './connector.js';
import { isOrchestrationError } from './errors.js';
import type { ToolDefinition } from './execution/executor.js';
import type { McpToolName } from './mcp/tools.js';
import type { Store } from './stores/store.js';

const USAGE = `Usage: orchestration-connector serve [options]

Serves the approval gate to AI agents over MCP: stdio by default, or Streamable HTTP.

Options:
  --http PORT       serve Streamable HTTP on PORT (0 picks a free port) at /mcp instead of stdio
  --host HOST       interface for --http (default 127.0.0.1)
  --store STORE     memory (default) | sqlite:PATH | postgres:URL
  --tools MODULE    a module whose default or \`tools\` export is a Record<string, ToolDefinition>
  --actor ID        act as this actor only (created as role 'agent' when missing); agents cannot
                    act as anyone else, so they cannot approve their own proposals
  --expose LIST     comma-separated methods to expose (default: all but reviewAction,
                    reviewProposal, updatePolicy, clearAllData)
  -h, --help        show this help

Environment:
  ORCHESTRATION_CONNECTOR_TOKEN   with --http, every request must carry it as
                    "Authorization: Bearer <token>" (at least 32 characters, e.g.
                    node -e "console.log(crypto.randomBytes(32).toString('base64url'))");
                    without it the HTTP endpoint is not authenticated

Examples:
  npx orchestration-connector serve --store sqlite:./approvals.db --actor agent_1
  npx orchestration-connector serve --http 3000 --tools ./tools.js
`;

const log = (message: string) => process.stderr.write(`[orchestration-connector] ${message}\n`);

class UsageError extends Error {}

async function openStore(spec: string): Promise<Store | undefined> {
  if (spec === 'memory') return undefined;
  if (spec.startsWith('sqlite:')) {
    const filename = spec.slice('sqlite:'.length);
    if (filename === '') throw new UsageError('--store sqlite:PATH needs a path (or :memory:).');
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore({ filename });
  }
  if (spec.startsWith('postgres:') || spec.startsWith('postgresql:')) {
    // Both `postgres:postgres://...` and a bare `postgres://...` URL are accepted.
    const connectionString = /^postgres(ql)?:\/\//.test(spec) ? spec : spec.slice(spec.indexOf(':') + 1);
    const { PostgresStore } = await import('./postgres.js');
    return new PostgresStore({ connectionString });
  }
  throw new UsageError(`Unknown --store '${spec}'. Use memory, sqlite:PATH or postgres:URL.`);
}

async function loadTools(specifier: string): Promise<Record<string, ToolDefinition>> {
  const path = resolve(process.cwd(), specifier);
  const mod = (await import(existsSync(path) ? pathToFileURL(path).href : specifier)) as {
    default?: unknown;
    tools?: unknown;
  };
  const tools = mod.tools ?? mod.default;
  if (typeof tools !== 'object' || tools === null || Array.isArray(tools)) {
    throw new UsageError(`--tools ${specifier}: export \`tools\` (or a default export) as { name: { handler } }.`);
  }
  return tools as Record<string, ToolDefinition>;
}

async function ensureActor(connector: OrchestrationConnector, id: string): Promise<void> {
  try {
    await connector.getActor({ id });
  } catch (err) {
    if (!isOrchestrationError(err, 'NOT_FOUND')) throw err;
    await connector.createActor({ id, name: id, role: 'agent' });
    log(`created actor '${id}' (role agent)`);
  }
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      http: { type: 'string' },
      host: { type: 'string' },
      store: { type: 'string' },
      tools: { type: 'string' },
      actor: { type: 'string' },
      expose: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = values.http === undefined ? undefined : Number(values.http);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new UsageError(`--http needs a port number, not '${values.http}'.`);
  }
  if (values.host !== undefined && port === undefined) throw new UsageError('--host only applies with --http.');
  // From the environment, not an argument: other users can read a process's arguments.
  const authToken = port === undefined ? undefined : process.env.ORCHESTRATION_CONNECTOR_TOKEN || undefined;
  if (authToken !== undefined) {
    const { checkAuthToken } = await import('./mcp/http.js');
    try {
      checkAuthToken(authToken);
    } catch (err) {
      throw new UsageError(`ORCHESTRATION_CONNECTOR_TOKEN: ${(err as Error).message}`);
    }
  }

  // Optional peers load only here, so that a missing one is reported plainly (see main()).
  const { createMcpServer } = await import('./mcp/server.js');
  const config: ConnectorConfig = {};
  const store = await openStore(values.store ?? 'memory');
  if (store !== undefined) config.store = store;
  if (values.tools !== undefined) config.tools = await loadTools(values.tools);
  const connector = new OrchestrationConnector(config);
  if (values.actor !== undefined) await ensureActor(connector, values.actor);

  const options = {
    ...(values.actor !== undefined ? { actorId: values.actor } : {}),
    ...(values.expose !== undefined ? { tools: values.expose.split(',').map((t) => t.trim()) as McpToolName[] } : {}),
  };
  // Fail on bad options now, not at the first client.
  createMcpServer(connector, options);

  let stop: () => Promise<void> = async () => {};
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    await stop().catch((err: unknown) => log(`closing the transport failed: ${String(err)}`));
    await connector.close().catch((err: unknown) => log(`closing the connector failed: ${String(err)}`));
    process.exit(0);
  };
  if (port === undefined) {
    const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
    const server = createMcpServer(connector, options);
    await server.connect(new StdioServerTransport());
    // The client went away: nothing more will come.
    process.stdin.once('end', () => void shutdown('stdin closed'));
    stop = () => server.close();
    log(`serving MCP on stdio (store: ${values.store ?? 'memory'})`);
  } else {
    const host = values.host ?? '127.0.0.1';
    if (authToken === undefined && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
      log(
        `warning: listening on ${host}, beyond loopback, without ORCHESTRATION_CONNECTOR_TOKEN; anyone who reaches it can call the exposed tools`,
      );
    }
    const { serveMcpHttp } = await import('./mcp/http.js');
    const http = await serveMcpHttp(() => createMcpServer(connector, options), {
      host,
      port,
      ...(authToken !== undefined ? { authToken } : {}),
    });
    stop = () => http.close();
    log(
      `serving MCP on ${http.url} (store: ${values.store ?? 'memory'}; ${authToken !== undefined ? 'bearer token required' : 'no authentication'})`,
    );
  }

  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? process.stderr : process.stdout).write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`Unknown command '${command}'.\n\n${USAGE}`);
    return 2;
  }
  try {
    await serve(rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || String((err as { code?: unknown })?.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if ((err as { code?: unknown })?.code === 'ERR_MODULE_NOT_FOUND') {
      log(
        `error: ${(err as Error).message}\nThe bin needs @modelcontextprotocol/sdk, plus better-sqlite3 for sqlite: ` +
          'stores and pg for postgres: stores. Install them next to orchestration-connector, or run ' +
          'npx -p orchestration-connector -p @modelcontextprotocol/sdk orchestration-connector serve',
      );
      return 1;
    }
    log(
      `error: ${isOrchestrationError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`,
    );
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    log(`fatal: ${String(err)}`);
    process.exit(1);
  },
);
