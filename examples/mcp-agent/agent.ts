/**
 * The agent: an MCP client. It launches `orchestration-connector serve` over stdio, bound to its own
 * actor, exactly as an MCP host (Claude Desktop, an IDE) would, and works only through MCP tools.
 *
 *   npx tsx examples/mcp-agent/agent.ts <sqlite file>     (host.ts starts it for you)
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const dbFile = process.argv[2];
if (dbFile === undefined) throw new Error('usage: agent.ts <sqlite file shared with the host>');
const root = fileURLToPath(new URL('../..', import.meta.url));
const log = (line: string) => console.log(`[agent] ${line}`);

// From source via tsx; with the package installed this is `npx orchestration-connector serve ...`.
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [
    '--import',
    'tsx',
    'src/cli.ts',
    'serve',
    '--store',
    `sqlite:${dbFile}`,
    '--actor',
    'support_agent',
    '--tools',
    'examples/mcp-agent/tools.ts',
  ],
  cwd: root,
  stderr: 'ignore',
});
const client = new Client({ name: 'example-agent', version: '1.0.0' });
await client.connect(transport);

/** Calls a tool; returns its structured content, or throws with the error code. */
async function use(name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args });
  const data = result.structuredContent as Record<string, unknown>;
  if (result.isError) {
    const error = data.error as { code: string; message: string };
    throw new Error(`${name} failed: ${error.code}: ${error.message}`);
  }
  return data;
}

const { tools } = await client.listTools();
log(
  `connected; ${tools.length} tools, e.g. ${tools
    .slice(0, 4)
    .map((t) => t.name)
    .join(', ')} ...`,
);

// 1. A read-only tool: approved at once, the agent runs it itself.
const search = await use('proposeAction', {
  tool: 'search_docs',
  params: { query: 'refund policy' },
  reason: 'Find the policy',
});
log(`proposed search_docs -> ${search.status}`);
const found = await use('executeAction', { proposal_id: search.id });
log(`search_docs result: ${JSON.stringify(found.result)}`);

// 2. A tool that changes the world: it waits for a human. actor_id is filled in by the server.
const email = await use('proposeAction', {
  tool: 'send_email',
  params: { to: 'customer@example.com', subject: 'Your refund', body: 'We refunded the duplicate charge.' },
  reason: 'The customer was billed twice; the policy allows a refund.',
});
log(`proposed send_email -> ${email.status}; waiting for a human ...`);

// It cannot approve its own proposal: reviewAction is not even exposed to it.
const attempt = await client.callTool({
  name: 'reviewAction',
  arguments: { proposal_id: email.id, decision: 'approve' },
});
log(`tried to approve it myself -> ${(attempt.structuredContent as { error: { code: string } }).error.code}`);

const decided = await use('waitForDecision', { proposal_id: email.id, timeout_ms: 120_000 });
log(`decision: ${decided.status}`);
if (decided.status !== 'rejected') {
  // The host executes approved calls; wait until it has.
  let current = decided;
  while (current.status === 'approved' || current.status === 'executing') {
    await new Promise((r) => setTimeout(r, 200));
    current = await use('getActionProposal', { id: email.id });
  }
  const execution = current.execution as { result?: { success: boolean; result?: unknown } } | undefined;
  log(`send_email ${current.status}: ${JSON.stringify(execution?.result?.result ?? null)}`);
}
await client.close();
