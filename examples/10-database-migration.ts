/**
 * A database migration: only a reviewer with role 'dba' may approve it, an approval is good for 15
 * minutes, and the password param never shows in the audit trail, events or results (the handler
 * still gets it).
 */
import { z } from 'zod';
import { OrchestrationConnector, REDACTED } from '../src/index.js';
import { actionState, expect, type Log, manualClock, note, refused, short, step } from './support.js';

export const title = 'Database migration: DBA-only approval, approval TTL, redacted password';

const MINUTE = 60_000;
const DB_PASSWORD = 'correct-horse-battery-staple';

export async function run(log: Log) {
  const time = manualClock('2026-03-02T22:00:00Z');
  const applied: string[] = [];
  const connector = new OrchestrationConnector({
    clock: time.clock,
    tools: {
      run_migration: {
        description: 'Apply one migration to a database.',
        schema: z.object({ database: z.string(), migration: z.string(), password: z.string().min(8) }),
        redact: ['password'],
        // `tools` config types handler params as Record<string, unknown>; the schema has checked them.
        handler: ({ database, migration, password }) => {
          if (password !== DB_PASSWORD) throw new Error('authentication failed');
          applied.push(String(migration));
          return { database, applied: migration };
        },
      },
    },
    policy: { tools: { run_migration: { reviewer_roles: ['dba'], approval_ttl_ms: 15 * MINUTE } } },
  });
  await connector.createActor({ id: 'migration-agent', name: 'Migration Agent', role: 'ai-agent' });
  await connector.createActor({ id: 'bob', name: 'Bob Okafor', role: 'developer' });
  await connector.createActor({ id: 'dana', name: 'Dana Silva', role: 'dba' });
  step(
    log,
    'admin',
    'creates migration-agent, bob (developer), dana (dba); policy: dba approves, 15 min TTL',
    'active',
  );

  const migrate = (migration: string) =>
    connector.proposeAction({
      actor_id: 'migration-agent',
      tool: 'run_migration',
      params: { database: 'orders', migration, password: DB_PASSWORD },
      reason: `Apply ${migration}`,
    });

  const addIndex = await migrate('2026_03_02_add_index_orders_customer_id');
  const proposed = (await connector.queryAuditEvents({ entityId: addIndex.id, eventType: 'action_proposed' }))[0];
  step(
    log,
    'migration-agent',
    'proposes run_migration add_index_orders_customer_id',
    `${addIndex.id} ${actionState(addIndex)}`,
  );
  note(log, `audit record shows params ${short(proposed?.details.params, 120)}`);

  await refused(log, 'bob', 'approves the migration', 'FORBIDDEN', () =>
    connector.reviewAction({ proposal_id: addIndex.id, reviewer_id: 'bob', decision: 'approve' }),
  );
  const approved = await connector.reviewAction({ proposal_id: addIndex.id, reviewer_id: 'dana', decision: 'approve' });
  step(log, 'dana', 'approves', `${actionState(approved)}, valid until ${approved.expiresAt}`);

  time.advance(5 * MINUTE);
  const result = await connector.executeAction({ proposal_id: addIndex.id });
  step(log, 'migration-agent', '5 minutes later, executes it', `${result.message}: ${short(result.result)}`);
  note(
    log,
    `result.params.password = ${JSON.stringify(result.params.password)}; the handler authenticated with the real one`,
  );

  const dropColumn = await migrate('2026_03_02_drop_orders_legacy_status');
  step(
    log,
    'migration-agent',
    'proposes run_migration drop_orders_legacy_status',
    `${dropColumn.id} ${actionState(dropColumn)}`,
  );
  const approvedDrop = await connector.reviewAction({
    proposal_id: dropColumn.id,
    reviewer_id: 'dana',
    decision: 'approve',
  });
  step(log, 'dana', 'approves it', `${actionState(approvedDrop)}, valid until ${approvedDrop.expiresAt}`);
  time.advance(20 * MINUTE);
  await refused(log, 'migration-agent', '20 minutes later, executes it', 'EXPIRED', () =>
    connector.executeAction({ proposal_id: dropColumn.id }),
  );
  const expired = await connector.getActionProposal({ id: dropColumn.id });
  note(log, `second proposal is ${expired.status}; propose it again for a fresh approval`);

  const leaks = (await connector.queryAuditEvents({ limit: 1000 })).filter((e) =>
    JSON.stringify(e).includes(DB_PASSWORD),
  );
  note(log, `audit records containing the password: ${leaks.length}`);

  expect(result.success && applied.length === 1, 'the first migration ran once');
  expect(result.params.password === REDACTED, 'the result shows the password redacted');
  expect(expired.status === 'expired', 'the second approval expired unused');
  expect(leaks.length === 0, 'the password never reached the audit trail');
  return { connector, executed: addIndex.id, expired, result, applied };
}
