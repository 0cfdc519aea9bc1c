import { describe, expect, it } from 'vitest';
import type { Actor, AuditEvent } from '../../src/types.js';
import { collect, collectErrors, connectorsOn, expectError } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    describe('events', () => {
      it('emit every stored record under its own type and under audit, in seq order', async () => {
        const c = await connectors.make();
        const audit = collect(c, 'audit');
        const created = collect(c, 'actor_created');
        const updated = collect(c, 'actor_updated');
        const started = collect(c, 'workflow_started');
        const a = await c.createActor({ name: 'a', role: 'r' });
        await c.updateActor({ id: a.id, status: 'busy' });
        const wf = await c.createWorkflow({ name: 'w', description: '', steps: [{ name: 's' }] });
        await c.updateWorkflowStep({ workflow_id: wf.id, step: 's', status: 'in_progress' });
        const stored = await c.queryAuditEvents();
        expect(audit).toEqual(stored);
        expect(created).toEqual(stored.filter((e) => e.eventType === 'actor_created'));
        expect(updated).toEqual(stored.filter((e) => e.eventType === 'actor_updated'));
        expect(started).toHaveLength(1);
        expect(started[0]).toMatchObject({ eventType: 'workflow_started', entityId: wf.id });
      });

      it('are emitted after the change is stored', async () => {
        const c = await connectors.make();
        let seen: Promise<Actor> | undefined;
        c.on('actor_created', (e) => {
          seen = c.getActor({ id: e.entityId });
        });
        const a = await c.createActor({ name: 'a', role: 'r' });
        expect(await seen).toEqual(a);
      });

      it('are not emitted for a rejected call', async () => {
        const c = await connectors.make();
        await c.createActor({ id: 'x', name: 'a', role: 'r' });
        const audit = collect(c, 'audit');
        await expectError(c.createActor({ id: 'x', name: 'b', role: 'r' }), 'CONFLICT');
        await expectError(c.createWorkflow({ name: 'w', description: '', assignedActors: ['ghost'] }), 'NOT_FOUND');
        expect(audit).toEqual([]);
      });

      it('still fire with seq 0 when the audit trail is disabled', async () => {
        const c = await connectors.make({ enableAudit: false });
        const audit = collect(c, 'audit');
        const a = await c.createActor({ name: 'a', role: 'r' });
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({ eventType: 'actor_created', entityId: a.id, seq: 0 });
      });

      it('report data_cleared as seq 1', async () => {
        const c = await connectors.make();
        await c.createActor({ name: 'a', role: 'r' });
        const cleared = collect(c, 'data_cleared');
        await c.clearAllData();
        expect(cleared).toHaveLength(1);
        expect(cleared[0]).toMatchObject({ seq: 1, entityType: 'system', entityId: 'system' });
      });
    });

    describe('guarded listeners', () => {
      it('a throwing listener never breaks the operation, is reported on error, and others still run', async () => {
        const c = await connectors.make();
        const errors = collectErrors(c);
        const boom = new Error('listener bug');
        c.on('actor_created', () => {
          throw boom;
        });
        const after = collect(c, 'actor_created');
        const a = await c.createActor({ name: 'a', role: 'r' });
        expect(await c.getActor({ id: a.id })).toEqual(a);
        expect(after).toHaveLength(1);
        expect(errors).toEqual([{ error: boom, context: { source: 'listener', eventType: 'actor_created' } }]);
        expect((await c.getStats()).auditEvents.total).toBe(1);
      });

      it('a rejecting async listener is reported on error', async () => {
        const c = await connectors.make();
        const errors = collectErrors(c);
        let reported: () => void = () => {};
        const done = new Promise<void>((r) => {
          reported = r;
        });
        c.on('error', () => reported());
        c.on('audit', async () => {
          throw new Error('async listener bug');
        });
        await c.createActor({ name: 'a', role: 'r' });
        await done;
        expect(errors).toHaveLength(1);
        expect(errors[0]?.error).toEqual(new Error('async listener bug'));
        expect(errors[0]?.context).toEqual({ source: 'listener', eventType: 'audit' });
      });

      it('a listener registered under two events is reported under the event that called it', async () => {
        const c = await connectors.make();
        const errors = collectErrors(c);
        const fn = () => {
          throw new Error('bug');
        };
        c.on('audit', fn);
        c.on('actor_created', fn);
        await c.createActor({ name: 'a', role: 'r' });
        expect(errors.map((e) => e.context).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual(
          [
            { source: 'listener', eventType: 'actor_created' },
            { source: 'listener', eventType: 'audit' },
          ],
        );
      });

      it('an error listener that throws breaks nothing', async () => {
        const c = await connectors.make();
        c.on('error', () => {
          throw new Error('error listener bug');
        });
        c.on('audit', () => {
          throw new Error('listener bug');
        });
        const a = await c.createActor({ name: 'a', role: 'r' });
        expect(await c.getActor({ id: a.id })).toEqual(a);
      });

      it('off removes a listener given the function passed to on', async () => {
        const c = await connectors.make();
        const seen: AuditEvent[] = [];
        const fn = (e: AuditEvent) => void seen.push(e);
        c.on('audit', fn);
        await c.createActor({ name: 'a', role: 'r' });
        c.off('audit', fn);
        expect(c.listenerCount('audit')).toBe(0);
        await c.createActor({ name: 'b', role: 'r' });
        expect(seen).toHaveLength(1);
      });

      it('removeListener and addListener behave as off and on', async () => {
        const c = await connectors.make();
        const seen: string[] = [];
        const fn = (e: AuditEvent<'actor_created'>) => void seen.push(e.entityId);
        c.addListener('actor_created', fn);
        const a = await c.createActor({ name: 'a', role: 'r' });
        c.removeListener('actor_created', fn);
        await c.createActor({ name: 'b', role: 'r' });
        expect(seen).toEqual([a.id]);
      });

      it('once fires a single time, even when it throws', async () => {
        const c = await connectors.make();
        const errors = collectErrors(c);
        let calls = 0;
        c.once('actor_created', () => {
          calls++;
          throw new Error('once bug');
        });
        await c.createActor({ name: 'a', role: 'r' });
        await c.createActor({ name: 'b', role: 'r' });
        expect(calls).toBe(1);
        expect(errors).toHaveLength(1);
        expect(c.listenerCount('actor_created')).toBe(0);
      });

      it('off removes a once listener before it fires', async () => {
        const c = await connectors.make();
        let calls = 0;
        const fn = () => {
          calls++;
        };
        c.once('audit', fn);
        c.off('audit', fn);
        await c.createActor({ name: 'a', role: 'r' });
        expect(calls).toBe(0);
      });

      it('off of one event keeps the same function on another event', async () => {
        const c = await connectors.make();
        const seen: string[] = [];
        const fn = (e: AuditEvent) => void seen.push(e.eventType);
        c.on('audit', fn);
        c.on('actor_created', fn);
        c.off('audit', fn);
        await c.createActor({ name: 'a', role: 'r' });
        expect(seen).toEqual(['actor_created']);
      });
    });
  });
}
