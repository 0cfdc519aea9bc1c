import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { call, cliCommand, errorCode, type Started, startProcess, TOOLS_FIXTURE, tempDir } from './helpers.js';

const clients: Client[] = [];
const processes: Started[] = [];
const cleanups: Array<() => void> = [];

async function stdioClient(args: string[]): Promise<Client> {
  const { command, args: argv, cwd } = cliCommand(args);
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args: argv, cwd, stderr: 'ignore' }));
  clients.push(client);
  return client;
}

async function startHttp(args: string[] = [], env: Record<string, string> = {}): Promise<Started & { url: string }> {
  const { command, args: argv } = cliCommand(['--http', '0', ...args]);
  const started = await startProcess(command, argv, /serving MCP on (http:\S+)/, env);
  processes.push(started);
  return { ...started, url: started.match[1]! };
}

async function httpClient(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
};

/** A POST with exactly these headers: node:http, not fetch, since fetch does not let a caller set Host. */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: unknown = INIT,
): Promise<{ status: number; session: string | undefined; authenticate: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        res.resume();
        const session = res.headers['mcp-session-id'];
        resolve({
          status: res.statusCode ?? 0,
          session: typeof session === 'string' ? session : undefined,
          authenticate: res.headers['www-authenticate'],
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(processes.splice(0).map((p) => p.stop()));
  for (const c of cleanups.splice(0)) c();
});

describe('orchestration-connector serve (stdio)', () => {
  it('serves the default tools to an agent bound with --actor', async () => {
    const client = await stdioClient(['--actor', 'agent_1', '--tools', TOOLS_FIXTURE]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('proposeAction');
    expect(tools.map((t) => t.name)).not.toContain('reviewAction');

    const pending = await call(client, 'proposeAction', {
      tool: 'send_email',
      params: { to: 'a@example.com', subject: 'hi' },
      reason: 'say hi',
    });
    expect(pending.structuredContent).toMatchObject({ actorId: 'agent_1', status: 'pending' });
    const lookup = await call(client, 'proposeAction', { tool: 'lookup', params: { word: 'abc' }, reason: 'look' });
    expect(lookup.structuredContent).toMatchObject({ status: 'approved' });
    const run = await call(client, 'executeAction', { proposal_id: lookup.structuredContent!.id as string });
    expect(run.structuredContent).toMatchObject({ success: true, result: { word: 'abc', length: 3 } });
    expect(errorCode(await call(client, 'proposeAction', { actor_id: 'x', tool: 'lookup', reason: 'r' }))).toBe(
      'FORBIDDEN',
    );
  });

  it('keeps state in a SQLite store across runs', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const store = `sqlite:${join(tmp.dir, 'approvals.db')}`;
    const first = await stdioClient(['--store', store, '--actor', 'agent_1', '--tools', TOOLS_FIXTURE]);
    const proposed = await call(first, 'proposeAction', {
      tool: 'send_email',
      params: { to: 'a@example.com', subject: 'later' },
      reason: 'later',
    });
    expect(proposed.isError, JSON.stringify(proposed.content)).toBeFalsy();
    await first.close();

    const second = await stdioClient(['--store', store, '--tools', TOOLS_FIXTURE]);
    const found = await call(second, 'getActionProposal', { id: proposed.structuredContent!.id as string });
    expect(found.structuredContent).toMatchObject({ actorId: 'agent_1', status: 'pending' });
  });

  it('--expose chooses the tools; --help and bad options exit without serving', () => {
    const help = spawnSync(cliCommand(['--help']).command, cliCommand(['--help']).args, { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: orchestration-connector serve/);
    const bad = cliCommand(['--store', 'redis:x']);
    const badRun = spawnSync(bad.command, bad.args, { encoding: 'utf8' });
    expect(badRun.status).toBe(2);
    expect(badRun.stderr).toMatch(/Unknown --store/);
    const badExpose = cliCommand(['--expose', 'nope']);
    const exposeRun = spawnSync(badExpose.command, badExpose.args, { encoding: 'utf8', input: '' });
    expect(exposeRun.status).toBe(1);
    expect(exposeRun.stderr).toMatch(/INVALID_INPUT: Unknown tools: nope/);
  });
});

describe('orchestration-connector serve --http', () => {
  it('serves Streamable HTTP sessions on loopback that share one connector', async () => {
    const server = await startHttp(['--tools', TOOLS_FIXTURE]);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const a = await httpClient(server.url);
    const b = await httpClient(server.url);
    await call(a, 'createActor', { id: 'agent_1', name: 'Agent', role: 'agent' });
    const proposed = await call(a, 'proposeAction', { actor_id: 'agent_1', tool: 'lookup', reason: 'r' });
    const seen = await call(b, 'getActionProposal', { id: proposed.structuredContent!.id as string });
    expect(seen.structuredContent).toMatchObject({ status: 'approved' });
  });

  it('refuses foreign Host and Origin headers (DNS rebinding) and requests without a session', async () => {
    const server = await startHttp();
    const post = (headers: Record<string, string>, body: unknown = INIT) => rawPost(server.url, headers, body);
    expect((await post({ host: 'evil.example:80' })).status).toBe(403);
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({}, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(400);
    const ok = await post({ origin: 'http://localhost:5173' });
    expect(ok.status).toBe(200);
    expect(ok.session).toBeTruthy();
  });

  it('with ORCHESTRATION_CONNECTOR_TOKEN, answers only requests that carry it as a bearer token', async () => {
    const token = randomBytes(32).toString('base64url');
    const server = await startHttp(['--tools', TOOLS_FIXTURE], { ORCHESTRATION_CONNECTOR_TOKEN: token });
    expect(server.stderr()).toMatch(/bearer token required/);
    const none = await rawPost(server.url, {});
    expect(none.status).toBe(401);
    expect(none.authenticate).toMatch(/^Bearer /);
    expect(none.session).toBeUndefined();
    expect((await rawPost(server.url, { authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await rawPost(server.url, { authorization: `Basic ${token}` })).status).toBe(401);
    expect((await rawPost(server.url, { authorization: token })).status).toBe(401);
    const ok = await rawPost(server.url, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.session).toBeTruthy();
    // A session id alone is not enough: every request needs the token.
    const tools = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    expect((await rawPost(server.url, { 'mcp-session-id': ok.session! }, tools)).status).toBe(401);

    // A real MCP client: refused without the token, served with it.
    await expect(httpClient(server.url)).rejects.toThrow(/401|Unauthorized/);
    const agent = await httpClient(server.url, { Authorization: `Bearer ${token}` });
    const created = await call(agent, 'createActor', { id: 'agent_1', name: 'Agent', role: 'agent' });
    expect(created.isError).toBeFalsy();
  });

  it('refuses a weak ORCHESTRATION_CONNECTOR_TOKEN before opening anything', () => {
    const { dir, remove } = tempDir();
    cleanups.push(remove);
    const file = join(dir, 'never.db');
    const weak = cliCommand(['--http', '0', '--store', `sqlite:${file}`]);
    const run = spawnSync(weak.command, weak.args, {
      encoding: 'utf8',
      env: { ...process.env, ORCHESTRATION_CONNECTOR_TOKEN: 'secret' },
      timeout: 20_000, // a server that starts anyway would never exit
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/ORCHESTRATION_CONNECTOR_TOKEN: authToken must be at least 32 characters/);
    expect(existsSync(file)).toBe(false);
  });

  it('serveMcpHttp refuses an authToken that is short, not a token, or not a string with INVALID_INPUT', async () => {
    const { serveMcpHttp } = await import('../../src/mcp/http.js');
    const { OrchestrationConnector } = await import('../../src/index.js');
    const { createMcpServer } = await import('../../src/mcp/index.js');
    const connector = new OrchestrationConnector();
    cleanups.push(() => void connector.close());
    for (const authToken of ['a'.repeat(31), `${'a'.repeat(40)} b`, `${'a'.repeat(40)}\n`, 42 as never]) {
      await expect(serveMcpHttp(() => createMcpServer(connector), { authToken })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    }
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const server = await startHttp();
    await httpClient(server.url);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.stderr()).toMatch(/shutting down \(SIGTERM\)/);
  });
});
