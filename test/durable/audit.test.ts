import { afterEach, describe, expect, it } from 'vitest';
import { allAuditEvents, makeTarget, startTogether, sumCounts, type Target, targetNames } from './harness.js';

const PROCESSES = 4;
const CHANGES = 1000;

let target: Target | undefined;
afterEach(async () => {
  await target?.cleanup();
  target = undefined;
});

describe.each(targetNames())('audit trail across processes (%s)', (name) => {
  it(`keeps one chain, seq 1..${PROCESSES * CHANGES} without gaps or forks, under ${PROCESSES} processes x ${CHANGES} changes`, async () => {
    target = await makeTarget(name);
    const children = await startTogether(PROCESSES, 'audit-writer', (i) => ({
      ...target!.env,
      OC_PREFIX: `w${i}`,
      OC_CHANGES: String(CHANGES),
    }));
    const reports = await Promise.all(children.map((c) => c.done()));
    expect(sumCounts(reports)).toEqual({ ok: PROCESSES * CHANGES });

    const reader = await target.connector();
    const trail = await allAuditEvents(reader);
    expect(trail.map((e) => e.seq)).toEqual(Array.from({ length: PROCESSES * CHANGES }, (_, i) => i + 1));
    expect(new Set(trail.map((e) => e.id)).size).toBe(PROCESSES * CHANGES);
    // No fork: each record links to the one before it.
    for (let i = 1; i < trail.length; i++) expect(trail[i]?.prevHash).toBe(trail[i - 1]?.hash);
    // Every process's changes are in it, each actor created before it was updated.
    for (let w = 0; w < PROCESSES; w++) {
      const mine = trail.filter((e) => e.entityId.startsWith(`w${w}-`));
      expect(mine).toHaveLength(CHANGES);
      const created = new Map<string, number>();
      for (const e of mine) {
        if (e.eventType === 'actor_created') created.set(e.entityId, e.seq);
        else expect(e.seq).toBeGreaterThan(created.get(e.entityId) ?? Number.POSITIVE_INFINITY);
      }
      expect(created.size).toBe(CHANGES / 2);
    }
    expect(await reader.verifyAuditTrail()).toEqual({ valid: true, count: PROCESSES * CHANGES });
    expect(await reader.getAuditHead()).toMatchObject({ seq: PROCESSES * CHANGES, hash: trail.at(-1)?.hash });
  }, 120_000);
});
