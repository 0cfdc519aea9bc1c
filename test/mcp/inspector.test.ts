import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommand, ROOT, TOOLS_FIXTURE, tempDir } from './helpers.js';

// The official MCP Inspector's CLI mode, as a third-party client of the bin over stdio.
const INSPECTOR = join(ROOT, 'node_modules/.bin/mcp-inspector');
const tmp = tempDir();
afterAll(() => tmp.remove());

function inspect(
  serveArgs: string[],
  inspectorArgs: string[],
): Promise<{ code: number; json: Record<string, unknown> }> {
  const { command, args } = cliCommand(serveArgs);
  return new Promise((resolve, reject) => {
    execFile(
      INSPECTOR,
      ['--cli', command, ...args, ...inspectorArgs],
      // A catalog of our own: the inspector would otherwise write ~/.mcp-inspector.
      { cwd: ROOT, env: { ...process.env, MCP_CATALOG_PATH: join(tmp.dir, 'catalog.json') }, timeout: 30_000 },
      (err, stdout, stderr) => {
        try {
          resolve({ code: typeof err?.code === 'number' ? err.code : 0, json: JSON.parse(stdout) });
        } catch {
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
