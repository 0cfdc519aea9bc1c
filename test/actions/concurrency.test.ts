import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { OrchestrationConnector } from '../../src/connector.js';
import { isOrchestrationError } from '../../src/errors.js';
import { storesUnderTest } from '../helpers/stores.js';
import { connectorWithActors } from './helpers.js';

/** Settles every promise and sorts outcomes into successes and error codes. */
async function settle<T>(calls: Array<Promise<T>>): Promise<{ ok: T[]; codes: string[] }> {
  const out = await Promise.allSettled(calls);
  const ok: T[] = [];
  const codes: string[] = [];
  for (const r of out) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else if (isOrchestrationError(r.reason)) codes.push(r.reason.code);
    else throw r.reason;
  }
  return { ok, codes };
}

for (const sut of storesUnderTest()) {
  describe(`approval gate under concurrency (${sut.name})`, () => {
    let c: OrchestrationConnector | undefined;
    afterEach(async () => {
      await c?.close();
      c = undefined;
    });
    afterAll(() => sut.cleanup());

    it('executeAction - runs the tool once under 50 concurrent calls; the other 49 get INVALID_STATE', async () => {
      const runs: string[] = [];
      c = await connectorWithActors({
        store: await sut.make(),
        tools: {
          charge: {
            handler: async (_p, ctx) => {
              runs.push(ctx.executionId);
              await new Promise((r) => setTimeout(r, 5));
              return { charged: true };
            },
          },
        },
      });
      const a = await c.proposeAction({ actor_id: 'agent', tool: 'charge', params: { cents: 100 }, reason: 'order' });
      await c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });

      const conn = c;
      const { ok, codes } = await settle(Array.from({ length: 50 }, () => conn.executeAction({ proposal_id: a.id })));

      expect(runs).toHaveLength(1);
      expect(ok).toHaveLength(1);
      expect(ok[0]).toMatchObject({ success: true, executionId: runs[0] });
      expect(codes).toEqual(Array(49).fill('INVALID_STATE'));
      const after = await c.getActionProposal({ id: a.id });
      expect(after.status).toBe('executed');
      expect(after.execution?.executionId).toBe(runs[0]);
      expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'action_executing' })).toHaveLength(1);
      expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'action_executed' })).toHaveLength(1);
      expect(await c.verifyAuditTrail({})).toMatchObject({ valid: true });
    });

    it('reviewAction - 3 concurrent approvals on a quorum-2 proposal: two count, the third finds it approved', async () => {
      c = await connectorWithActors({
        store: await sut.make(),
        tools: { transfer: { handler: () => 'sent' } },
        policy: { tools: { transfer: { approvals_required: 2 } } },
      });
      const a = await c.proposeAction({ actor_id: 'agent', tool: 'transfer', params: { amount: 5 }, reason: 'pay' });
      const conn = c;
      const { ok, codes } = await settle(
        ['alice', 'bob', 'carol'].map((r) =>
          conn.reviewAction({ proposal_id: a.id, reviewer_id: r, decision: 'approve' }),
        ),
      );

      // No lost update and no CONFLICT from the race: every vote that landed is recorded.
      expect(codes.every((code) => code === 'INVALID_STATE')).toBe(true);
      expect(ok).toHaveLength(2);
      expect(codes).toHaveLength(1);
      const after = await c.getActionProposal({ id: a.id });
      expect(after.status).toBe('approved');
      expect(new Set(after.reviews.map((r) => r.reviewerId)).size).toBe(2);
      expect(after.reviews).toHaveLength(2);
      expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'action_approved' })).toHaveLength(1);
      expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'proposal_reviewed' })).toHaveLength(2);
    });

    it('reviewAction - 3 concurrent approvals on a quorum-3 proposal are all counted', async () => {
      c = await connectorWithActors({
        store: await sut.make(),
        tools: { transfer: { handler: () => 'sent' } },
        policy: { tools: { transfer: { approvals_required: 3 } } },
      });
      const a = await c.proposeAction({ actor_id: 'agent', tool: 'transfer', params: { amount: 5 }, reason: 'pay' });
      const conn = c;
      const { ok, codes } = await settle(
        ['alice', 'bob', 'carol'].map((r) =>
          conn.reviewAction({ proposal_id: a.id, reviewer_id: r, decision: 'approve' }),
        ),
      );
      expect(codes).toEqual([]);
      expect(ok).toHaveLength(3);
      const after = await c.getActionProposal({ id: a.id });
      expect(after.status).toBe('approved');
      expect(after.reviews.map((r) => r.reviewerId).sort()).toEqual(['alice', 'bob', 'carol']);
    });

    it('reviewAction - approve racing reject: exactly one final decision', async () => {
      c = await connectorWithActors({ store: await sut.make(), tools: { deploy: { handler: () => 'ok' } } });
      const conn = c;
      for (let round = 0; round < 5; round++) {
        const a = await conn.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: `round ${round}` });
        const { ok, codes } = await settle([
          conn.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' }),
          conn.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'reject' }),
        ]);
        expect(ok).toHaveLength(1);
        expect(codes).toEqual(['INVALID_STATE']);
        const after = await conn.getActionProposal({ id: a.id });
        expect(after.status).toBe(ok[0]?.status);
        expect(after.reviews).toHaveLength(1);
        const decided = [
          ...(await conn.queryAuditEvents({ entityId: a.id, eventType: 'action_approved' })),
          ...(await conn.queryAuditEvents({ entityId: a.id, eventType: 'action_rejected' })),
        ];
        expect(decided).toHaveLength(1);
      }
      expect(await conn.verifyAuditTrail({})).toMatchObject({ valid: true });
    });

    it('proposeAction - 20 concurrent calls with one idempotency_key create one proposal', async () => {
      c = await connectorWithActors({ store: await sut.make(), tools: { deploy: { handler: () => 'ok' } } });
      const conn = c;
      const { ok, codes } = await settle(
        Array.from({ length: 20 }, () =>
          conn.proposeAction({
            actor_id: 'agent',
            tool: 'deploy',
            params: { v: 1 },
            reason: 'retry storm',
            idempotency_key: 'same-key',
          }),
        ),
      );
      expect(codes).toEqual([]);
      expect(new Set(ok.map((a) => a.id)).size).toBe(1);
      expect(await conn.queryActionProposals({})).toHaveLength(1);
      expect(await conn.queryAuditEvents({ eventType: 'action_proposed' })).toHaveLength(1);
    });

    it('executeAction - two connectors on one store: 40 concurrent calls across both run the tool once', async () => {
      let runs = 0;
      const tools = {
        charge: {
          handler: async () => {
            runs++;
            await new Promise((r) => setTimeout(r, 5));
            return 'charged';
          },
        },
      };
      const store = await sut.make();
      c = await connectorWithActors({ store, tools });
      const other = new OrchestrationConnector({ store, tools });
      const a = await c.proposeAction({ actor_id: 'agent', tool: 'charge', reason: 'order' });
      await other.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });
      const conns = [c, other];
      const { ok, codes } = await settle(
        Array.from({ length: 40 }, (_, n) =>
          (conns[n % 2] as OrchestrationConnector).executeAction({ proposal_id: a.id }),
        ),
      );
      expect(runs).toBe(1);
      expect(ok).toHaveLength(1);
      expect(codes).toEqual(Array(39).fill('INVALID_STATE'));
      expect(await other.verifyAuditTrail({})).toMatchObject({ valid: true });
    });

    it('cancelAction racing executeAction: the tool runs only if the claim won', async () => {
      let runs = 0;
      c = await connectorWithActors({
        store: await sut.make(),
        tools: {
          deploy: {
            handler: () => {
              runs++;
              return 'ok';
            },
          },
        },
      });
      const conn = c;
      for (let round = 0; round < 5; round++) {
        const a = await conn.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: `round ${round}` });
        await conn.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });
        const before = runs;
        const [exec, cancel] = await Promise.allSettled([
          conn.executeAction({ proposal_id: a.id }),
          conn.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'abort' }),
        ]);
        const after = await conn.getActionProposal({ id: a.id });
        if (exec.status === 'fulfilled') {
          expect(cancel.status).toBe('rejected');
          expect(after.status).toBe('executed');
          expect(runs).toBe(before + 1);
        } else {
          expect(cancel.status).toBe('fulfilled');
          expect(after.status).toBe('cancelled');
          expect(runs).toBe(before);
        }
      }
    });
  });
}

describe.runIf(storesUnderTest().some((s) => s.name === 'sqlite'))('two processes on one SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oc-two-'));
  const file = join(dir, 'shared.db');
  const open: OrchestrationConnector[] = [];
  afterAll(async () => {
    for (const c of open) await c.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims an approval exactly once across two connections, and waits see the other side decide', async () => {
    const { SqliteStore } = await import('../../src/stores/sqlite.js');
    let runs = 0;
    const tools = {
      charge: {
        handler: async () => {
          runs++;
          await new Promise((r) => setTimeout(r, 5));
          return 'charged';
        },
      },
    };
    const first = await connectorWithActors({ store: new SqliteStore({ filename: file }), tools });
    const second = new OrchestrationConnector({ store: new SqliteStore({ filename: file }), tools });
    open.push(first, second);

    const a = await first.proposeAction({ actor_id: 'agent', tool: 'charge', reason: 'order' });
    const waiting = first.waitForDecision({ proposal_id: a.id, timeout_ms: 10_000 });
    await second.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });
    expect(await waiting).toMatchObject({ status: 'approved' });

    const conns = [first, second];
    const { ok, codes } = await settle(
      Array.from({ length: 30 }, (_, n) =>
        (conns[n % 2] as OrchestrationConnector).executeAction({ proposal_id: a.id }),
      ),
    );
    expect(runs).toBe(1);
    expect(ok).toHaveLength(1);
    expect(codes).toEqual(Array(29).fill('INVALID_STATE'));
    expect(await first.verifyAuditTrail({})).toMatchObject({ valid: true });
  });
});
