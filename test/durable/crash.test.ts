import { afterEach, describe, expect, it } from 'vitest';
import { OrchestrationError } from '../../src/errors.js';
import {
  allAuditEvents,
  Child,
  effectsByProposal,
  makeTarget,
  seedProposals,
  type Target,
  targetNames,
} from './harness.js';

const LEASE_MS = 300;
const KILL_POINTS = ['after_claim', 'in_handler', 'after_handler', 'after_audit'] as const;
type KillPoint = (typeof KILL_POINTS)[number];

/** What a kill at each point leaves behind. */
const EXPECTED: Record<KillPoint, { status: 'executing' | 'executed'; runs: number }> = {
  after_claim: { status: 'executing', runs: 0 },
  in_handler: { status: 'executing', runs: 0 },
  after_handler: { status: 'executing', runs: 1 },
  after_audit: { status: 'executed', runs: 1 },
};

let target: Target | undefined;
afterEach(async () => {
  await target?.cleanup();
  target = undefined;
});

describe.each(targetNames())('kill -9 during executeAction (%s)', (name) => {
  it('never re-runs a tool after a restart; a cut-off execution fails INTERRUPTED once its lease ran out', async () => {
    target = await makeTarget(name);
    const setup = await target.connector();
    await setup.updatePolicy({ max_retries: 0, execution_lease_ms: LEASE_MS });
    const ids = await seedProposals(setup, KILL_POINTS.length);
    const proposalOf = Object.fromEntries(KILL_POINTS.map((p, i) => [p, ids[i] as string])) as Record<
      KillPoint,
      string
    >;
    await setup.close();

    // One child per kill point, all at once; each must die by SIGKILL at its point.
    const children = KILL_POINTS.map(
      (point) => new Child('kill-at', { ...target!.env, OC_KILL_AT: point, OC_PROPOSAL_ID: proposalOf[point] }),
    );
    const exits = await Promise.all(children.map((c) => c.exited));
    exits.forEach((exit, i) => {
      expect({ point: KILL_POINTS[i], ...exit }, children[i]?.stderr).toEqual({
        point: KILL_POINTS[i],
        code: null,
        signal: 'SIGKILL',
      });
    });

    const runsOf = () => {
      const effects = effectsByProposal(target!.sideFile);
      return Object.fromEntries(KILL_POINTS.map((p) => [p, effects.get(proposalOf[p])?.length ?? 0]));
    };
    const expectedRuns = Object.fromEntries(KILL_POINTS.map((p) => [p, EXPECTED[p].runs]));
    expect(runsOf()).toEqual(expectedRuns);

    // Restart: a new connector on the same store.
    const restarted = await target.connector();
    const statusOf = async () =>
      Object.fromEntries(
        await Promise.all(
          KILL_POINTS.map(async (p) => [p, (await restarted.getActionProposal({ id: proposalOf[p] })).status]),
        ),
      );
    expect(await statusOf()).toEqual(Object.fromEntries(KILL_POINTS.map((p) => [p, EXPECTED[p].status])));

    // Nothing runs again: executing or executed proposals refuse a new execution.
    for (const p of KILL_POINTS) {
      await expect(restarted.executeAction({ proposal_id: proposalOf[p] })).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
    }

    // While the leases have not run out, recovery leaves the cut-off executions alone.
    const cutOff = KILL_POINTS.filter((p) => EXPECTED[p].status === 'executing');
    const leases = await Promise.all(
      cutOff.map(async (p) => (await restarted.getActionProposal({ id: proposalOf[p] })).execution),
    );
    const firstStart = Math.min(...leases.map((e) => Date.parse(e?.startedAt ?? '')));
    const early = await target.connector({ clock: () => new Date(firstStart + 1) });
    expect(await early.recoverStaleExecutions()).toEqual([]);
    expect(await statusOf()).toEqual(Object.fromEntries(KILL_POINTS.map((p) => [p, EXPECTED[p].status])));

    // Once every lease ran out, recovery fails them with INTERRUPTED, audited, and never re-runs them.
    const lastLease = Math.max(...leases.map((e) => Date.parse(e?.leaseExpiresAt ?? '')));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastLease - Date.now() + 20)));
    const recovered = await restarted.recoverStaleExecutions();
    expect(recovered.map((a) => a.id).sort()).toEqual(cutOff.map((p) => proposalOf[p]).sort());
    for (const a of recovered) {
      expect(a.status).toBe('failed');
      expect(a.execution?.result?.error?.code).toBe('INTERRUPTED');
    }
    expect(await restarted.recoverStaleExecutions()).toEqual([]);
    for (const p of KILL_POINTS) {
      const err = await restarted.executeAction({ proposal_id: proposalOf[p] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OrchestrationError);
      expect((err as OrchestrationError).code).toBe('INVALID_STATE');
    }
    expect(runsOf()).toEqual(expectedRuns);

    // The trail tells the same story and still verifies.
    const trail = await allAuditEvents(restarted);
    for (const p of KILL_POINTS) {
      const types = trail.filter((e) => e.entityId === proposalOf[p]).map((e) => e.eventType);
      expect(types.slice(-2)).toEqual([
        'action_executing',
        EXPECTED[p].status === 'executed' ? 'action_executed' : 'action_failed',
      ]);
    }
    const interrupted = trail.filter((e) => e.eventType === 'action_failed');
    expect(interrupted.map((e) => e.details)).toEqual(
      cutOff.map(() =>
        expect.objectContaining({ interrupted: true, error: expect.objectContaining({ code: 'INTERRUPTED' }) }),
      ),
    );
    expect(await restarted.verifyAuditTrail()).toEqual({ valid: true, count: trail.length });
  }, 60_000);
});
