import { strict as assert } from 'node:assert';
import type { ActionProposal, Actor } from '../types.js';
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
  proposalEntity,
  updateOf,
  workflowEntity,
} from './fixtures.js';

/** Cases of `get`, `getByUnique` and the preconditions of `commit`. */
export function entityCases(): ConformanceCase[] {
  return [
    {
      name: 'commit - insert then get returns an equal entity of every kind',
      run: async (store) => {
        const actor = actorEntity({ capabilities: ['deploy', 'review'] });
        const workflow = workflowEntity({ assignedActors: [actor.id], createdBy: actor.id });
        const proposal = proposalEntity({ requester: actor.id, assignedReviewers: [actor.id] });
        const action = actionEntity({
          actorId: actor.id,
          params: {
            n: 1.5,
            neg: -3,
            flag: false,
            none: null,
            text: 'héllo ✓ "quoted" \n',
            list: [1, 'two', { three: 3 }],
          },
          idempotencyKey: 'key-1',
        });
        expectOk(
          await store.commit(
            changeOf([
              insertOf('actor', actor),
              insertOf('workflow', workflow),
              insertOf('proposal', proposal),
              insertOf('action', action),
            ]),
          ),
        );
        assert.deepEqual(await store.get('actor', actor.id), actor);
        assert.deepEqual(await store.get('workflow', workflow.id), workflow);
        assert.deepEqual(await store.get('proposal', proposal.id), proposal);
        assert.deepEqual(await store.get('action', action.id), action);
      },
    },
    {
      name: 'get - an unknown id, or an id of another kind, is undefined',
      run: async (store) => {
        const a = actorEntity();
        await insertAll(store, 'actor', [a]);
        assert.equal(await store.get('actor', 'actor_unknown'), undefined);
        assert.equal(await store.get('workflow', a.id), undefined);
      },
    },
    {
      name: 'get - results are copies: mutating a written or returned entity leaves stored state alone',
      run: async (store) => {
        const a = actorEntity({ capabilities: ['deploy'] });
        const snapshot = structuredClone(a);
        await insertAll(store, 'actor', [a]);
        a.name = 'changed after commit';
        a.capabilities.push('written');
        const got = (await store.get('actor', a.id)) as Actor;
        got.name = 'changed after get';
        got.capabilities.push('got');
        const [queried] = await store.query('actor', { filters: [], limit: 10 });
        (queried as Actor).capabilities.push('queried');
        const act = actionEntity({ idempotencyKey: 'k' });
        await insertAll(store, 'action', [act]);
        const byKey = (await store.getByUnique('action', 'idempotencyKey', 'k')) as ActionProposal;
        byKey.params.to = 'mutated';
        assert.deepEqual(await store.get('actor', a.id), snapshot);
        assert.equal((await store.get('action', act.id))?.params.to, 'a@example.com');
        assert.deepEqual(await store.query('actor', { filters: [['capability', 'written']], limit: 10 }), []);
      },
    },
    {
      name: 'commit - insert of a taken id conflicts with exists and writes nothing',
      run: async (store) => {
        const a = actorEntity();
        await insertAll(store, 'actor', [a]);
        const b = actorEntity();
        const r = await store.commit(changeOf([insertOf('actor', b), insertOf('actor', { ...a, name: 'X' })]));
        assert.deepEqual(r, { ok: false, conflict: { kind: 'actor', id: a.id, reason: 'exists' } });
        assert.equal(await store.get('actor', b.id), undefined);
        assert.equal((await store.get('actor', a.id))?.name, 'Test');
        assert.equal(await store.countAudit(), 1);
        assert.deepEqual(await store.count('actor'), { total: 1, byStatus: { active: 1 } });
      },
    },
    {
      name: 'commit - update applies when the stored version matches',
      run: async (store) => {
        const a = actorEntity();
        await insertAll(store, 'actor', [a]);
        const w = updateOf('actor', a, { name: 'Renamed', status: 'busy' });
        expectOk(await store.commit(changeOf([w])));
        assert.deepEqual(await store.get('actor', a.id), w.entity);
        assert.equal((await store.get('actor', a.id))?.version, 2);
      },
    },
    {
      name: 'commit - update with a stale expectedVersion conflicts with version and writes nothing',
      run: async (store) => {
        const a = actorEntity();
        await insertAll(store, 'actor', [a]);
        expectOk(await store.commit(changeOf([updateOf('actor', a, { name: 'First' })])));
        const r = await store.commit(changeOf([updateOf('actor', a, { name: 'Stale', status: 'busy' })]));
        assert.deepEqual(r, { ok: false, conflict: { kind: 'actor', id: a.id, reason: 'version' } });
        const stored = await store.get('actor', a.id);
        assert.equal(stored?.name, 'First');
        assert.equal(stored?.version, 2);
        assert.equal(await store.countAudit(), 2);
        assert.deepEqual(await store.query('actor', { filters: [['status', 'busy']], limit: 10 }), []);
      },
    },
    {
      name: 'commit - update of a missing id conflicts with missing and writes nothing',
      run: async (store) => {
        const a = actorEntity();
        const r = await store.commit(changeOf([updateOf('actor', a)]));
        assert.deepEqual(r, { ok: false, conflict: { kind: 'actor', id: a.id, reason: 'missing' } });
        assert.equal(await store.get('actor', a.id), undefined);
        assert.equal(await store.countAudit(), 0);
        assert.equal(await store.auditHead(), null);
      },
    },
    {
      name: 'commit - writes of several kinds apply all together or not at all',
      run: async (store) => {
        const a = actorEntity();
        const w = workflowEntity();
        await insertAll(store, 'actor', [a]);
        await insertAll(store, 'workflow', [w]);
        const fresh = proposalEntity();
        const act = actionEntity({ idempotencyKey: 'all-or-nothing' });
        const failing = changeOf([
          insertOf('proposal', fresh),
          insertOf('action', act),
          updateOf('actor', a, { status: 'busy' }),
          updateOf('workflow', w, { status: 'active' }, 7),
        ]);
        assert.deepEqual(await store.commit(failing), {
          ok: false,
          conflict: { kind: 'workflow', id: w.id, reason: 'version' },
        });
        assert.equal(await store.get('proposal', fresh.id), undefined);
        assert.equal(await store.get('action', act.id), undefined);
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'all-or-nothing'), undefined);
        assert.deepEqual(await store.get('actor', a.id), a);
        assert.deepEqual(await store.count('actor'), { total: 1, byStatus: { active: 1 } });
        assert.deepEqual(await store.count('proposal'), { total: 0, byStatus: {} });
        assert.equal(await store.countAudit(), 2);

        const passing = changeOf([...failing.writes.slice(0, 3), updateOf('workflow', w, { status: 'active' })]);
        const events = expectOk(await store.commit(passing));
        assert.equal(events.length, 4);
        assert.equal((await store.get('proposal', fresh.id))?.id, fresh.id);
        assert.equal((await store.get('action', act.id))?.id, act.id);
        assert.equal((await store.get('actor', a.id))?.status, 'busy');
        assert.equal((await store.get('workflow', w.id))?.status, 'active');
        assert.equal(await store.countAudit(), 6);
      },
    },
    {
      name: 'commit - a taken unique key conflicts with unique, also between two writes of one change',
      run: async (store) => {
        const first = actionEntity({ idempotencyKey: 'k1' });
        await insertAll(store, 'action', [first]);
        const dup = actionEntity({ idempotencyKey: 'k1' });
        assert.deepEqual(await store.commit(changeOf([insertOf('action', dup)])), {
          ok: false,
          conflict: { kind: 'action', id: dup.id, reason: 'unique', key: 'idempotencyKey' },
        });
        assert.equal(await store.get('action', dup.id), undefined);

        const x = actionEntity({ idempotencyKey: 'k2' });
        const y = actionEntity({ idempotencyKey: 'k2' });
        assert.deepEqual(await store.commit(changeOf([insertOf('action', x), insertOf('action', y)])), {
          ok: false,
          conflict: { kind: 'action', id: y.id, reason: 'unique', key: 'idempotencyKey' },
        });
        assert.equal(await store.get('action', x.id), undefined);
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'k2'), undefined);
        assert.equal(await store.countAudit(), 1);

        // Actions without a key never clash; the holder may keep its key through updates.
        await insertAll(store, 'action', [actionEntity(), actionEntity()]);
        expectOk(await store.commit(changeOf([updateOf('action', first, { status: 'approved' })])));
        assert.equal((await store.getByUnique('action', 'idempotencyKey', 'k1'))?.status, 'approved');
      },
    },
    {
      name: 'getByUnique - finds the holder of a key; a changed or dropped key is released',
      run: async (store) => {
        const a = actionEntity({ idempotencyKey: 'old' });
        await insertAll(store, 'action', [a]);
        assert.deepEqual(await store.getByUnique('action', 'idempotencyKey', 'old'), a);
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'unknown'), undefined);
        assert.equal(await store.getByUnique('actor', 'idempotencyKey', 'old'), undefined);

        const moved = updateOf('action', a, { idempotencyKey: 'new' });
        expectOk(await store.commit(changeOf([moved])));
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'old'), undefined);
        assert.equal((await store.getByUnique('action', 'idempotencyKey', 'new'))?.id, a.id);
        const other = actionEntity({ idempotencyKey: 'old' });
        await insertAll(store, 'action', [other]);
        assert.equal((await store.getByUnique('action', 'idempotencyKey', 'old'))?.id, other.id);

        const { idempotencyKey: _k, ...keyless } = moved.entity as ActionProposal;
        expectOk(await store.commit(changeOf([updateOf('action', keyless as ActionProposal)])));
        assert.equal(await store.getByUnique('action', 'idempotencyKey', 'new'), undefined);
        await insertAll(store, 'action', [actionEntity({ idempotencyKey: 'new' })]);
      },
    },
    {
      name: 'commit - a change without writes or records applies and returns no events',
      run: async (store) => {
        assert.deepEqual(await store.commit(changeOf([], [])), { ok: true, events: [] });
        assert.equal(await store.auditHead(), null);
      },
    },
    {
      name: 'commit - a change with only audit records (policy, system) appends them',
      run: async (store) => {
        const drafts = [
          draftOf({ eventType: 'policy_updated', entityType: 'policy', entityId: 'policy', details: { before: 1 } }),
          draftOf({ eventType: 'tool_forwarded', entityType: 'tool', entityId: 'remote.echo', actorId: 'actor_a' }),
          draftOf({ eventType: 'parallel_executed', entityType: 'system', entityId: 'batch_1' }),
        ];
        const events = expectOk(await store.commit(changeOf([], drafts)));
        assert.deepEqual(
          events.map((e) => [e.seq, e.eventType, e.entityType, e.entityId]),
          drafts.map((d, i) => [i + 1, d.eventType, d.entityType, d.entityId]),
        );
        assert.deepEqual(await allAudit(store), events);
        assert.equal(events[1]?.actorId, 'actor_a');
        assert.deepEqual(events[0]?.details, { before: 1 });
      },
    },
    {
      name: 'commit - of 50 concurrent updates with the same expectedVersion exactly one applies',
      run: async (store) => {
        const a = actorEntity();
        await insertAll(store, 'actor', [a]);
        const writes = Array.from({ length: 50 }, (_, i) => updateOf('actor', a, { name: `writer ${i}` }));
        const results = await Promise.all(writes.map((w) => store.commit(changeOf([w]))));
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        assert.equal(winners.length, 1, `expected exactly one winner, got ${winners.length}`);
        for (const r of results) {
          if (!r.ok) assert.deepEqual(r.conflict, { kind: 'actor', id: a.id, reason: 'version' });
        }
        assert.deepEqual(await store.get('actor', a.id), writes[winners[0] as number]?.entity);
        assert.equal(await store.countAudit(), 2);
      },
    },
  ];
}
