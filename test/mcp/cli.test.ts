import { spawnSync } from 'node:child_process';
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

async function startHttp(args: string[] = []): Promise<Started & { url: string }> {
  const { command, args: argv } = cliCommand(['--http', '0', ...args]);
  const started = await startProcess(command, argv, /serving MCP on (http:\S+)/);
  processes.push(started);
  return { ...started, url: started.match[1]! };
}

async function httpClient(url: string): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  clients.push(client);
  return client;
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
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    // node:http, not fetch: fetch does not let a caller set Host.
    const post = (headers: Record<string, string>, body: unknown = init) =>
      new Promise<{ status: number; session: string | undefined }>((resolve, reject) => {
        const req = request(
          server.url,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
          },
          (res) => {
            res.resume();
            const session = res.headers['mcp-session-id'];
            resolve({ status: res.statusCode ?? 0, session: typeof session === 'string' ? session : undefined });
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    expect((await post({ host: 'evil.example:80' })).status).toBe(403);
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({}, { jsonrpc: '2.0', id: 2, method: 'tools/list' })).status).toBe(400);
    const ok = await post({ origin: 'http://localhost:5173' });
    expect(ok.status).toBe(200);
    expect(ok.session).toBeTruthy();
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const server = await startHttp();
    await httpClient(server.url);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.stderr()).toMatch(/shutting down \(SIGTERM\)/);
  });
});
