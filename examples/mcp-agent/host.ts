/**
 * The host app: owns the tools, reviews what the agent proposes, and runs what was approved. It shares
 * a SQLite file with the MCP server the agent started, so both see the same proposals and audit trail.
 *
 *   npx tsx examples/mcp-agent/host.ts          asks you y/n for each proposal (in a terminal)
 *   npx tsx examples/mcp-agent/host.ts --yes    approves everything (non-interactive)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { OrchestrationConnector } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';
import { tools } from './tools.js';

const log = (line: string) => console.log(`[host]  ${line}`);
const interactive = !process.argv.includes('--yes') && process.stdin.isTTY === true;
const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-'));
const dbFile = join(dir, 'approvals.db');

const connector = new OrchestrationConnector({ store: new SqliteStore({ filename: dbFile }), tools });
await connector.createActor({ id: 'alice', name: 'Alice (support lead)', role: 'reviewer' });

const agentScript = fileURLToPath(new URL('./agent.ts', import.meta.url));
const agent = spawn(process.execPath, ['--import', 'tsx', agentScript, dbFile], { stdio: 'inherit' });
let agentDone = false;
agent.once('exit', () => {
  agentDone = true;
});

const prompt = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
const handled = new Set<string>();
while (!agentDone) {
  for (const p of await connector.queryActionProposals({ status: 'pending' })) {
    if (handled.has(p.id)) continue;
    handled.add(p.id);
    log(`${p.actorId} wants ${p.tool}(${JSON.stringify(p.params)}) because: ${p.reason}`);
    const yes = prompt ? /^y/i.test(await prompt.question('[host]  approve? [y/N] ')) : true;
    const reviewed = await connector.reviewAction({
      proposal_id: p.id,
      reviewer_id: 'alice',
      decision: yes ? 'approve' : 'reject',
      params_hash: p.paramsHash, // the decision holds only for the params shown above
    });
    log(`${reviewed.status} by alice`);
    if (reviewed.status === 'approved') {
      const result = await connector.executeAction({ proposal_id: p.id });
      log(`executed ${p.tool}: ${result.success ? 'ok' : result.error?.message}`);
    }
  }
  await new Promise((r) => setTimeout(r, 200));
}
prompt?.close();

const trail = await connector.verifyAuditTrail({});
log(`audit trail: ${trail.count} records, valid: ${trail.valid}`);
await connector.close();
rmSync(dir, { recursive: true, force: true });
