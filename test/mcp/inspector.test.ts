import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommand, ROOT, startProcess, TOOLS_FIXTURE, tempDir } from './helpers.js';

// The official MCP Inspector's CLI mode, as a third-party client of the bin over stdio.
const INSPECTOR = join(ROOT, 'node_modules/.bin/mcp-inspector');
const tmp = tempDir();
afterAll(() => tmp.remove());

/** The inspector against the bin over stdio, started with `serveArgs`. */
function inspect(
  serveArgs: string[],
  inspectorArgs: string[],
): Promise<{ code: number; json: Record<string, unknown> }> {
  const { command, args } = cliCommand(serveArgs);
  return runInspector([command, ...args], inspectorArgs);
}

/** The inspector against `target` (a command and its arguments, or a URL); its exit code and JSON output. */
function runInspector(
  target: string[],
  inspectorArgs: string[],
): Promise<{ code: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    execFile(
      INSPECTOR,
      ['--cli', ...target, ...inspectorArgs],
      // A catalog of our own: the inspector would otherwise write ~/.mcp-inspector.
      { cwd: ROOT, env: { ...process.env, MCP_CATALOG_PATH: join(tmp.dir, 'catalog.json') }, timeout: 30_000 },
      (err, stdout, stderr) => {
        try {
          resolve({ code: typeof err?.code === 'number' ? err.code : 0, json: JSON.parse(stdout) });
        } catch {
          if (err !== null && typeof err.code === 'number') return resolve({ code: err.code, json: {} });
          reject(new Error(`inspector printed no JSON (${String(err)}): ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe.runIf(existsSync(INSPECTOR))('MCP Inspector CLI against the bin', () => {
  it('lists the tools', async () => {
    const { code, json } = await inspect(['--actor', 'agent_1'], ['--method', 'tools/list']);
    expect(code).toBe(0);
    const names = (json.tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toContain('proposeAction');
    expect(names).toContain('waitForDecision');
    expect(names).not.toContain('reviewAction');
  });

  it('runs proposeAction with --tool-arg', async () => {
    const { code, json } = await inspect(
      ['--actor', 'agent_1', '--tools', TOOLS_FIXTURE],
      [
        '--method',
        'tools/call',
        '--tool-name',
        'proposeAction',
        '--tool-arg',
        'tool=send_email',
        'params={"to":"a@example.com","subject":"hi"}',
        'reason=inspector test',
      ],
    );
    expect(code).toBe(0);
    expect(json.structuredContent).toMatchObject({
      actorId: 'agent_1',
      tool: 'send_email',
      status: 'pending',
      params: { to: 'a@example.com', subject: 'hi' },
    });
  });

  it('reaches the bin over HTTP with its bearer token, and is refused without it', async () => {
    const token = randomBytes(32).toString('base64url');
    const { command, args } = cliCommand(['--http', '0', '--actor', 'agent_1']);
    const server = await startProcess(command, args, /serving MCP on (http:\S+)/, {
      ORCHESTRATION_CONNECTOR_TOKEN: token,
    });
    try {
      const url = server.match[1]!;
      const listed = await runInspector(
        [url],
        ['--transport', 'http', '--header', `Authorization: Bearer ${token}`, '--method', 'tools/list'],
      );
      expect(listed.code).toBe(0);
      expect((listed.json.tools as Array<{ name: string }>).map((t) => t.name)).toContain('proposeAction');
      const refused = await runInspector([url], ['--transport', 'http', '--method', 'tools/list']);
      expect(refused.code).not.toBe(0);
      expect(refused.json.tools).toBeUndefined();
    } finally {
      await server.stop();
    }
  });

  it('shows a refused call as an isError result with its code', async () => {
    const { code, json } = await inspect(
      ['--actor', 'agent_1', '--tools', TOOLS_FIXTURE],
      ['--method', 'tools/call', '--tool-name', 'proposeAction', '--tool-arg', 'tool=nope', 'reason=r'],
    );
    expect(code).not.toBe(0);
    expect(json.isError).toBe(true);
    expect(json.structuredContent).toMatchObject({ error: { code: 'TOOL_NOT_FOUND' } });
  });
});
