import { strict as assert } from 'node:assert';
import { createSealer, findChainBreak, GENESIS_HASH } from '../audit/chain.js';
import type { AuditDraft, AuditQuery, AuditSealer, Store } from '../stores/store.js';
import type { AuditEvent, AuditHead } from '../types.js';
import {
  actionEntity,
  actorEntity,
  allAudit,
  type ConformanceCase,
  changeOf,
  draftOf,
  expectOk,
  insertAll,
  insertOf,
  policyEntity,
  proposalEntity,
  updateOf,
  workflowEntity,
} from './fixtures.js';

const at = (second: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString();

/** Drafts with varied fields and increasing timestamps (one second apart, from `at(1)`). */
function variedDrafts(): AuditDraft[] {
  const rows: Array<[AuditDraft['eventType'], AuditDraft['entityType'], string, string | undefined]> = [
    ['actor_created', 'actor', 'actor_1', 'actor_1'],
    ['actor_updated', 'actor', 'actor_1', 'actor_2'],
    ['workflow_created', 'workflow', 'workflow_1', 'actor_1'],
    ['action_proposed', 'action', 'action_1', 'actor_2'],
    ['action_approved', 'action', 'action_1', 'actor_1'],
    ['policy_updated', 'policy', 'policy', undefined],
    ['action_proposed', 'action', 'action_2', 'actor_1'],
    ['actor_updated', 'actor', 'actor_1', undefined],
    ['action_executed', 'action', 'action_1', 'actor_2'],
    ['parallel_executed', 'system', 'batch_1', 'actor_1'],
    ['action_proposed', 'action', 'action_3', 'actor_2'],
  ];
  return rows.map(([eventType, entityType, entityId, actorId], i) =>
    draftOf({ eventType, entityType, entityId, ...(actorId ? { actorId } : {}), timestamp: at(i + 1) }),
  );
}

/** The reference answer of `queryAudit` over `events`. */
function expectedAudit(events: AuditEvent[], q: AuditQuery): string[] {
  let from = 0;
  if (q.after !== undefined) from = events.findIndex((e) => e.id === q.after) + 1;
  return events
    .slice(from)
    .filter(
      (e) =>
        (q.eventType === undefined || e.eventType === q.eventType) &&
        (q.entityType === undefined || e.entityType === q.entityType) &&
        (q.entityId === undefined || e.entityId === q.entityId) &&
        (q.actorId === undefined || e.actorId === q.actorId) &&
        (q.from === undefined || e.timestamp >= q.from) &&
        (q.to === undefined || e.timestamp <= q.to),
    )
    .slice(0, q.limit)
    .map((e) => e.id);
}

async function commitInChunks(store: Store, drafts: AuditDraft[], size: number): Promise<void> {
  for (let i = 0; i < drafts.length; i += size) expectOk(await store.commit(changeOf([], drafts.slice(i, i + size))));
}

async function checkAuditQuery(store: Store, events: AuditEvent[], q: AuditQuery): Promise<void> {
  const got = await store.queryAudit(q);
  assert.deepEqual(
    got.map((e) => e.id),
    expectedAudit(events, q),
    `queryAudit(${JSON.stringify(q)})`,
  );
}

/** Cases of the audit chain, `queryAudit`, `readAudit`, `auditHead`, `countAudit` and `clear`. */
export function auditCases(): ConformanceCase[] {
  return [
    {
      name: 'audit - seq runs 1..n without gaps across commits, each record chained to the previous',
      run: async (store) => {
        assert.equal(await store.auditHead(), null);
        const a = actorEntity();
        const returned: AuditEvent[] = [];
        returned.push(...expectOk(await store.commit(changeOf([insertOf('actor', a)]))));
        returned.push(...expectOk(await store.commit(changeOf([], [draftOf(), draftOf(), draftOf()]))));
        const stale = await store.commit(changeOf([updateOf('actor', a, {}, 9)]));
        assert.equal(stale.ok, false);
        returned.push(...expectOk(await store.commit(changeOf([updateOf('actor', a, { status: 'busy' })]))));
        const two = changeOf([insertOf('workflow', workflowEntity()), insertOf('proposal', proposalEntity())]);
        returned.push(...expectOk(await store.commit(two)));
        const events = await allAudit(store);
        assert.deepEqual(
          events.map((e) => e.seq),
          [1, 2, 3, 4, 5, 6, 7],
        );
        assert.deepEqual(events, returned);
        assert.equal(events[0]?.prevHash, GENESIS_HASH);
        assert.equal(findChainBreak(events, null), undefined);
        assert.deepEqual(await store.auditHead(), { seq: 7, hash: events[6]?.hash });
      },
    },
    {
      name: "audit - records are placed by the change's sealer, given the previous head",
      run: async (store) => {
        const inner = createSealer('conformance-secret');
        const prevs: Array<AuditHead | null> = [];
        const sealer: AuditSealer = (draft, prev) => {
          prevs.push(prev === null ? null : { seq: prev.seq, hash: prev.hash });
          return inner(draft, prev);
        };
        const events = [
          ...expectOk(await store.commit(changeOf([], [draftOf(), draftOf()], sealer))),
          ...expectOk(await store.commit(changeOf([insertOf('actor', actorEntity())], undefined, sealer))),
        ];
        assert.deepEqual(prevs, [null, ...events.slice(0, -1).map((e) => ({ seq: e.seq, hash: e.hash }))]);
        const stored = await allAudit(store);
        assert.deepEqual(stored, events);
        assert.ok(stored.every((e) => typeof e.signature === 'string'));
        assert.equal(findChainBreak(stored, null, 'conformance-secret'), undefined);
        const last = stored[2] as AuditEvent;
        assert.deepEqual(await store.auditHead(), { seq: 3, hash: last.hash, signature: last.signature });
      },
    },
    {
      name: 'audit - records keep their details exactly and are returned as copies',
      run: async (store) => {
        const details = { before: { n: 1, list: ['a', null, true] }, after: { text: 'ünïcode ✓', n: -0.5 } };
        const [event] = expectOk(await store.commit(changeOf([], [draftOf({ details, actorId: 'actor_a' })])));
        (event as AuditEvent).details.before = 'mutated';
        const [read] = await store.readAudit(1, 10);
        assert.deepEqual(read?.details, details);
        assert.equal(read?.actorId, 'actor_a');
        (read as AuditEvent).details.after = 'mutated';
        const [queried] = await store.queryAudit({ limit: 10 });
        assert.deepEqual(queried?.details, details);
        assert.equal(findChainBreak(await allAudit(store), null), undefined);
      },
    },
    {
      name: 'queryAudit - filters by eventType, entityType, entityId and actorId, alone and together',
      run: async (store) => {
        await commitInChunks(store, variedDrafts(), 3);
        const events = await allAudit(store);
        const values = {
          eventType: ['action_proposed', 'actor_updated', 'policy_updated', 'data_cleared'],
          entityType: ['action', 'actor', 'system', 'tool'],
          entityId: ['action_1', 'actor_1', 'nothing'],
          actorId: ['actor_1', 'actor_2', 'actor_9'],
        } as const;
        await checkAuditQuery(store, events, { limit: 1000 });
        const fields = Object.keys(values) as Array<keyof typeof values>;
        for (const f of fields)
          for (const v of values[f]) await checkAuditQuery(store, events, { [f]: v, limit: 1000 });
        for (const [i, f] of fields.entries()) {
          for (const g of fields.slice(i + 1)) {
            for (const v of values[f]) {
              for (const w of values[g]) await checkAuditQuery(store, events, { [f]: v, [g]: w, limit: 1000 });
            }
          }
        }
        await checkAuditQuery(store, events, {
          eventType: 'action_proposed',
          entityType: 'action',
          actorId: 'actor_2',
          limit: 1000,
        });
        await checkAuditQuery(store, events, { entityType: 'action', limit: 2 });
      },
    },
    {
      name: 'queryAudit - from and to are inclusive, also with other filters and out-of-order timestamps',
      run: async (store) => {
        await commitInChunks(store, variedDrafts(), 4);
        // A second process with a slower clock may append records with earlier timestamps.
        const late = [at(3), at(20), at(1), at(6)].map((timestamp) => draftOf({ timestamp, actorId: 'actor_1' }));
        await commitInChunks(store, late, 2);
        const events = await allAudit(store);
        const ranges: Array<[string | undefined, string | undefined]> = [
          [at(3), undefined],
          [undefined, at(6)],
          [at(3), at(7)],
          [at(5), at(5)],
          [at(0), at(30)],
          [at(21), undefined],
          [undefined, at(0)],
          [at(7), at(3)],
        ];
        for (const [from, to] of ranges) {
          const range = { ...(from ? { from } : {}), ...(to ? { to } : {}) };
          await checkAuditQuery(store, events, { ...range, limit: 1000 });
          await checkAuditQuery(store, events, { ...range, actorId: 'actor_1', limit: 1000 });
          await checkAuditQuery(store, events, { ...range, eventType: 'policy_updated', limit: 1000 });
          await checkAuditQuery(store, events, { ...range, limit: 2 });
        }
      },
    },
    {
      name: 'queryAudit - pages with after (an event id) without duplicates or gaps',
      run: async (store) => {
        await commitInChunks(store, variedDrafts(), 2);
        await commitInChunks(store, variedDrafts(), 5);
        const events = await allAudit(store);
        const queries: AuditQuery[] = [
          { limit: 3 },
          { limit: 1, eventType: 'action_proposed' },
          { limit: 4, actorId: 'actor_1' },
          { limit: 2, entityType: 'action', from: at(4), to: at(9) },
        ];
        for (const q of queries) {
          const seen: string[] = [];
          let after: string | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const page = await store.queryAudit({ ...q, ...(after === undefined ? {} : { after }) });
            assert.ok(page.length <= q.limit);
            seen.push(...page.map((e) => e.id));
            if (page.length < q.limit) break;
            after = page[page.length - 1]?.id;
          }
          assert.deepEqual(seen, expectedAudit(events, { ...q, limit: 1000 }), `pages of ${JSON.stringify(q)}`);
        }
        // The cursor is any event id, also one the filters do not match.
        const cursor = events[4] as AuditEvent;
        await checkAuditQuery(store, events, { after: cursor.id, actorId: 'actor_2', limit: 1000 });
        const last = events[events.length - 1] as AuditEvent;
        assert.deepEqual(await store.queryAudit({ after: last.id, limit: 10 }), []);
        assert.deepEqual(await store.queryAudit({ after: 'evt_unknown', limit: 10 }), []);
      },
    },
    {
      name: 'readAudit - reads from a seq, in seq order, at most limit',
      run: async (store) => {
        assert.deepEqual(await store.readAudit(1, 10), []);
        await commitInChunks(store, variedDrafts(), 3);
        const events = await allAudit(store);
        assert.equal(events.length, 11);
        assert.deepEqual(await store.readAudit(1, 3), events.slice(0, 3));
        assert.deepEqual(await store.readAudit(4, 5), events.slice(3, 8));
        assert.deepEqual(await store.readAudit(9, 100), events.slice(8));
        assert.deepEqual(await store.readAudit(12, 10), []);
        assert.deepEqual(await store.readAudit(2, 0), []);
      },
    },
    {
      name: "auditHead and countAudit - the last record's seq and hash; totals overall and per event type",
      run: async (store) => {
        assert.equal(await store.auditHead(), null);
        assert.equal(await store.countAudit(), 0);
        assert.equal(await store.countAudit('actor_created'), 0);
        await commitInChunks(store, variedDrafts(), 4);
        const last = (await store.readAudit(11, 1))[0] as AuditEvent;
        assert.deepEqual(await store.auditHead(), { seq: 11, hash: last.hash });
        assert.equal(await store.countAudit(), 11);
        assert.equal(await store.countAudit('action_proposed'), 3);
        assert.equal(await store.countAudit('actor_updated'), 2);
        assert.equal(await store.countAudit('policy_updated'), 1);
        assert.equal(await store.countAudit('data_cleared'), 0);
      },
    },
    {
      name: "clear - empties everything and starts a new chain at seq 1 with the change's records",
      run: async (store) => {
        const actor = actorEntity();
        const action = actionEntity({ idempotencyKey: 'before-clear', actorId: actor.id });
        await insertAll(store, 'actor', [actor]);
        await insertAll(store, 'action', [action]);
        await insertAll(store, 'workflow', [workflowEntity()]);
        await insertAll(store, 'proposal', [proposalEntity()]);
        await commitInChunks(store, variedDrafts(), 5);
        const policy = policyEntity();
        const cleared = draftOf({ eventType: 'data_cleared', entityType: 'system', entityId: 'store' });
        const events = await store.clear(changeOf([insertOf('policy', policy)], [cleared]));
        assert.equal(events.length, 1);
        assert.equal(events[0]?.seq, 1);
        assert.equal(events[0]?.prevHash, GENESIS_HASH);
        assert.equal(events[0]?.id, cleared.id);
        assert.deepEqual(await allAudit(store), events);
        assert.deepEqual(await store.auditHead(), { seq: 1, hash: events[0]?.hash });
        assert.equal(await store.countAudit(), 1);
        assert.equal(await store.countAudit('actor_created'), 0);
        assert.deepEqual(await store.queryAudit({ entityId: actor.id, limit: 10 }), []);
        assert.equal(await store.get('actor', actor.id), undefined);
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'before-clear'), undefined);
        for (const kind of ['actor', 'workflow', 'proposal', 'action'] as const) {
          assert.deepEqual(await store.count(kind), { total: 0, byStatus: {} });
          assert.deepEqual(await store.query(kind, { filters: [], limit: 10 }), []);
        }
        assert.deepEqual(await store.query('actor', { filters: [['status', 'active']], limit: 10 }), []);
        assert.deepEqual(await store.get('policy', 'policy'), policy);

        // The new chain continues, and freed ids and keys can be used again.
        await insertAll(store, 'actor', [actor]);
        await insertAll(store, 'action', [action]);
        const all = await allAudit(store);
        assert.deepEqual(
          all.map((e) => e.seq),
          [1, 2, 3],
        );
        assert.equal(findChainBreak(all, null), undefined);
        assert.equal((await store.getByUnique('action', 'idempotencyKey', 'before-clear'))?.id, action.id);
      },
    },
    {
      name: 'commit - 50 concurrent commits produce one gapless, valid chain',
      run: async (store) => {
        const changes = Array.from({ length: 50 }, (_, i) =>
          changeOf(
            [insertOf('actor', actorEntity({ name: `actor ${i}` }))],
            i % 3 === 0 ? undefined : [draftOf(), draftOf()],
          ),
        );
        const results = await Promise.all(changes.map((c) => store.commit(c)));
        const returned = results.flatMap((r) => expectOk(r));
        const events = await allAudit(store);
        const total = changes.reduce((n, c) => n + c.audit.length, 0);
        assert.equal(events.length, total);
        assert.deepEqual(
          events.map((e) => e.seq),
          Array.from({ length: total }, (_, i) => i + 1),
        );
        assert.equal(findChainBreak(events, null), undefined);
        assert.deepEqual(
          [...returned].sort((x, y) => x.seq - y.seq),
          events,
        );
        assert.equal((await store.count('actor')).total, 50);
      },
    },
  ];
}
