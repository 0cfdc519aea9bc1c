import { describe, expect, it } from 'vitest';
import type { OrchestrationConnector } from '../../src/connector.js';
import type { Actor } from '../../src/types.js';
import { connectorsOn, expectError, expectUnchanged, manualClock, snapshot } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const ids = (list: Array<{ id: string }>) => list.map((x) => x.id);

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    describe('createActor', () => {
      it('creates an active actor with a prefixed id, no capabilities and equal timestamps', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        expect(a).toMatchObject({ name: 'Ada', role: 'reviewer', capabilities: [], status: 'active' });
        expect(a.id).toMatch(/^actor_/);
        expect(a.updatedAt).toBe(a.createdAt);
        expect(await c.getActor({ id: a.id })).toEqual(a);
      });

      it('keeps an explicit id, capabilities (without duplicates) and status', async () => {
        const c = await connectors.make();
        const a = await c.createActor({
          id: 'ai_agent',
          name: 'Agent',
          role: 'agent',
          capabilities: ['deploy', 'read', 'deploy'],
          status: 'busy',
        });
        expect(a).toMatchObject({ id: 'ai_agent', capabilities: ['deploy', 'read'], status: 'busy' });
        expect(await c.getActor({ id: 'ai_agent' })).toEqual(a);
      });

      it('gives unique ids that sort by creation time', async () => {
        const c = await connectors.make();
        const created: Actor[] = [];
        for (let i = 0; i < 20; i++) created.push(await c.createActor({ name: `a${i}`, role: 'agent' }));
        const sorted = [...ids(created)].sort();
        expect(sorted).toEqual(ids(created));
        expect(new Set(sorted).size).toBe(20);
      });

      it('rejects a duplicate id with CONFLICT and leaves the first actor and the trail untouched', async () => {
        const c = await connectors.make();
        const first = await c.createActor({ id: 'ops', name: 'Ops', role: 'human' });
        const before = await snapshot(c);
        const err = await expectError(c.createActor({ id: 'ops', name: 'Other', role: 'agent' }), 'CONFLICT', {
          id: 'ops',
        });
        expect(err.message).toContain('ops');
        await expectUnchanged(c, before);
        expect(await c.getActor({ id: 'ops' })).toEqual(first);
      });

      it('lets exactly one of many concurrent creations of the same id win', async () => {
        const c = await connectors.make();
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => c.createActor({ id: 'shared', name: `n${i}`, role: 'agent' })),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        for (const r of lost) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT' });
        expect(await c.getActor({ id: 'shared' })).toEqual((won[0] as PromiseFulfilledResult<Actor>).value);
        expect(await c.queryAuditEvents({ entityId: 'shared' })).toHaveLength(1);
      });

      const invalid: Array<[string, Record<string, unknown>]> = [
        ['an unknown key', { name: 'A', role: 'r', email: 'a@example.org' }],
        ['a missing name', { role: 'r' }],
        ['a blank name', { name: '   ', role: 'r' }],
        ['a missing role', { name: 'A' }],
        ['an unknown status', { name: 'A', role: 'r', status: 'sleeping' }],
        ['capabilities that are not strings', { name: 'A', role: 'r', capabilities: [1] }],
        ['an id with spaces', { id: 'a b', name: 'A', role: 'r' }],
        ['an empty id', { id: '', name: 'A', role: 'r' }],
      ];
      for (const [what, input] of invalid) {
        it(`rejects ${what} with INVALID_INPUT and stores nothing`, async () => {
          const c = await connectors.make();
          const before = await snapshot(c);
          const err = await expectError(c.createActor(input as never), 'INVALID_INPUT');
          expect(err.details).toMatchObject({ method: 'createActor', issues: expect.any(Array) });
          await expectUnchanged(c, before);
        });
      }
    });

    describe('updateActor', () => {
      it('changes only the given fields and moves updatedAt', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        const a = await c.createActor({ name: 'Ada', role: 'reviewer', capabilities: ['read'] });
        clock.advance(1000);
        const b = await c.updateActor({ id: a.id, status: 'inactive', capabilities: ['read', 'deploy'] });
        expect(b).toEqual({
          ...a,
          status: 'inactive',
          capabilities: ['read', 'deploy'],
          updatedAt: new Date(Date.parse(a.createdAt) + 1000).toISOString(),
          version: a.version + 1,
        });
        expect(await c.getActor({ id: a.id })).toEqual(b);
        const c2 = await c.updateActor({ id: a.id, name: 'Ada L.', role: 'admin' });
        expect(c2).toMatchObject({ name: 'Ada L.', role: 'admin', status: 'inactive' });
      });

      it('records each changed field with its old and new value', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        await c.updateActor({ id: a.id, status: 'busy', name: 'Ada' });
        const [e] = await c.queryAuditEvents({ eventType: 'actor_updated' });
        expect(e?.details).toEqual({ changes: { status: { from: 'active', to: 'busy' } } });
      });

      it('fails with NOT_FOUND for an unknown id and changes nothing', async () => {
        const c = await connectors.make();
        await c.createActor({ name: 'Ada', role: 'reviewer' });
        const before = await snapshot(c);
        const err = await expectError(c.updateActor({ id: 'nobody', status: 'busy' }), 'NOT_FOUND', { id: 'nobody' });
        expect(err.message).toContain('createActor');
        await expectUnchanged(c, before);
      });

      it('rejects an unknown key or status with INVALID_INPUT and changes nothing', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        const before = await snapshot(c);
        await expectError(c.updateActor({ id: a.id, status: 'gone' } as never), 'INVALID_INPUT');
        await expectError(c.updateActor({ id: a.id, id2: 'x' } as never), 'INVALID_INPUT');
        await expectUnchanged(c, before);
        expect(await c.getActor({ id: a.id })).toEqual(a);
      });
    });

    describe('getActor', () => {
      it('fails with NOT_FOUND for an unknown id', async () => {
        const c = await connectors.make();
        await expectError(c.getActor({ id: 'actor_missing' }), 'NOT_FOUND');
      });

      it('rejects unknown keys with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.getActor({ id: 'x', name: 'y' } as never), 'INVALID_INPUT');
      });

      it('returns a copy: changing it does not change the stored actor', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer', capabilities: ['read'] });
        const got = await c.getActor({ id: a.id });
        got.capabilities.push('root');
        got.name = 'Mallory';
        expect(await c.getActor({ id: a.id })).toEqual(a);
      });
    });

    describe('queryActors', () => {
      async function seed(c: OrchestrationConnector) {
        return {
          ada: await c.createActor({ name: 'Ada', role: 'reviewer', capabilities: ['read', 'approve'] }),
          bob: await c.createActor({ name: 'Bob', role: 'agent', capabilities: ['read', 'deploy'], status: 'busy' }),
          cy: await c.createActor({ name: 'Cy', role: 'reviewer', capabilities: ['read'], status: 'inactive' }),
          dee: await c.createActor({ name: 'Dee', role: 'agent', capabilities: ['deploy', 'approve', 'read'] }),
        };
      }

      it('returns every actor, oldest first, without filters', async () => {
        const c = await connectors.make();
        const { ada, bob, cy, dee } = await seed(c);
        expect(await c.queryActors()).toEqual([ada, bob, cy, dee]);
        expect(await c.queryActors({})).toEqual([ada, bob, cy, dee]);
      });

      it('filters by status', async () => {
        const c = await connectors.make();
        const { ada, bob, cy, dee } = await seed(c);
        expect(ids(await c.queryActors({ status: 'active' }))).toEqual([ada.id, dee.id]);
        expect(ids(await c.queryActors({ status: 'busy' }))).toEqual([bob.id]);
        expect(ids(await c.queryActors({ status: 'inactive' }))).toEqual([cy.id]);
      });

      it('filters by role', async () => {
        const c = await connectors.make();
        const { ada, bob, cy, dee } = await seed(c);
        expect(ids(await c.queryActors({ role: 'reviewer' }))).toEqual([ada.id, cy.id]);
        expect(ids(await c.queryActors({ role: 'agent' }))).toEqual([bob.id, dee.id]);
        expect(await c.queryActors({ role: 'nobody' })).toEqual([]);
      });

      it('filters by capabilities: the actor has all of them', async () => {
        const c = await connectors.make();
        const { ada, bob, cy, dee } = await seed(c);
        expect(ids(await c.queryActors({ capabilities: ['read'] }))).toEqual([ada.id, bob.id, cy.id, dee.id]);
        expect(ids(await c.queryActors({ capabilities: ['deploy'] }))).toEqual([bob.id, dee.id]);
        expect(ids(await c.queryActors({ capabilities: ['approve', 'deploy'] }))).toEqual([dee.id]);
        expect(ids(await c.queryActors({ capabilities: ['approve', 'fly'] }))).toEqual([]);
        expect(ids(await c.queryActors({ capabilities: [] }))).toEqual([ada.id, bob.id, cy.id, dee.id]);
      });

      it('combines filters', async () => {
        const c = await connectors.make();
        const { ada, dee } = await seed(c);
        expect(ids(await c.queryActors({ status: 'active', capabilities: ['approve'] }))).toEqual([ada.id, dee.id]);
        expect(ids(await c.queryActors({ status: 'active', role: 'agent', capabilities: ['approve'] }))).toEqual([
          dee.id,
        ]);
        expect(await c.queryActors({ status: 'busy', role: 'reviewer' })).toEqual([]);
      });

      it('follows updates: an actor leaves the old status and capability filters', async () => {
        const c = await connectors.make();
        const { ada, bob, dee } = await seed(c);
        await c.updateActor({ id: ada.id, status: 'busy', capabilities: ['read'] });
        expect(ids(await c.queryActors({ status: 'busy' }))).toEqual([ada.id, bob.id]);
        expect(ids(await c.queryActors({ capabilities: ['approve'] }))).toEqual([dee.id]);
      });

      it('pages with limit and after, without gaps or duplicates', async () => {
        const c = await connectors.make();
        const all: Actor[] = [];
        for (let i = 0; i < 11; i++) {
          all.push(await c.createActor({ name: `a${i}`, role: i % 2 ? 'agent' : 'reviewer' }));
        }
        const seen: string[] = [];
        let after: string | undefined;
        const sizes: number[] = [];
        for (;;) {
          const page = await c.queryActors({ limit: 4, ...(after ? { after } : {}) });
          sizes.push(page.length);
          if (page.length === 0) break;
          seen.push(...ids(page));
          after = page[page.length - 1]?.id;
        }
        expect(sizes).toEqual([4, 4, 3, 0]);
        expect(seen).toEqual(ids(all));

        const agents = ids(all.filter((a) => a.role === 'agent'));
        const p1 = await c.queryActors({ role: 'agent', limit: 3 });
        const p2 = await c.queryActors({ role: 'agent', limit: 3, after: p1[2]?.id });
        expect([...ids(p1), ...ids(p2)]).toEqual(agents);
        // a cursor need not match the filter: it only marks a place in creation order
        const reviewer = all[4] as Actor;
        expect(ids(await c.queryActors({ role: 'agent', after: reviewer.id }))).toEqual(
          ids(all.slice(5).filter((a) => a.role === 'agent')),
        );
      });

      it('queryActors returns actors with explicit ids in creation order', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        const created: Actor[] = [];
        for (const [i, id] of ['zed', 'amy', 'mia', 'bob', 'kim'].entries()) {
          clock.advance(1000);
          created.push(
            await c.createActor({
              id,
              name: id,
              role: i % 2 ? 'agent' : 'reviewer',
              status: i === 2 ? 'busy' : 'active',
            }),
          );
        }
        clock.advance(1000);
        const generated = await c.createActor({ name: 'Gen', role: 'agent' });
        created.push(generated);
        // A later update does not move an actor.
        clock.advance(1000);
        await c.updateActor({ id: 'zed', status: 'busy' });
        expect(ids(await c.queryActors())).toEqual(['zed', 'amy', 'mia', 'bob', 'kim', generated.id]);
        expect(ids(await c.queryActors({ role: 'agent' }))).toEqual(['amy', 'bob', generated.id]);
        expect(ids(await c.queryActors({ status: 'busy' }))).toEqual(['zed', 'mia']);
        expect(ids(await c.queryActors({ status: 'active', role: 'reviewer' }))).toEqual(['kim']);

        const seen: string[] = [];
        let after: string | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await c.queryActors({ limit: 2, ...(after ? { after } : {}) });
          seen.push(...ids(page));
          if (page.length < 2) break;
          after = page[page.length - 1]?.id;
        }
        expect(seen).toEqual(ids(created));
        expect(ids(await c.queryActors({ role: 'agent', after: 'mia' }))).toEqual(['bob', generated.id]);
        expect(await c.queryActors({ after: 'nobody' })).toEqual([]);
      });

      it('returns at most 100 actors by default and accepts a limit of 1000', async () => {
        const c = await connectors.make();
        for (let i = 0; i < 102; i++) await c.createActor({ name: `a${i}`, role: 'agent' });
        expect(await c.queryActors()).toHaveLength(100);
        expect(await c.queryActors({ limit: 1000 })).toHaveLength(102);
      });

      it('rejects a limit above 1000, below 1 or fractional, and unknown keys, with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.queryActors({ limit: 1001 }), 'INVALID_INPUT');
        await expectError(c.queryActors({ limit: 0 }), 'INVALID_INPUT');
        await expectError(c.queryActors({ limit: 2.5 }), 'INVALID_INPUT');
        await expectError(c.queryActors({ status: 'asleep' } as never), 'INVALID_INPUT');
        await expectError(c.queryActors({ capability: 'read' } as never), 'INVALID_INPUT');
      });
    });
  });
}
