import { afterEach, describe, expect, it } from 'vitest';
import {
  allActions,
  allAuditEvents,
  effectsByProposal,
  makeTarget,
  seedProposals,
  startTogether,
  sumCounts,
  type Target,
  targetNames,
  writeJson,
} from './harness.js';

const PROCESSES = 4;
const CALLS = 50;
const PROPOSALS = 200;

let target: Target | undefined;
afterEach(async () => {
  await target?.cleanup();
  target = undefined;
});

describe.each(targetNames())('executeAction across processes (%s)', (name) => {
  it(`runs each tool once under ${PROCESSES} processes x ${CALLS} concurrent calls on ${PROPOSALS} approved proposals`, async () => {
    target = await makeTarget(name);
    const setup = await target.connector();
    await setup.updatePolicy({ max_retries: 0 });
    const ids = await seedProposals(setup, PROPOSALS);
    const idsFile = writeJson(target, 'ids.json', ids);
    const env = {
      ...target.env,
      OC_IDS_FILE: idsFile,
      OC_CALLS: String(CALLS),
      OC_WINDOW: process.env.OC_WINDOW ?? '1',
    };

    const children = await startTogether(PROCESSES, 'execute-race', () => env);
    const reports = await Promise.all(children.map((c) => c.done()));

    // Every caller got a success or INVALID_STATE: no SQLITE_BUSY, no serialization failure, no STORE_ERROR.
    const counts = sumCounts(reports);
    expect(counts).toEqual({ ok: PROPOSALS, INVALID_STATE: PROPOSALS * (PROCESSES * CALLS - 1) });

    // Counted outside the store: one run per proposal, by the caller that won.
    const effects = effectsByProposal(target.sideFile);
    expect(effects.size).toBe(PROPOSALS);
    const won = reports.flatMap((r) => r.won as Array<{ proposalId: string; executionId: string }>);
    expect(won).toHaveLength(PROPOSALS);
    for (const w of won) {
      const runs = effects.get(w.proposalId) ?? [];
      expect(runs).toHaveLength(1);
      expect(runs[0]?.executionId).toBe(w.executionId);
    }
    // The races really spanned processes: more than one process won some.
    expect(new Set(reports.filter((r) => (r.won as unknown[]).length > 0).map((r) => r.pid)).size).toBeGreaterThan(1);

    const actions = await allActions(setup);
    expect(actions.map((a) => a.status)).toEqual(ids.map(() => 'executed'));
    for (const a of actions) expect(a.execution?.executionId).toBe(effects.get(a.id)?.[0]?.executionId);

    const trail = await allAuditEvents(setup);
    for (const type of ['action_executing', 'action_executed'] as const) {
      const perProposal = new Map<string, number>();
      for (const e of trail.filter((x) => x.eventType === type))
        perProposal.set(e.entityId, (perProposal.get(e.entityId) ?? 0) + 1);
      expect([...perProposal.values()].every((n) => n === 1) && perProposal.size === PROPOSALS).toBe(true);
    }
    expect(trail.map((e) => e.seq)).toEqual(trail.map((_, i) => i + 1));
    expect(await setup.verifyAuditTrail()).toEqual({ valid: true, count: trail.length });
  }, 180_000);
});
