import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isOrchestrationError, type OrchestrationError } from '../../src/index.js';
import { RemoteConnections } from '../../src/mcp/index.js';
import { fixtureServer, REMOTE_FIXTURE, type Started, startProcess, tempDir } from './helpers.js';

const open: RemoteConnections[] = [];
const processes: Started[] = [];
const cleanups: Array<() => void> = [];

function connections(servers: ConstructorParameters<typeof RemoteConnections>[0]): RemoteConnections {
  const c = new RemoteConnections(servers);
  open.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<OrchestrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isOrchestrationError(err)) throw new Error(`expected an OrchestrationError, got ${String(err)}`);
  return err;
}

async function startHttpFixture(port = 0): Promise<Started & { url: string }> {
  const started = await startProcess(process.execPath, [REMOTE_FIXTURE, '--http'], /LISTENING (\S+)/, {
    PORT: String(port),
  });
  processes.push(started);
  return { ...started, url: started.match[1]! };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await Promise.all(processes.splice(0).map((p) => p.stop()));
  for (const c of cleanups.splice(0)) c();
});

describe('RemoteConnections over stdio', () => {
  it('lists tools with their schemas and annotations, and calls one', async () => {
    const remote = connections({ fx: fixtureServer() });
    const tools = await remote.listTools('fx');
    const echo = tools.find((t) => t.name === 'echo')!;
    expect(echo.annotations?.readOnlyHint).toBe(true);
    expect(echo.inputSchema).toMatchObject({ type: 'object', required: ['message'] });
    const result = await remote.callTool('fx', 'echo', { message: 'hi' });
    expect(result.structuredContent).toMatchObject({ message: 'hi' });
  });

  it('keeps one connection open across calls', async () => {
    const remote = connections({ fx: fixtureServer() });
    const first = await remote.callTool('fx', 'pid', {});
    const second = await remote.callTool('fx', 'pid', {});
    expect(second.structuredContent).toEqual(first.structuredContent);
  });

  it('unknown tool is TOOL_NOT_FOUND; unknown server is FORBIDDEN', async () => {
    const remote = connections({ fx: fixtureServer() });
    expect((await rejection(remote.callTool('fx', 'nope', {}))).code).toBe('TOOL_NOT_FOUND');
    expect((await rejection(remote.callTool('other', 'echo', {}))).code).toBe('FORBIDDEN');
    expect(await remote.describeTool('fx', 'nope')).toBeUndefined();
  });

  it('returns isError results for the caller to judge', async () => {
    const remote = connections({ fx: fixtureServer({ FLAKY_FAILS: '1' }) });
    const failed = await remote.callTool('fx', 'flaky', {});
    expect(failed.isError).toBe(true);
    expect((await remote.callTool('fx', 'flaky', {})).isError).toBeFalsy();
  });

  it('a call past its timeout is TIMEOUT, and the connection stays usable', async () => {
    const remote = connections({ fx: fixtureServer() });
    const err = await rejection(remote.callTool('fx', 'slow', { ms: 5000 }, { timeoutMs: 200 }));
    expect(err.code).toBe('TIMEOUT');
    const aborted = await rejection(remote.callTool('fx', 'slow', { ms: 5000 }, { signal: AbortSignal.timeout(200) }));
    expect(aborted.code).toBe('TIMEOUT');
    expect((await remote.callTool('fx', 'echo', { message: 'still here' })).structuredContent).toMatchObject({
      message: 'still here',
    });
  });

  it('a server that dies mid-call is a retryable transport error; the next call reconnects', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const remote = connections({ fx: fixtureServer({ CRASH_MARKER: join(tmp.dir, 'crashed') }) });
    const before = (await remote.callTool('fx', 'pid', {})).structuredContent as { pid: number };
    const err = await rejection(remote.callTool('fx', 'crash', {}));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.details).toMatchObject({ transport: true, retryable: true, server: 'fx', tool: 'crash' });
    const after = (await remote.callTool('fx', 'crash', {})).structuredContent as { pid: number };
    expect(after.pid).not.toBe(before.pid);
  });

  it('a command that cannot start is a transport error', async () => {
    const remote = connections({ gone: { command: join(tempDir().dir, 'no-such-binary') } });
    const err = await rejection(remote.listTools('gone'));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.details.transport).toBe(true);
  });
});

describe('RemoteConnections over Streamable HTTP', () => {
  it('calls a url server, resolves it by url, and reconnects after the server restarts', async () => {
    const server = await startHttpFixture();
    const remote = connections({ web: { url: server.url } });
    expect(remote.resolve(server.url)).toBe('web');
    const first = (await remote.callTool(server.url, 'pid', {})).structuredContent as { pid: number };
    expect(first.pid).toBe(server.child.pid);

    await server.stop();
    const down = await rejection(remote.callTool('web', 'pid', {}));
    expect(down.code).toBe('REMOTE_ERROR');
    expect(down.details.transport).toBe(true);

    const restarted = await startHttpFixture(Number(new URL(server.url).port));
    const again = (await remote.callTool('web', 'pid', {})).structuredContent as { pid: number };
    expect(again.pid).toBe(restarted.child.pid);
  });
});
