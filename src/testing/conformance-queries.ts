import { strict as assert } from 'node:assert';
import { indexEntries } from '../stores/indexing.js';
import type { EntityKind, EntityMap, Store } from '../stores/store.js';
import type { Actor } from '../types.js';
import {
  actionEntity,
  actorEntity,
  type ConformanceCase,
  changeOf,
  expectOk,
  idsOf,
  insertAll,
  policyEntity,
  proposalEntity,
  shuffled,
  updateOf,
  workflowEntity,
} from './fixtures.js';

type Filter = [string, string];

/** `items` in the order of every query: by `createdAt`, then by id. */
function byCreation<T extends { id: string; createdAt: string }>(items: readonly T[]): T[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...items].sort((a, b) => cmp(a.createdAt, b.createdAt) || cmp(a.id, b.id));
}

/** An ISO timestamp `seconds` after a fixed start. */
const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000).toISOString();

/** Every page of `query('actor', filters)` with `limit`, following `after`, concatenated. */
async function allPages(store: Store, filters: Filter[], limit: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.query('actor', { filters, limit, ...(after === undefined ? {} : { after }) });
    assert.ok(page.length <= limit, 'a page holds at most limit items');
    seen.push(...idsOf(page));
    if (page.length < limit) break;
    after = page[page.length - 1]?.id;
  }
  return seen;
}

/** Checks `query(kind)` against a reference filter over `entities` (by `indexEntries`) for many filter sets. */
async function checkQueries<K extends EntityKind>(store: Store, kind: K, entities: EntityMap[K][]): Promise<void> {
  const entries = new Map(entities.map((e) => [e.id, indexEntries(kind, e)]));
  const expected = (filters: Filter[]) =>
    idsOf(
      byCreation(entities).filter((e) =>
        filters.every(([f, v]) => entries.get(e.id)?.some(([g, w]) => g === f && w === v)),
      ),
    );
  const check = async (filters: Filter[]) => {
    const got = await store.query(kind, { filters, limit: 1000 });
    assert.deepEqual(idsOf(got), expected(filters), `query('${kind}', ${JSON.stringify(filters)})`);
  };

  assert.deepEqual(await store.query(kind, { filters: [], limit: 1000 }), byCreation(entities));
  const seen = new Map<string, Filter>();
  for (const list of entries.values()) for (const p of list) seen.set(JSON.stringify(p), p);
  const pairs = [...seen.values()];
  for (const p of pairs) await check([p]);
  for (const field of new Set(pairs.map(([f]) => f))) await check([[field, 'no-such-value']]);
  for (const list of entries.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) await check([list[i] as Filter, list[j] as Filter]);
    }
    await check(list);
  }
  for (let i = 0; i < pairs.length; i++) await check([pairs[i] as Filter, pairs[(i * 7 + 3) % pairs.length] as Filter]);
}

const cycle = <T>(values: readonly T[], i: number): T => values[i % values.length] as T;

/** Cases of `query` and `count`. */
export function queryCases(): ConformanceCase[] {
  const people = ['actor_p1', 'actor_p2', 'actor_p3'];
  return [
    {
      name: 'query - actors by status, role and capability, alone and together',
      run: async (store) => {
        const caps = [[], ['deploy'], ['deploy', 'review'], ['review', 'review'], ['deploy', 'audit', 'review']];
        const actors = Array.from({ length: 12 }, (_, i) =>
          actorEntity({
            status: cycle(['active', 'inactive', 'busy'] as const, i),
            role: cycle(['dev', 'ops'], i),
            capabilities: cycle(caps, i),
          }),
        );
        await insertAll(store, 'actor', shuffled(actors));
        await checkQueries(store, 'actor', actors);
      },
    },
    {
      name: 'query - workflows by status, priority and assignedActor, alone and together',
      run: async (store) => {
        const workflows = Array.from({ length: 10 }, (_, i) =>
          workflowEntity({
            status: cycle(['draft', 'active', 'completed', 'failed', 'cancelled'] as const, i),
            priority: cycle(['low', 'medium', 'high', 'urgent'] as const, i),
            assignedActors: i % 4 === 0 ? [] : people.slice(i % 3).concat(i % 5 === 1 ? [people[2] as string] : []),
          }),
        );
        await insertAll(store, 'workflow', shuffled(workflows));
        await checkQueries(store, 'workflow', workflows);
      },
    },
    {
      name: 'query - proposals by status, priority, requester and reviewer, alone and together',
      run: async (store) => {
        const proposals = Array.from({ length: 10 }, (_, i) =>
          proposalEntity({
            status: cycle(['pending', 'approved', 'rejected', 'withdrawn'] as const, i),
            priority: cycle(['low', 'high'] as const, i),
            ...(i % 3 === 0 ? {} : { requester: cycle(people, i) }),
            assignedReviewers: people.slice(0, i % 4),
          }),
        );
        await insertAll(store, 'proposal', shuffled(proposals));
        await checkQueries(store, 'proposal', proposals);
      },
    },
    {
      name: 'query - actions by status, tool, actorId and workflowId, alone and together',
      run: async (store) => {
        const actions = Array.from({ length: 12 }, (_, i) =>
          actionEntity({
            status: cycle(['pending', 'approved', 'executing', 'executed', 'failed', 'rejected'] as const, i),
            tool: cycle(['send_email', 'deploy', 'read_file'], i),
            actorId: cycle(people, i + 1),
            ...(i % 2 === 0 ? { workflowId: cycle(['workflow_a', 'workflow_b'], i / 2) } : {}),
          }),
        );
        await insertAll(store, 'action', shuffled(actions));
        await checkQueries(store, 'action', actions);
      },
    },
    {
      name: 'query - multi-valued fields match each of their values; every filter must match',
      run: async (store) => {
        const both = actorEntity({ capabilities: ['deploy', 'review'] });
        const deployOnly = actorEntity({ capabilities: ['deploy'], status: 'busy' });
        const none = actorEntity();
        await insertAll(store, 'actor', [both, deployOnly, none]);
        const q = async (filters: Filter[]) => idsOf(await store.query('actor', { filters, limit: 100 }));
        assert.deepEqual(await q([['capability', 'deploy']]), [both.id, deployOnly.id]);
        assert.deepEqual(await q([['capability', 'review']]), [both.id]);
        assert.deepEqual(
          await q([
            ['capability', 'deploy'],
            ['capability', 'review'],
          ]),
          [both.id],
        );
        assert.deepEqual(
          await q([
            ['capability', 'review'],
            ['capability', 'nope'],
          ]),
          [],
        );
        assert.deepEqual(
          await q([
            ['capability', 'deploy'],
            ['status', 'busy'],
          ]),
          [deployOnly.id],
        );
        assert.deepEqual(
          await q([
            ['status', 'active'],
            ['status', 'busy'],
          ]),
          [],
        );
        assert.deepEqual(
          await q([
            ['status', 'active'],
            ['status', 'active'],
          ]),
          [both.id, none.id],
        );
        assert.deepEqual(await q([['unknownField', 'x']]), []);

        const wf = workflowEntity({ assignedActors: ['actor_x', 'actor_y', 'actor_x'] });
        const pr = proposalEntity({ assignedReviewers: ['actor_x', 'actor_y'] });
        await insertAll(store, 'workflow', [wf]);
        await insertAll(store, 'proposal', [pr]);
        for (const who of ['actor_x', 'actor_y']) {
          assert.deepEqual(idsOf(await store.query('workflow', { filters: [['assignedActor', who]], limit: 10 })), [
            wf.id,
          ]);
          assert.deepEqual(idsOf(await store.query('proposal', { filters: [['reviewer', who]], limit: 10 })), [pr.id]);
        }
      },
    },
    {
      name: 'query - each kind is separate and results are ordered by creation time, not by insert or update time',
      run: async (store) => {
        const actors = Array.from({ length: 8 }, () => actorEntity());
        await insertAll(store, 'actor', shuffled(actors));
        await insertAll(store, 'workflow', [workflowEntity()]);
        await insertAll(store, 'policy', [policyEntity()]);
        expectOk(await store.commit(changeOf([updateOf('actor', actors[0] as Actor, { name: 'touched' })])));
        const got = await store.query('actor', { filters: [], limit: 100 });
        assert.deepEqual(idsOf(got), idsOf(byCreation(actors)));
        assert.equal(got[0]?.name, 'touched');
        assert.equal((await store.query('workflow', { filters: [], limit: 100 })).length, 1);
        assert.deepEqual(idsOf(await store.query('policy', { filters: [], limit: 100 })), ['policy']);
        assert.deepEqual(
          idsOf(await store.query('actor', { filters: [], limit: 3 })),
          idsOf(byCreation(actors)).slice(0, 3),
        );
      },
    },
    {
      name: 'query - keyset pages with limit and after have no duplicates or gaps',
      run: async (store) => {
        const actors = Array.from({ length: 31 }, (_, i) =>
          actorEntity({ status: i % 3 === 0 ? 'busy' : 'active', capabilities: i % 2 === 0 ? ['even'] : [] }),
        );
        await insertAll(store, 'actor', shuffled(actors));
        const sorted = byCreation(actors);
        const sets: Array<[Filter[], string[]]> = [
          [[], idsOf(sorted)],
          [[['status', 'active']], idsOf(sorted.filter((a) => a.status === 'active'))],
          [
            [
              ['status', 'active'],
              ['capability', 'even'],
            ],
            idsOf(sorted.filter((a) => a.status === 'active' && a.capabilities.includes('even'))),
          ],
        ];
        for (const [filters, want] of sets) {
          for (const limit of [1, 4, 7, 100]) {
            assert.deepEqual(
              await allPages(store, filters, limit),
              want,
              `pages of ${limit} with ${JSON.stringify(filters)}`,
            );
          }
        }
        // `after` need not match the filters: the previous page's last item may have changed since.
        const busyAt = sorted.findIndex((a, i) => a.status === 'busy' && i > 5);
        const busy = sorted[busyAt] as Actor;
        const rest = idsOf(sorted.slice(busyAt + 1).filter((a) => a.status === 'active'));
        assert.deepEqual(
          idsOf(await store.query('actor', { filters: [['status', 'active']], limit: 100, after: busy.id })),
          rest,
        );
        const last = sorted[sorted.length - 1] as Actor;
        assert.deepEqual(await store.query('actor', { filters: [], limit: 10, after: last.id }), []);
        // An `after` that names no entity of the kind gives an empty page, as in queryAudit.
        for (const filters of [[], [['status', 'active']], sets[2]?.[0] ?? []] as Filter[][]) {
          for (const after of ['actor_unknown', '']) {
            assert.deepEqual(await store.query('actor', { filters, limit: 10, after }), [], `after '${after}'`);
          }
        }
        await insertAll(store, 'workflow', [workflowEntity({ id: 'workflow_other' })]);
        assert.deepEqual(await store.query('actor', { filters: [], limit: 10, after: 'workflow_other' }), []);
      },
    },
    {
      name: 'query - explicit ids created out of alphabetical order come back in creation order, filtered and paged',
      run: async (store) => {
        const names = ['zed', 'amy', 'mia', 'bob', 'yan', 'cat', 'kim', 'ann', 'xia', 'dan', 'lee'];
        const actors = names.map((id, i) =>
          actorEntity({
            id,
            createdAt: at(i),
            updatedAt: at(i),
            status: i % 3 === 2 ? 'busy' : 'active',
            capabilities: i % 2 === 0 ? ['even'] : [],
          }),
        );
        await insertAll(store, 'actor', shuffled(actors));
        // A later update (and its updatedAt) does not move an entity.
        const first = actors[0] as Actor;
        expectOk(await store.commit(changeOf([updateOf('actor', first, { name: 'updated' })])));
        const inOrder = (keep: (a: Actor) => boolean) => idsOf(actors.filter(keep));
        const sets: Array<[Filter[], string[]]> = [
          [[], names],
          [[['status', 'active']], inOrder((a) => a.status === 'active')],
          [[['capability', 'even']], inOrder((a) => a.capabilities.includes('even'))],
          [
            [
              ['status', 'active'],
              ['capability', 'even'],
            ],
            inOrder((a) => a.status === 'active' && a.capabilities.includes('even')),
          ],
        ];
        for (const [filters, want] of sets) {
          const all = await store.query('actor', { filters, limit: 1000 });
          assert.deepEqual(idsOf(all), want, `query with ${JSON.stringify(filters)}`);
          for (const limit of [1, 2, 3, 100]) {
            assert.deepEqual(
              await allPages(store, filters, limit),
              want,
              `pages of ${limit} with ${JSON.stringify(filters)}`,
            );
          }
        }
        assert.equal((await store.query('actor', { filters: [], limit: 1 }))[0]?.name, 'updated');
        // The cursor is a place in creation order, whether or not it matches the filters.
        assert.deepEqual(
          idsOf(await store.query('actor', { filters: [['status', 'active']], limit: 100, after: 'mia' })),
          ['bob', 'yan', 'kim', 'ann', 'dan', 'lee'],
        );
        assert.deepEqual(idsOf(await store.query('actor', { filters: [], limit: 2, after: 'amy' })), ['mia', 'bob']);
        assert.deepEqual(await store.query('actor', { filters: [], limit: 10, after: 'lee' }), []);
      },
    },
    {
      name: 'query - entities with equal createdAt are ordered by id, and pages split ties without gaps',
      run: async (store) => {
        const made = [
          actorEntity({ id: 'actor_t2_c', createdAt: at(2), status: 'busy' }),
          actorEntity({ id: 'actor_t1_z', createdAt: at(1) }),
          actorEntity({ id: 'actor_t2_a', createdAt: at(2) }),
          actorEntity({ id: 'actor_t3_a', createdAt: at(3), status: 'busy' }),
          actorEntity({ id: 'actor_t2_b', createdAt: at(2) }),
          actorEntity({ id: 'actor_t0_y', createdAt: at(0), status: 'busy' }),
        ];
        await insertAll(store, 'actor', made);
        const want = ['actor_t0_y', 'actor_t1_z', 'actor_t2_a', 'actor_t2_b', 'actor_t2_c', 'actor_t3_a'];
        assert.deepEqual(idsOf(byCreation(made)), want);
        for (const limit of [1, 2, 4, 100]) {
          assert.deepEqual(await allPages(store, [], limit), want, `pages of ${limit}`);
          assert.deepEqual(await allPages(store, [['role', 'tester']], limit), want, `pages of ${limit} by role`);
        }
        assert.deepEqual(idsOf(await store.query('actor', { filters: [], limit: 2, after: 'actor_t2_a' })), [
          'actor_t2_b',
          'actor_t2_c',
        ]);
        assert.deepEqual(
          idsOf(await store.query('actor', { filters: [['status', 'busy']], limit: 10, after: 'actor_t2_a' })),
          ['actor_t2_c', 'actor_t3_a'],
        );
        assert.deepEqual(
          idsOf(await store.query('actor', { filters: [['status', 'active']], limit: 10, after: 'actor_t2_c' })),
          [],
        );
      },
    },
    {
      name: 'query - an entity that changes leaves its old index values, joins the new ones, and can come back',
      run: async (store) => {
        const [a, b, c] = [actorEntity(), actorEntity({ capabilities: ['x', 'y'] }), actorEntity()];
        await insertAll(store, 'actor', [a, b, c]);
        const ids = async (filters: Filter[]) => idsOf(await store.query('actor', { filters, limit: 100 }));
        const busy = updateOf('actor', b, { status: 'busy', capabilities: ['y', 'z'], role: 'ops' });
        expectOk(await store.commit(changeOf([busy])));
        assert.deepEqual(await ids([['status', 'active']]), [a.id, c.id]);
        assert.deepEqual(await ids([['status', 'busy']]), [b.id]);
        assert.deepEqual(await ids([['capability', 'x']]), []);
        assert.deepEqual(await ids([['capability', 'z']]), [b.id]);
        assert.deepEqual(await ids([['role', 'tester']]), [a.id, c.id]);
        expectOk(await store.commit(changeOf([updateOf('actor', busy.entity as Actor, { status: 'active' })])));
        assert.deepEqual(await ids([['status', 'active']]), [a.id, b.id, c.id]);
        assert.deepEqual(await ids([['status', 'busy']]), []);

        const act = actionEntity({ workflowId: 'workflow_w', status: 'pending' });
        await insertAll(store, 'action', [act]);
        const { workflowId: _w, ...detached } = act;
        expectOk(await store.commit(changeOf([updateOf('action', detached, { status: 'approved' })])));
        const q = async (filters: Filter[]) => idsOf(await store.query('action', { filters, limit: 10 }));
        assert.deepEqual(await q([['workflowId', 'workflow_w']]), []);
        assert.deepEqual(await q([['status', 'pending']]), []);
        assert.deepEqual(await q([['status', 'approved']]), [act.id]);
      },
    },
    {
      name: 'count - totals and counts by status per kind, following status changes',
      run: async (store) => {
        for (const kind of ['actor', 'workflow', 'proposal', 'action', 'policy'] as const) {
          assert.deepEqual(await store.count(kind), { total: 0, byStatus: {} });
        }
        const actors = [actorEntity(), actorEntity(), actorEntity({ status: 'busy' })];
        await insertAll(store, 'actor', actors);
        await insertAll(store, 'action', [actionEntity(), actionEntity({ status: 'approved' })]);
        await insertAll(store, 'policy', [policyEntity()]);
        assert.deepEqual(await store.count('actor'), { total: 3, byStatus: { active: 2, busy: 1 } });
        assert.deepEqual(await store.count('action'), { total: 2, byStatus: { pending: 1, approved: 1 } });
        assert.deepEqual(await store.count('workflow'), { total: 0, byStatus: {} });
        assert.deepEqual(await store.count('policy'), { total: 1, byStatus: {} });
        expectOk(await store.commit(changeOf([updateOf('actor', actors[2] as Actor, { status: 'inactive' })])));
        assert.deepEqual(await store.count('actor'), { total: 3, byStatus: { active: 2, inactive: 1 } });
      },
    },
  ];
}
