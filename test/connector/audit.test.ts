import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditSink } from '../../src/config.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { AuditEvent } from '../../src/types.js';
import { collectErrors, connectorsOn, expectError, manualClock } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const KEY = 'a-signing-key-of-some-length';
const GENESIS = '0'.repeat(64);

/** Canonical JSON written independently of src/: sorted keys, no undefined members. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}
function expectedHash(e: AuditEvent): string {
  const { hash: _h, signature: _s, ...body } = e;
  return createHash('sha256').update(canonical(body)).digest('hex');
}
const hmac = (hash: string, key = KEY) => createHmac('sha256', key).update(hash).digest('hex');

/** Runs one of every core change; returns what it made. */
async function everyCoreChange(c: OrchestrationConnector) {
  const admin = await c.createActor({ id: 'admin', name: 'Admin', role: 'admin' });
  const bot = await c.createActor({ id: 'bot', name: 'Bot', role: 'agent' });
  await c.updateActor({ id: bot.id, status: 'busy' });
  const wf = await c.createWorkflow({
    name: 'w',
    description: '',
    createdBy: admin.id,
    steps: [{ name: 'a' }, { name: 'b', dependencies: ['a'] }],
  });
  const step = (name: string, status: 'in_progress' | 'completed' | 'failed') =>
    c.updateWorkflowStep({ workflow_id: wf.id, step: name, status, actor_id: bot.id });
  await step('a', 'in_progress');
  await step('a', 'failed');
  await step('a', 'in_progress');
  await step('a', 'completed');
  await step('b', 'completed');
  const wf2 = await c.createWorkflow({ name: 'w2', description: '' });
  await c.cancelWorkflow({ workflow_id: wf2.id, reason: 'dropped' });
  const p1 = await c.createProposal({ title: 'p1', description: '', requester: bot.id, assignedReviewers: [admin.id] });
  await c.reviewProposal({ proposal_id: p1.id, reviewer_id: admin.id, decision: 'comment', comment: 'hm' });
  await c.reviewProposal({ proposal_id: p1.id, reviewer_id: admin.id, decision: 'approve' });
  const p2 = await c.createProposal({ title: 'p2', description: '' });
  await c.reviewProposal({ proposal_id: p2.id, reviewer_id: admin.id, decision: 'reject' });
  await c.updatePolicy({ max_retries: 1, updated_by: admin.id });
  return { admin, bot, wf, wf2, p1, p2 };
}

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    describe('audit trail', () => {
      it('records every change with its event type, entity and acting actor', async () => {
        const c = await connectors.make();
        const { admin, bot, wf, wf2, p1, p2 } = await everyCoreChange(c);
        const rows = (await c.queryAuditEvents({ limit: 1000 })).map((e) => [
          e.eventType,
          e.entityType,
          e.entityId,
          e.actorId,
        ]);
        expect(rows).toEqual([
          ['actor_created', 'actor', admin.id, admin.id],
          ['actor_created', 'actor', bot.id, bot.id],
          ['actor_updated', 'actor', bot.id, bot.id],
          ['workflow_created', 'workflow', wf.id, admin.id],
          ['workflow_step_updated', 'workflow', wf.id, bot.id],
          ['workflow_started', 'workflow', wf.id, bot.id],
          ['workflow_step_updated', 'workflow', wf.id, bot.id],
          ['workflow_failed', 'workflow', wf.id, bot.id],
          ['workflow_step_updated', 'workflow', wf.id, bot.id],
          ['workflow_step_updated', 'workflow', wf.id, bot.id],
          ['workflow_step_updated', 'workflow', wf.id, bot.id],
          ['workflow_completed', 'workflow', wf.id, bot.id],
          ['workflow_created', 'workflow', wf2.id, undefined],
          ['workflow_cancelled', 'workflow', wf2.id, undefined],
          ['proposal_created', 'proposal', p1.id, bot.id],
          ['proposal_reviewed', 'proposal', p1.id, admin.id],
          ['proposal_reviewed', 'proposal', p1.id, admin.id],
          ['proposal_approved', 'proposal', p1.id, admin.id],
          ['proposal_created', 'proposal', p2.id, undefined],
          ['proposal_reviewed', 'proposal', p2.id, admin.id],
          ['proposal_rejected', 'proposal', p2.id, admin.id],
          ['policy_updated', 'policy', 'policy', admin.id],
        ]);
      });

      it('numbers records 1, 2, 3 ... and chains each to the previous by hash', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        await everyCoreChange(c);
        const events = await c.queryAuditEvents({ limit: 1000 });
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        let prev = GENESIS;
        for (const e of events) {
          expect(e.id).toMatch(/^evt_/);
          expect(e.timestamp).toBe(clock.now().toISOString());
          expect(e.prevHash).toBe(prev);
          expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
          expect(e.hash).toBe(expectedHash(e));
          expect(e.signature).toBeUndefined();
          prev = e.hash;
        }
        expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      });

      it('keeps what changed in details', async () => {
        const c = await connectors.make();
        const { wf, p1 } = await everyCoreChange(c);
        const [created] = await c.queryAuditEvents({ entityId: wf.id, eventType: 'workflow_created' });
        expect(created?.details).toMatchObject({ name: 'w', priority: 'medium', steps: ['a', 'b'] });
        const [, comment] = await c.queryAuditEvents({ entityId: p1.id });
        expect(comment?.details).toEqual({ decision: 'comment', comment: 'hm' });
      });
    });

    describe('verifyAuditTrail and getAuditHead', () => {
      it('verifies an empty trail, whose head is seq 0', async () => {
        const c = await connectors.make();
        const head = await c.getAuditHead();
        expect(head).toEqual({ seq: 0, hash: GENESIS });
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 0 });
        expect(await c.verifyAuditTrail({ head })).toEqual({ valid: true, count: 0 });
      });

      it('verifies an intact trail and gives its last seq and hash as the head', async () => {
        const c = await connectors.make();
        await everyCoreChange(c);
        const events = await c.queryAuditEvents({ limit: 1000 });
        const last = events[events.length - 1] as AuditEvent;
        const head = await c.getAuditHead();
        expect(head).toEqual({ seq: last.seq, hash: last.hash });
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: events.length });
        expect(await c.verifyAuditTrail({ head })).toEqual({ valid: true, count: events.length });
      });

      it('accepts a saved head that the trail has since grown past', async () => {
        const c = await connectors.make();
        await c.createActor({ name: 'a', role: 'r' });
        const head = await c.getAuditHead();
        await c.createActor({ name: 'b', role: 'r' });
        expect(await c.verifyAuditTrail({ head })).toEqual({ valid: true, count: 2 });
      });

      it('detects with a saved head that the trail was truncated', async () => {
        const c = await connectors.make();
        await everyCoreChange(c);
        const head = await c.getAuditHead();
        await c.clearAllData();
        const r = await c.verifyAuditTrail({ head });
        expect(r).toMatchObject({ valid: false, count: 1, firstInvalidSeq: 2 });
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 1 });
      });

      it('detects with a saved head that the tail was rewritten', async () => {
        const c = await connectors.make();
        await c.createActor({ name: 'a', role: 'r' });
        await c.createActor({ name: 'b', role: 'r' });
        const head = await c.getAuditHead();
        await c.clearAllData();
        await c.createActor({ name: 'c', role: 'r' });
        await c.createActor({ name: 'd', role: 'r' });
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 3 });
        expect(await c.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: head.seq });
      });

      it('rejects unknown keys and a malformed head with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.verifyAuditTrail({ full: true } as never), 'INVALID_INPUT');
        await expectError(c.verifyAuditTrail({ head: { seq: -1, hash: GENESIS } }), 'INVALID_INPUT');
        await expectError(c.verifyAuditTrail({ head: { hash: GENESIS } } as never), 'INVALID_INPUT');
        await expectError(c.getAuditHead({ x: 1 } as never), 'INVALID_INPUT');
      });
    });

    describe('audit signing', () => {
      it('signs every record and the head with an HMAC of its hash', async () => {
        const c = await connectors.make({ audit: { signingKey: KEY } });
        await everyCoreChange(c);
        const events = await c.queryAuditEvents({ limit: 1000 });
        for (const e of events) {
          expect(e.signature).toBe(hmac(e.hash));
          expect(e.hash).toBe(expectedHash(e));
        }
        const last = events[events.length - 1] as AuditEvent;
        const head = await c.getAuditHead();
        expect(head).toEqual({ seq: last.seq, hash: last.hash, signature: hmac(last.hash) });
        expect(await c.verifyAuditTrail({ head })).toEqual({ valid: true, count: events.length });
      });

      it('signs the first record of the trail that clearAllData starts, and returns it as the head', async () => {
        const c = await connectors.make({ audit: { signingKey: KEY } });
        await c.createActor({ name: 'a', role: 'r' });
        const { auditHead } = await c.clearAllData();
        const [cleared] = await c.queryAuditEvents();
        expect(auditHead).toEqual({ seq: 1, hash: cleared?.hash, signature: hmac(cleared?.hash as string) });
        expect(await c.getAuditHead()).toEqual(auditHead);
        expect(await c.verifyAuditTrail({ head: auditHead })).toEqual({ valid: true, count: 1 });
      });

      it('finds records signed with another key invalid from the first one', async () => {
        const { connector: writer, store } = await connectors.makeWithStore({ audit: { signingKey: KEY } });
        await writer.createActor({ name: 'a', role: 'r' });
        await writer.createActor({ name: 'b', role: 'r' });
        const checker = connectors.on(store, { audit: { signingKey: 'another-key-of-some-length' } });
        expect(await checker.verifyAuditTrail()).toMatchObject({ valid: false, count: 0, firstInvalidSeq: 1 });
        const unsigned = connectors.on(store);
        expect(await unsigned.verifyAuditTrail()).toEqual({ valid: true, count: 2 });
      });

      it('finds an unsigned trail invalid when verified with a key', async () => {
        const { connector: writer, store } = await connectors.makeWithStore();
        await writer.createActor({ name: 'a', role: 'r' });
        const checker = connectors.on(store, { audit: { signingKey: KEY } });
        expect(await checker.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: 1 });
      });

      it('rejects a saved head with a forged signature', async () => {
        const c = await connectors.make({ audit: { signingKey: KEY } });
        await c.createActor({ name: 'a', role: 'r' });
        const head = await c.getAuditHead();
        const forged = { ...head, signature: hmac(head.hash, 'guessed-key-of-some-length') };
        expect(await c.verifyAuditTrail({ head: forged })).toMatchObject({ valid: false, firstInvalidSeq: head.seq });
      });
    });

    describe('queryAuditEvents', () => {
      it('filters by event type, entity type, entity id and actor, alone and together', async () => {
        const c = await connectors.make();
        const { admin, bot, wf, p1 } = await everyCoreChange(c);
        const all = await c.queryAuditEvents({ limit: 1000 });
        const expectFiltered = async (
          filter: Parameters<OrchestrationConnector['queryAuditEvents']>[0] & object,
          pred: (e: AuditEvent) => boolean,
        ) => {
          const got = await c.queryAuditEvents({ ...filter, limit: 1000 });
          const want = all.filter(pred);
          expect(want.length).toBeGreaterThan(0);
          expect(got).toEqual(want);
        };
        await expectFiltered({ eventType: 'workflow_step_updated' }, (e) => e.eventType === 'workflow_step_updated');
        await expectFiltered({ entityType: 'proposal' }, (e) => e.entityType === 'proposal');
        await expectFiltered({ entityType: 'policy' }, (e) => e.entityType === 'policy');
        await expectFiltered({ entityId: wf.id }, (e) => e.entityId === wf.id);
        await expectFiltered({ actorId: bot.id }, (e) => e.actorId === bot.id);
        await expectFiltered(
          { actorId: admin.id, entityType: 'proposal' },
          (e) => e.actorId === admin.id && e.entityType === 'proposal',
        );
        await expectFiltered(
          { entityId: p1.id, eventType: 'proposal_reviewed', actorId: admin.id },
          (e) => e.entityId === p1.id && e.eventType === 'proposal_reviewed',
        );
        expect(await c.queryAuditEvents({ eventType: 'action_executed' })).toEqual([]);
        expect(await c.queryAuditEvents({ actorId: 'nobody' })).toEqual([]);
      });

      it('filters by an inclusive date range; a date-only endDate includes that whole day', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        const at = async (iso: string) => {
          clock.set(iso);
          return (await c.createActor({ name: iso, role: 'r' })).id;
        };
        await at('2026-01-30T23:59:59.999Z');
        const a = await at('2026-01-31T00:00:00.000Z');
        const b = await at('2026-01-31T12:00:00.000Z');
        const d = await at('2026-01-31T23:59:59.999Z');
        await at('2026-02-01T00:00:00.000Z');
        const range = async (startDate?: string, endDate?: string) =>
          (
            await c.queryAuditEvents({
              ...(startDate ? { startDate } : {}),
              ...(endDate ? { endDate } : {}),
            })
          ).map((e) => e.entityId);

        expect(await range('2026-01-31', '2026-01-31')).toEqual([a, b, d]);
        expect(await range('2026-01-31T12:00:00.000Z', '2026-01-31T12:00:00.000Z')).toEqual([b]);
        expect(await range('2026-01-31T12:00:00Z', '2026-01-31')).toEqual([b, d]);
        expect(await range(undefined, '2026-01-31T12:00:00+01:00')).toHaveLength(2);
        expect((await range(undefined, '2026-01-31T12:00:00+01:00'))[1]).toBe(a);
        expect(await range('2026-02-01')).toHaveLength(1);
        expect(await range('2026-02-02')).toEqual([]);
        expect(await range(undefined, '2026-01-29')).toEqual([]);
      });

      it('reads a date-time without a zone as UTC, whatever the host time zone', async () => {
        const clock = manualClock('2026-01-31T12:00:00.000Z');
        const c = await connectors.make({ clock: clock.now });
        const a = await c.createActor({ name: 'noon', role: 'r' });
        const tz = process.env.TZ;
        process.env.TZ = 'Asia/Tokyo';
        try {
          const got = await c.queryAuditEvents({ startDate: '2026-01-31T12:00:00', endDate: '2026-01-31T12:00' });
          expect(got.map((e) => e.entityId)).toEqual([a.id]);
        } finally {
          if (tz === undefined) delete process.env.TZ;
          else process.env.TZ = tz;
        }
      });

      it('filters by date even when the clock went backwards between records', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        clock.set('2026-03-02T10:00:00.000Z');
        const late = (await c.createActor({ name: 'late', role: 'r' })).id;
        clock.set('2026-03-01T10:00:00.000Z');
        const early = (await c.createActor({ name: 'early', role: 'r' })).id;
        clock.set('2026-03-03T10:00:00.000Z');
        const last = (await c.createActor({ name: 'last', role: 'r' })).id;
        const ids = async (q: { startDate?: string; endDate?: string }) =>
          (await c.queryAuditEvents(q)).map((e) => e.entityId);
        expect(await ids({ startDate: '2026-03-01', endDate: '2026-03-01' })).toEqual([early]);
        expect(await ids({ startDate: '2026-03-02' })).toEqual([late, last]);
        expect(await ids({ endDate: '2026-03-02' })).toEqual([late, early]);
      });

      it('returns records in seq order and pages with limit and after, without gaps or duplicates', async () => {
        const c = await connectors.make();
        await everyCoreChange(c);
        const all = await c.queryAuditEvents({ limit: 1000 });
        const seen: AuditEvent[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await c.queryAuditEvents({ limit: 5, ...(after ? { after } : {}) });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...page);
          after = page[page.length - 1]?.id;
        }
        expect(seen).toEqual(all);
        const steps = await c.queryAuditEvents({ eventType: 'workflow_step_updated', limit: 2 });
        const rest = await c.queryAuditEvents({ eventType: 'workflow_step_updated', after: steps[1]?.id });
        expect([...steps, ...rest]).toEqual(all.filter((e) => e.eventType === 'workflow_step_updated'));
      });

      it('returns at most 100 records by default', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'a', role: 'r' });
        for (let i = 0; i < 105; i++) await c.updateActor({ id: a.id, name: `a${i}` });
        expect(await c.queryAuditEvents()).toHaveLength(100);
        expect(await c.queryAuditEvents({ limit: 1000 })).toHaveLength(106);
      });

      it('rejects a limit above 1000, bad dates, unknown entity types and unknown keys with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.queryAuditEvents({ limit: 1001 }), 'INVALID_INPUT');
        await expectError(c.queryAuditEvents({ startDate: 'yesterday' }), 'INVALID_INPUT');
        await expectError(c.queryAuditEvents({ endDate: '2026-13-45' }), 'INVALID_INPUT');
        await expectError(c.queryAuditEvents({ entityType: 'robot' } as never), 'INVALID_INPUT');
        await expectError(c.queryAuditEvents({ event_type: 'actor_created' } as never), 'INVALID_INPUT');
      });
    });

    describe('audit sinks', () => {
      it('receive every record, in seq order, equal to the stored ones', async () => {
        const received: AuditEvent[] = [];
        const slow: AuditEvent[] = [];
        const c = await connectors.make({
          audit: {
            sinks: [
              { write: (e) => void received.push(e) },
              {
                name: 'slow',
                write: async (e) => {
                  await new Promise((r) => setTimeout(r, e.seq % 3));
                  slow.push(e);
                },
              },
            ],
          },
        });
        await everyCoreChange(c);
        await c.flushAuditSinks();
        const stored = await c.queryAuditEvents({ limit: 1000 });
        expect(received).toEqual(stored);
        expect(slow).toEqual(stored);
      });

      it('report a throwing or rejecting sink as an error event, and never break or lose the write', async () => {
        const good: number[] = [];
        let calls = 0;
        const sinks: AuditSink[] = [
          {
            name: 'throws',
            write: () => {
              throw new Error('disk full');
            },
          },
          {
            name: 'rejects',
            write: async () => {
              calls++;
              throw new Error('network down');
            },
          },
          { name: 'good', write: (e) => void good.push(e.seq) },
        ];
        const c = await connectors.make({ audit: { sinks } });
        const errors = collectErrors(c);
        const a = await c.createActor({ name: 'a', role: 'r' });
        await c.updateActor({ id: a.id, status: 'busy' });
        await c.flushAuditSinks();
        expect((await c.getActor({ id: a.id })).status).toBe('busy');
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 2 });
        expect(good).toEqual([1, 2]);
        expect(calls).toBe(2);
        expect(errors).toHaveLength(4);
        expect(errors.map((e) => e.context)).toEqual([
          { source: 'sink', eventType: 'actor_created', sink: 'throws' },
          { source: 'sink', eventType: 'actor_created', sink: 'rejects' },
          { source: 'sink', eventType: 'actor_updated', sink: 'throws' },
          { source: 'sink', eventType: 'actor_updated', sink: 'rejects' },
        ]);
        expect(errors.map((e) => (e.error as Error).message)).toEqual([
          'disk full',
          'network down',
          'disk full',
          'network down',
        ]);
      });

      it('receive nothing when the audit trail is disabled', async () => {
        const received: AuditEvent[] = [];
        const c = await connectors.make({
          enableAudit: false,
          audit: { sinks: [{ write: (e) => void received.push(e) }] },
        });
        await c.createActor({ name: 'a', role: 'r' });
        await c.flushAuditSinks();
        expect(received).toEqual([]);
      });

      it('are flushed by close()', async () => {
        const received: number[] = [];
        const c = await connectors.make({
          audit: {
            sinks: [
              {
                write: async (e) => {
                  await new Promise((r) => setTimeout(r, 5));
                  received.push(e.seq);
                },
              },
            ],
          },
        });
        await c.createActor({ name: 'a', role: 'r' });
        await c.createActor({ name: 'b', role: 'r' });
        await c.close();
        expect(received).toEqual([1, 2]);
      });
    });
  });
}

describe('verifyAuditTrail on a tampered MemoryStore', () => {
  const open: OrchestrationConnector[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });

  async function trail(signingKey?: string) {
    const store = new MemoryStore();
    const c = new OrchestrationConnector({ store, ...(signingKey ? { audit: { signingKey } } : {}) });
    open.push(c);
    const a = await c.createActor({ name: 'a', role: 'r' });
    for (let i = 0; i < 5; i++) await c.updateActor({ id: a.id, name: `a${i}` });
    return { c, records: store.unsafeAuditRecords() };
  }

  it('finds a record whose details were changed, at its seq', async () => {
    const { c, records } = await trail();
    (records[2] as AuditEvent).details = { changes: { name: { from: 'a', to: 'mallory' } } };
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, count: 2, firstInvalidSeq: 3 });
  });

  it('finds a record whose actor was changed', async () => {
    const { c, records } = await trail();
    (records[4] as AuditEvent).actorId = 'someone_else';
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: 5 });
  });

  it('finds a removed record as a gap in seq', async () => {
    const { c, records } = await trail();
    records.splice(3, 1);
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, count: 3, firstInvalidSeq: 4 });
  });

  it('finds a record rewritten with a recomputed hash by the broken link to the next one', async () => {
    const { c, records } = await trail();
    const r = records[1] as AuditEvent;
    r.details = { forged: true };
    r.hash = expectedHash(r);
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: 3 });
  });

  it('needs a saved head to notice a removed tail', async () => {
    const { c, records } = await trail();
    const head = await c.getAuditHead();
    records.pop();
    expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 5 });
    expect(await c.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: 6 });
  });

  it('needs a saved head to notice a tail rewritten with recomputed hashes', async () => {
    const { c, records } = await trail();
    const head = await c.getAuditHead();
    const last = records[records.length - 1] as AuditEvent;
    last.details = { forged: true };
    last.hash = expectedHash(last);
    expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 6 });
    expect(await c.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: 6 });
  });

  it('with a signing key, finds a rewritten record even when every hash was recomputed', async () => {
    const { c, records } = await trail(KEY);
    const last = records[records.length - 1] as AuditEvent;
    last.details = { forged: true };
    last.hash = expectedHash(last);
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: 6 });
  });

  it('with a signing key, finds a forged signature', async () => {
    const { c, records } = await trail(KEY);
    const r = records[3] as AuditEvent;
    r.signature = hmac(r.hash, 'guessed-key-of-some-length');
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, count: 3, firstInvalidSeq: 4 });
    delete r.signature;
    expect(await c.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: 4 });
  });
});

describe('queryAuditEvents date validation', () => {
  it.each(['2026-02-31', 'Jan 31 2026', '2026-1-5', '2026-01-31 12:00'])('rejects %s with INVALID_INPUT', async (d) => {
    const { OrchestrationConnector } = await import('../../src/index.js');
    const c = new OrchestrationConnector();
    await expect(c.queryAuditEvents({ startDate: d })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await c.close();
  });
});
