/**
 * Runs every example scenario in order, each on a fresh connector with the default memory store, and
 * prints what happened: one line per step, then the scenario's audit trail and its verification.
 *
 *   npm run demo            all scenarios
 *   npm run demo -- 06 10   only the scenarios whose number is given
 *
 * Exits non-zero when a scenario throws unexpectedly (expected refusals are part of the story).
 */
import * as actors from './01-actors.js';
import * as featureWorkflow from './02-feature-deployment-workflow.js';
import * as generalProposal from './03-general-proposal.js';
import * as policyChange from './04-policy-change.js';
import * as auditQuery from './05-audit-query.js';
import * as approvalFlow from './06-approval-flow.js';
import * as agentIntegration from './07-ai-agent-integration.js';
import * as multiAgent from './08-multi-agent-collaboration.js';
import * as dryRun from './09-feature-deployment-dry-run.js';
import * as migration from './10-database-migration.js';
import * as incident from './11-security-incident.js';
import { allAuditEvents, auditTable, type Log, type ScenarioResult } from './support.js';

interface Scenario {
  title: string;
  run: (log: Log) => Promise<ScenarioResult>;
}

const scenarios: Array<[string, Scenario]> = [
  ['01', actors],
  ['02', featureWorkflow],
  ['03', generalProposal],
  ['04', policyChange],
  ['05', auditQuery],
  ['06', approvalFlow],
  ['07', agentIntegration],
  ['08', multiAgent],
  ['09', dryRun],
  ['10', migration],
  ['11', incident],
];

/**
 * Generated ids are long (`action_01jq...`); within one scenario each becomes `action#1`, `action#2`...
 * in order of first appearance, in the step lines and the audit table alike.
 */
function idAliaser(): (text: string) => string {
  const seen = new Map<string, string>();
  const counts = new Map<string, number>();
  return (text) =>
    text.replace(/\b(workflow|proposal|action|step|exec|evt)_[0-9a-z]{24}\b/g, (id, kind: string) => {
      let alias = seen.get(id);
      if (alias === undefined) {
        const n = (counts.get(kind) ?? 0) + 1;
        counts.set(kind, n);
        alias = `${kind}#${n}`;
        seen.set(id, alias);
      }
      return alias;
    });
}

const only = process.argv.slice(2);
const selected = scenarios.filter(([n]) => only.length === 0 || only.includes(n));
if (selected.length === 0) {
  console.error(`No scenario matches ${only.join(', ')}. Use numbers 01 to ${scenarios.length}.`);
  process.exit(2);
}

const failed: string[] = [];
for (const [n, scenario] of selected) {
  const alias = idAliaser();
  const log: Log = (line) => console.log(alias(line));
  console.log(`\n=== ${n} ${scenario.title} ===\n`);
  let result: ScenarioResult | undefined;
  try {
    result = await scenario.run(log);
    const events = await allAuditEvents(result.connector);
    console.log(`\n  audit trail (${events.length} records)`);
    for (const row of auditTable(events, alias)) console.log(`    ${row}`);
    const v = await result.connector.verifyAuditTrail();
    console.log(
      `  verifyAuditTrail: ${v.valid ? 'valid' : `INVALID at seq ${v.firstInvalidSeq}: ${v.reason}`}, ${v.count} records`,
    );
    if (!v.valid) failed.push(`${n} (audit trail invalid)`);
  } catch (err) {
    failed.push(n);
    console.error(`\n  !! scenario ${n} failed unexpectedly:`);
    console.error(err);
  } finally {
    await result?.connector.close();
  }
}

if (failed.length > 0) {
  console.error(`\n${failed.length} of ${selected.length} scenarios failed: ${failed.join(', ')}`);
  process.exitCode = 1;
} else {
  console.log(`\nAll ${selected.length} scenarios ran; every audit trail verifies.`);
}
