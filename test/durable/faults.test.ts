import { afterEach, describe, expect, it } from 'vitest';
import { OrchestrationConnector } from '../../src/connector.js';
import { OrchestrationError } from '../../src/errors.js';
import { effectTool } from './children/common.js';
import {
  allActions,
  allAuditEvents,
  Child,
  effectsByProposal,
  makeTarget,
  seedProposals,
  startTogether,
  type Target,
  writeJson,
} from './harness.js';

let target: Target | undefined;
afterEach(async () => {
  await target?.cleanup();
  target = undefined;
});

async function storeErrorOf(p: Promise<unknown>): Promise<OrchestrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OrchestrationError);
  return err as OrchestrationError;
}

describe('SQLite write lock held by another process', () => {
  it('gives a retryable STORE_ERROR after the busy timeout and leaves the state unchanged', async () => {
    target = await makeTarget('sqlite');
    const setup = await target.connector();
    const [approved] = (await seedProposals(setup, 1)) as [string];
    const toReview = (await setup.proposeAction({ actor_id: 'agent', tool: 'effect', reason: 'review me' })).id;
    const before = {
      head: await setup.getAuditHead(),
      actions: await allActions(setup),
    };

    const connector = new OrchestrationConnector({
      store: await target.store({ busyTimeoutMs: 200 }),
      executor: effectTool(target.sideFile),
    });
    try {
      await connector.getPolicy();
      const holder = new Child('hold-lock', target.env);
      await holder.waitFor('locked');

      const failures = [
        await storeErrorOf(connector.executeAction({ proposal_id: approved })),
        await storeErrorOf(
          connector.reviewAction({ proposal_id: toReview, reviewer_id: 'reviewer', decision: 'approve' }),
        ),
        await storeErrorOf(connector.createActor({ id: 'late', name: 'Late', role: 'agent' })),
      ];
      for (const err of failures) {
        expect({ code: err.code, retryable: err.details.retryable }).toEqual({ code: 'STORE_ERROR', retryable: true });
        expect(err.message).toMatch(/locked/);
      }
      // Nothing of the three calls was written, and the tool did not run.
      expect(await connector.getAuditHead()).toEqual(before.head);
      expect(await allActions(connector)).toEqual(before.actions);
      await expect(connector.getActor({ id: 'late' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(effectsByProposal(target.sideFile).size).toBe(0);

      holder.send('release');
      await holder.done();
      // The same calls succeed once the lock is gone.
      expect((await connector.executeAction({ proposal_id: approved })).success).toBe(true);
      expect(
        (await connector.reviewAction({ proposal_id: toReview, reviewer_id: 'reviewer', decision: 'approve' })).status,
      ).toBe('approved');
      await connector.createActor({ id: 'late', name: 'Late', role: 'agent' });
      expect(effectsByProposal(target.sideFile).get(approved)).toHaveLength(1);
      expect(await connector.verifyAuditTrail()).toMatchObject({ valid: true });
    } finally {
      await connector.close();
    }
  }, 60_000);
});

const KILLS = 10;
const PROPOSALS = 200;

describe.runIf(process.env.DATABASE_URL)('PostgreSQL connections killed mid-operation', () => {
  it(`keeps state consistent and runs no tool twice while every connection is killed ${KILLS} times`, async () => {
    // A database of its own: the kills below hit every other connection to it.
    target = await makeTarget('postgres', { ownDatabase: true });
    const setup = await target.connector();
    await setup.updatePolicy({ max_retries: 0, execution_lease_ms: 300 });
    const ids = await seedProposals(setup, PROPOSALS, { approve: false, reviewers: ['reviewer', 'second'] });
    const idsFile = writeJson(target, 'ids.json', ids);
    const children = await startTogether(2, 'pg-workload', (i) => ({
      ...target!.env,
      OC_IDS_FILE: idsFile,
      OC_CALLS: '4',
      OC_REVIEWER: i === 0 ? 'reviewer' : 'second',
    }));

    const pg = await import('pg');
    let terminated = 0;
    for (let k = 0; k < KILLS; k++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const killer = new pg.default.Client({ connectionString: target.url });
      await killer.connect();
      const r = await killer.query(
        'SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      terminated += r.rows.filter((row: { t: boolean }) => row.t).length;
      await killer.end();
    }
    // The last kill still hit the workload, not idle connections of finished children.
    expect(children.filter((c) => c.messages.some((m) => m.type === 'done'))).toEqual([]);
    const reports = await Promise.all(children.map((c) => c.done()));
    expect(terminated).toBeGreaterThanOrEqual(KILLS);

    // Callers saw success, a lost race, or a STORE_ERROR: never a raw driver error.
    const codes = new Set(reports.flatMap((r) => Object.keys(r.counts as Record<string, number>)));
    for (const code of codes) {
      // APPROVAL_REQUIRED: both reviews of a proposal were cut off, so its executions found it pending.
      expect(['review:ok', 'execute:ok', 'INVALID_STATE', 'APPROVAL_REQUIRED', 'STORE_ERROR:retryable']).toContain(
        code,
      );
    }

    // Each success corresponds to one run of the tool, with the same execution id.
    const checker = await target.connector();
    const effects = effectsByProposal(target.sideFile);
    const won = reports.flatMap((r) => r.won as Array<{ proposalId: string; executionId: string }>);
    expect(new Set(won.map((w) => w.proposalId)).size).toBe(won.length);
    for (const w of won) expect(effects.get(w.proposalId)?.map((e) => e.executionId)).toEqual([w.executionId]);

    // The stored state is consistent with the side effects.
    for (const a of await allActions(checker)) {
      const runs = effects.get(a.id) ?? [];
      expect(runs.length).toBeLessThanOrEqual(1);
      if (a.status === 'executed') expect(runs.map((e) => e.executionId)).toEqual([a.execution?.executionId]);
      else if (a.status === 'executing')
        expect(runs.every((e) => e.executionId === a.execution?.executionId)).toBe(true);
      else expect({ id: a.id, status: a.status, runs: runs.length }).toMatchObject({ runs: 0 });
      expect(['pending', 'approved', 'executing', 'executed']).toContain(a.status);
    }

    // Afterwards: cut-off executions fail INTERRUPTED, the rest can still be finished, each exactly once.
    await new Promise((resolve) => setTimeout(resolve, 350));
    const recovered = await checker.recoverStaleExecutions();
    for (const a of await allActions(checker)) {
      if (a.status === 'pending')
        await checker.reviewAction({ proposal_id: a.id, reviewer_id: 'reviewer', decision: 'approve' });
      if (a.status === 'pending' || a.status === 'approved') {
        expect((await checker.executeAction({ proposal_id: a.id })).success).toBe(true);
      }
    }
    const final = await allActions(checker);
    const finalEffects = effectsByProposal(target.sideFile);
    expect(
      final
        .filter((a) => a.status === 'failed')
        .map((a) => a.id)
        .sort(),
    ).toEqual(recovered.map((a) => a.id).sort());
    for (const a of final) {
      expect(['executed', 'failed']).toContain(a.status);
      expect((finalEffects.get(a.id) ?? []).length).toBeLessThanOrEqual(1);
      if (a.status === 'executed') expect(finalEffects.get(a.id)?.length).toBe(1);
      else expect(a.execution?.result?.error?.code).toBe('INTERRUPTED');
    }
    const trail = await allAuditEvents(checker);
    expect(trail.map((e) => e.seq)).toEqual(trail.map((_, i) => i + 1));
    expect(await checker.verifyAuditTrail()).toEqual({ valid: true, count: trail.length });
  }, 120_000);
});
