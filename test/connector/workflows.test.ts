import { describe, expect, it } from 'vitest';
import type { OrchestrationConnector } from '../../src/connector.js';
import type { StepStatus, Workflow } from '../../src/types.js';
import { connectorsOn, expectError, expectUnchanged, manualClock, snapshot } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const STATUSES: StepStatus[] = ['pending', 'in_progress', 'completed', 'failed', 'skipped'];
/** SPEC 4: the allowed step moves. Everything else is INVALID_STATE. */
const ALLOWED: Record<StepStatus, StepStatus[]> = {
  pending: ['in_progress', 'completed', 'failed', 'skipped'],
  in_progress: ['completed', 'failed'],
  failed: ['in_progress'],
  completed: [],
  skipped: [],
};
/** How to bring a fresh step (no dependencies) to each status. */
const PATH: Record<StepStatus, StepStatus[]> = {
  pending: [],
  in_progress: ['in_progress'],
  completed: ['completed'],
  failed: ['failed'],
  skipped: ['skipped'],
};

const eventTypes = async (c: OrchestrationConnector, entityId: string) =>
  (await c.queryAuditEvents({ entityId })).map((e) => e.eventType);

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    /** A workflow: build -> test -> deploy, with docs independent. */
    async function pipeline(c: OrchestrationConnector) {
      return c.createWorkflow({
        name: 'release',
        description: 'ship it',
        steps: [
          { name: 'build' },
          { name: 'test', dependencies: ['build'] },
          { name: 'deploy', dependencies: ['test'] },
          { name: 'docs' },
        ],
      });
    }
    const move = (c: OrchestrationConnector, wf: Workflow, step: string, status: StepStatus) =>
      c.updateWorkflowStep({ workflow_id: wf.id, step, status });
    const stepOf = (wf: Workflow, name: string) => wf.steps.find((st) => st.name === name);

    describe('createWorkflow', () => {
      it('creates a draft workflow of pending steps with ids, medium priority by default', async () => {
        const clock = manualClock();
        const c = await connectors.make({ clock: clock.now });
        const wf = await c.createWorkflow({
          name: 'release',
          description: 'ship it',
          steps: [
            { name: 'build', description: 'compile', estimatedDuration: 60 },
            { name: 'test', dependencies: ['build'] },
          ],
        });
        expect(wf).toMatchObject({
          name: 'release',
          description: 'ship it',
          priority: 'medium',
          status: 'draft',
          assignedActors: [],
          createdAt: clock.now().toISOString(),
          updatedAt: clock.now().toISOString(),
        });
        expect(wf.id).toMatch(/^workflow_/);
        expect(wf.startedAt).toBeUndefined();
        expect(wf.completedAt).toBeUndefined();
        expect(wf.steps).toEqual([
          {
            id: expect.any(String),
            name: 'build',
            description: 'compile',
            dependencies: [],
            estimatedDuration: 60,
            status: 'pending',
          },
          { id: expect.any(String), name: 'test', description: '', dependencies: ['build'], status: 'pending' },
        ]);
        expect(new Set(wf.steps.map((st) => st.id)).size).toBe(2);
        expect(await c.getWorkflow({ id: wf.id })).toEqual(wf);
      });

      it('creates a workflow without steps', async () => {
        const c = await connectors.make();
        const wf = await c.createWorkflow({ name: 'empty', description: '', priority: 'urgent' });
        expect(wf).toMatchObject({ status: 'draft', steps: [], priority: 'urgent' });
      });

      it('keeps assigned actors, step actors and the creator when they exist', async () => {
        const c = await connectors.make();
        const ada = await c.createActor({ name: 'Ada', role: 'human' });
        const bot = await c.createActor({ name: 'Bot', role: 'agent' });
        const wf = await c.createWorkflow({
          name: 'w',
          description: '',
          assignedActors: [ada.id, bot.id, ada.id],
          steps: [{ name: 'a', actorId: bot.id }],
          createdBy: ada.id,
        });
        expect(wf.assignedActors).toEqual([ada.id, bot.id]);
        expect(wf.steps[0]?.actorId).toBe(bot.id);
        expect(wf.createdBy).toBe(ada.id);
      });

      it('rejects duplicate step names with INVALID_INPUT and stores nothing', async () => {
        const c = await connectors.make();
        const before = await snapshot(c);
        await expectError(
          c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a' }, { name: 'a' }] }),
          'INVALID_INPUT',
          { step: 'a' },
        );
        await expectUnchanged(c, before);
      });

      it('rejects a dependency on an unknown step with INVALID_INPUT and stores nothing', async () => {
        const c = await connectors.make();
        const before = await snapshot(c);
        await expectError(
          c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a', dependencies: ['ghost'] }] }),
          'INVALID_INPUT',
          { step: 'a', dependency: 'ghost' },
        );
        await expectUnchanged(c, before);
      });

      it('rejects a dependency cycle with DEPENDENCY_CYCLE, naming the cycle path in details', async () => {
        const c = await connectors.make();
        const before = await snapshot(c);
        const err = await expectError(
          c.createWorkflow({
            name: 'w',
            description: '',
            steps: [
              { name: 'root' },
              { name: 'a', dependencies: ['root', 'c'] },
              { name: 'b', dependencies: ['a'] },
              { name: 'c', dependencies: ['b'] },
            ],
          }),
          'DEPENDENCY_CYCLE',
        );
        const cycle = err.details.cycle as string[];
        expect(cycle[0]).toBe(cycle[cycle.length - 1]);
        expect(new Set(cycle)).toEqual(new Set(['a', 'b', 'c']));
        expect(cycle).toHaveLength(4);
        const deps: Record<string, string[]> = { a: ['root', 'c'], b: ['a'], c: ['b'] };
        for (let i = 0; i + 1 < cycle.length; i++) {
          expect(deps[cycle[i] as string]).toContain(cycle[i + 1]);
        }
        expect(err.message).toContain(cycle.join(' -> '));
        await expectUnchanged(c, before);
      });

      it('rejects a step that depends on itself with DEPENDENCY_CYCLE', async () => {
        const c = await connectors.make();
        await expectError(
          c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a', dependencies: ['a'] }] }),
          'DEPENDENCY_CYCLE',
          { cycle: ['a', 'a'] },
        );
      });

      it('fails with NOT_FOUND for an unknown assigned actor, step actor or creator, storing nothing', async () => {
        const c = await connectors.make();
        const ada = await c.createActor({ name: 'Ada', role: 'human' });
        const before = await snapshot(c);
        await expectError(
          c.createWorkflow({ name: 'w', description: '', assignedActors: [ada.id, 'ghost'] }),
          'NOT_FOUND',
          { id: 'ghost' },
        );
        await expectError(
          c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a', actorId: 'ghost' }] }),
          'NOT_FOUND',
          { id: 'ghost' },
        );
        await expectError(c.createWorkflow({ name: 'w', description: '', createdBy: 'ghost' }), 'NOT_FOUND', {
          id: 'ghost',
        });
        await expectUnchanged(c, before);
      });

      const invalid: Array<[string, Record<string, unknown>]> = [
        ['an unknown key', { name: 'w', description: '', owner: 'x' }],
        ['an unknown step key', { name: 'w', description: '', steps: [{ name: 'a', after: ['b'] }] }],
        ['a missing description', { name: 'w' }],
        ['an unknown priority', { name: 'w', description: '', priority: 'critical' }],
        ['a negative estimatedDuration', { name: 'w', description: '', steps: [{ name: 'a', estimatedDuration: -1 }] }],
        ['a step without a name', { name: 'w', description: '', steps: [{ description: 'x' }] }],
      ];
      for (const [what, input] of invalid) {
        it(`rejects ${what} with INVALID_INPUT`, async () => {
          const c = await connectors.make();
          const before = await snapshot(c);
          await expectError(c.createWorkflow(input as never), 'INVALID_INPUT');
          await expectUnchanged(c, before);
        });
      }
    });

    describe('updateWorkflowStep - moves', () => {
      for (const from of STATUSES) {
        for (const to of STATUSES) {
          const allowed = ALLOWED[from].includes(to);
          it(`${allowed ? 'moves' : 'refuses to move'} a step from ${from} to ${to}`, async () => {
            const c = await connectors.make();
            let wf = await c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a' }, { name: 'b' }] });
            for (const st of PATH[from]) wf = await move(c, wf, 'a', st);
            expect(stepOf(wf, 'a')?.status).toBe(from);
            if (allowed) {
              const after = await move(c, wf, 'a', to);
              expect(stepOf(after, 'a')?.status).toBe(to);
              expect(await c.getWorkflow({ id: wf.id })).toEqual(after);
            } else {
              const before = await snapshot(c);
              await expectError(move(c, wf, 'a', to), 'INVALID_STATE', { step: 'a', from, to });
              await expectUnchanged(c, before);
              expect(await c.getWorkflow({ id: wf.id })).toEqual(wf);
            }
          });
        }
      }

      it('finds a step by its id as well as its name', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const build = stepOf(wf, 'build');
        const after = await move(c, wf, build?.id as string, 'in_progress');
        expect(stepOf(after, 'build')?.status).toBe('in_progress');
      });

      it('stamps startedAt on start and completedAt on completion, and keeps the output', async () => {
        const clock = manualClock('2026-02-01T09:00:00.000Z');
        const c = await connectors.make({ clock: clock.now });
        const wf = await pipeline(c);
        const started = await move(c, wf, 'build', 'in_progress');
        expect(stepOf(started, 'build')?.startedAt).toBe('2026-02-01T09:00:00.000Z');
        clock.advance(5000);
        const done = await c.updateWorkflowStep({
          workflow_id: wf.id,
          step: 'build',
          status: 'completed',
          output: { artifact: 'app.tgz', size: 42 },
        });
        expect(stepOf(done, 'build')).toMatchObject({
          status: 'completed',
          startedAt: '2026-02-01T09:00:00.000Z',
          completedAt: '2026-02-01T09:00:05.000Z',
          output: { artifact: 'app.tgz', size: 42 },
        });
        expect(done.updatedAt).toBe('2026-02-01T09:00:05.000Z');
        expect(await c.getWorkflow({ id: wf.id })).toEqual(done);
      });

      it('records the acting actor on the step and in the audit record', async () => {
        const c = await connectors.make();
        const bot = await c.createActor({ name: 'Bot', role: 'agent' });
        const wf = await pipeline(c);
        const after = await c.updateWorkflowStep({
          workflow_id: wf.id,
          step: 'build',
          status: 'in_progress',
          actor_id: bot.id,
        });
        expect(stepOf(after, 'build')?.actorId).toBe(bot.id);
        const [e] = await c.queryAuditEvents({ eventType: 'workflow_step_updated' });
        expect(e).toMatchObject({ entityType: 'workflow', entityId: wf.id, actorId: bot.id });
        expect(e?.details).toMatchObject({ step: 'build', from: 'pending', to: 'in_progress' });
      });

      it('refuses to start or complete a step before its dependencies, with DEPENDENCIES_NOT_MET', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const before = await snapshot(c);
        for (const status of ['in_progress', 'completed'] as const) {
          await expectError(move(c, wf, 'test', status), 'DEPENDENCIES_NOT_MET', {
            workflowId: wf.id,
            step: 'test',
            unmet: ['build'],
          });
        }
        await expectUnchanged(c, before);
        expect(await c.getWorkflow({ id: wf.id })).toEqual(wf);
      });

      it('refuses a step whose dependency is only in progress or failed', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'build', 'in_progress');
        await expectError(move(c, wf, 'test', 'in_progress'), 'DEPENDENCIES_NOT_MET');
        wf = await move(c, wf, 'build', 'failed');
        await expectError(move(c, wf, 'test', 'completed'), 'DEPENDENCIES_NOT_MET');
      });

      it('lets a step start once its dependencies are completed or skipped', async () => {
        const c = await connectors.make();
        let wf = await c.createWorkflow({
          name: 'w',
          description: '',
          steps: [{ name: 'a' }, { name: 'b' }, { name: 'c', dependencies: ['a', 'b'] }],
        });
        wf = await move(c, wf, 'a', 'completed');
        await expectError(move(c, wf, 'c', 'in_progress'), 'DEPENDENCIES_NOT_MET', { unmet: ['b'] });
        wf = await move(c, wf, 'b', 'skipped');
        wf = await move(c, wf, 'c', 'in_progress');
        expect(stepOf(wf, 'c')?.status).toBe('in_progress');
      });

      it('lets a step fail or be skipped before its dependencies are met', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'deploy', 'skipped');
        wf = await move(c, wf, 'test', 'failed');
        expect(wf.steps.map((st) => st.status)).toEqual(['pending', 'failed', 'skipped', 'pending']);
      });

      it('fails with NOT_FOUND for an unknown workflow, step or actor, changing nothing', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const before = await snapshot(c);
        await expectError(
          c.updateWorkflowStep({ workflow_id: 'workflow_missing', step: 'build', status: 'in_progress' }),
          'NOT_FOUND',
          { id: 'workflow_missing' },
        );
        const err = await expectError(move(c, wf, 'ghost', 'in_progress'), 'NOT_FOUND', { step: 'ghost' });
        expect(err.message).toContain('build');
        await expectError(
          c.updateWorkflowStep({ workflow_id: wf.id, step: 'build', status: 'in_progress', actor_id: 'ghost' }),
          'NOT_FOUND',
          { id: 'ghost' },
        );
        await expectUnchanged(c, before);
      });

      it('rejects an unknown status or key with INVALID_INPUT', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const before = await snapshot(c);
        await expectError(move(c, wf, 'build', 'done' as StepStatus), 'INVALID_INPUT');
        await expectError(
          c.updateWorkflowStep({ workflow_id: wf.id, step: 'build', status: 'in_progress', stepId: 'x' } as never),
          'INVALID_INPUT',
        );
        await expectError(
          c.updateWorkflowStep({ workflowId: wf.id, step: 'build', status: 'in_progress' } as never),
          'INVALID_INPUT',
        );
        await expectUnchanged(c, before);
      });

      it('rejects an output that is not plain JSON data with INVALID_INPUT', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await expectError(
          c.updateWorkflowStep({ workflow_id: wf.id, step: 'build', status: 'completed', output: cyclic }),
          'INVALID_INPUT',
        );
        expect(await c.getWorkflow({ id: wf.id })).toEqual(wf);
      });

      it('lets exactly one of many concurrent starts of the same step succeed', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => move(c, wf, 'build', 'in_progress')));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results.filter((x) => x.status === 'rejected')) {
          expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_STATE' });
        }
        expect(await c.queryAuditEvents({ entityId: wf.id, eventType: 'workflow_step_updated' })).toHaveLength(1);
        expect((await c.getWorkflow({ id: wf.id })).version).toBe(wf.version + 1);
      });

      it('applies concurrent moves of different steps without losing one', async () => {
        const c = await connectors.make();
        const wf = await c.createWorkflow({
          name: 'w',
          description: '',
          steps: Array.from({ length: 6 }, (_, i) => ({ name: `s${i}` })),
        });
        await Promise.all(wf.steps.map((st) => move(c, wf, st.name, 'in_progress')));
        const after = await c.getWorkflow({ id: wf.id });
        expect(after.steps.map((st) => st.status)).toEqual(Array(6).fill('in_progress'));
        expect(after.version).toBe(wf.version + 6);
        expect(await c.queryAuditEvents({ entityId: wf.id, eventType: 'workflow_step_updated' })).toHaveLength(6);
        expect(await c.queryAuditEvents({ entityId: wf.id, eventType: 'workflow_started' })).toHaveLength(1);
      });
    });

    describe('updateWorkflowStep - workflow status', () => {
      it('goes draft -> active -> failed -> active -> completed, auditing each change', async () => {
        const clock = manualClock('2026-02-01T09:00:00.000Z');
        const c = await connectors.make({ clock: clock.now });
        let wf = await c.createWorkflow({
          name: 'w',
          description: '',
          steps: [{ name: 'a' }, { name: 'b', dependencies: ['a'] }],
        });
        expect(wf.status).toBe('draft');

        clock.advance(1000);
        wf = await move(c, wf, 'a', 'in_progress');
        expect(wf.status).toBe('active');
        expect(wf.startedAt).toBe('2026-02-01T09:00:01.000Z');

        wf = await move(c, wf, 'a', 'failed');
        expect(wf.status).toBe('failed');

        clock.advance(1000);
        wf = await move(c, wf, 'a', 'in_progress');
        expect(wf.status).toBe('active');
        expect(wf.startedAt).toBe('2026-02-01T09:00:01.000Z');

        wf = await move(c, wf, 'a', 'completed');
        expect(wf.status).toBe('active');
        expect(wf.completedAt).toBeUndefined();

        clock.advance(1000);
        wf = await move(c, wf, 'b', 'completed');
        expect(wf.status).toBe('completed');
        expect(wf.completedAt).toBe('2026-02-01T09:00:03.000Z');
        expect(await c.getWorkflow({ id: wf.id })).toEqual(wf);

        expect(await eventTypes(c, wf.id)).toEqual([
          'workflow_created',
          'workflow_step_updated',
          'workflow_started',
          'workflow_step_updated',
          'workflow_failed',
          'workflow_step_updated',
          'workflow_step_updated',
          'workflow_step_updated',
          'workflow_completed',
        ]);
      });

      it('becomes active when the first step completes without starting', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'docs', 'completed');
        expect(wf.status).toBe('active');
        expect(wf.startedAt).toBe(wf.updatedAt);
      });

      it('starts and completes a one-step workflow in one move, recording both', async () => {
        const c = await connectors.make();
        let wf = await c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'only' }] });
        wf = await move(c, wf, 'only', 'completed');
        expect(wf).toMatchObject({ status: 'completed', startedAt: wf.updatedAt, completedAt: wf.updatedAt });
        expect(await eventTypes(c, wf.id)).toEqual([
          'workflow_created',
          'workflow_step_updated',
          'workflow_started',
          'workflow_completed',
        ]);
      });

      it('stays draft when a step is skipped before any starts', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'docs', 'skipped');
        expect(wf.status).toBe('draft');
      });

      it('stays failed while any step is failed', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'build', 'failed');
        wf = await move(c, wf, 'docs', 'in_progress');
        expect(wf.status).toBe('failed');
        wf = await move(c, wf, 'docs', 'completed');
        expect(wf.status).toBe('failed');
      });

      it('completes when every step is completed or skipped', async () => {
        const c = await connectors.make();
        let wf = await pipeline(c);
        wf = await move(c, wf, 'build', 'completed');
        wf = await move(c, wf, 'test', 'skipped');
        wf = await move(c, wf, 'docs', 'skipped');
        expect(wf.status).toBe('active');
        wf = await move(c, wf, 'deploy', 'completed');
        expect(wf.status).toBe('completed');
        await expectError(move(c, wf, 'deploy', 'failed'), 'INVALID_STATE');
      });
    });

    describe('cancelWorkflow', () => {
      for (const from of ['draft', 'active', 'failed'] as const) {
        it(`cancels a ${from} workflow, keeping the reason, and freezes its steps`, async () => {
          const c = await connectors.make();
          let wf = await pipeline(c);
          if (from === 'active') wf = await move(c, wf, 'build', 'in_progress');
          if (from === 'failed') wf = await move(c, wf, 'build', 'failed');
          expect(wf.status).toBe(from);
          const cancelled = await c.cancelWorkflow({ workflow_id: wf.id, reason: 'superseded' });
          expect(cancelled).toMatchObject({ id: wf.id, status: 'cancelled', cancelReason: 'superseded' });
          expect(cancelled.steps).toEqual(wf.steps);
          expect(await c.getWorkflow({ id: wf.id })).toEqual(cancelled);
          const [e] = await c.queryAuditEvents({ eventType: 'workflow_cancelled' });
          expect(e).toMatchObject({ entityType: 'workflow', entityId: wf.id, details: { reason: 'superseded', from } });

          const before = await snapshot(c);
          await expectError(move(c, cancelled, 'docs', 'in_progress'), 'INVALID_STATE', { status: 'cancelled' });
          await expectUnchanged(c, before);
        });
      }

      it('refuses to cancel a completed or cancelled workflow with INVALID_STATE', async () => {
        const c = await connectors.make();
        let done = await c.createWorkflow({ name: 'w', description: '', steps: [{ name: 'a' }] });
        done = await move(c, done, 'a', 'completed');
        const other = await pipeline(c);
        await c.cancelWorkflow({ workflow_id: other.id, reason: 'no' });
        const before = await snapshot(c);
        await expectError(c.cancelWorkflow({ workflow_id: done.id, reason: 'x' }), 'INVALID_STATE', {
          status: 'completed',
        });
        await expectError(c.cancelWorkflow({ workflow_id: other.id, reason: 'x' }), 'INVALID_STATE', {
          status: 'cancelled',
        });
        await expectUnchanged(c, before);
      });

      it('fails with NOT_FOUND for an unknown workflow and INVALID_INPUT without a reason', async () => {
        const c = await connectors.make();
        const wf = await pipeline(c);
        await expectError(c.cancelWorkflow({ workflow_id: 'workflow_missing', reason: 'x' }), 'NOT_FOUND');
        await expectError(c.cancelWorkflow({ workflow_id: wf.id } as never), 'INVALID_INPUT');
        await expectError(c.cancelWorkflow({ workflow_id: wf.id, reason: '' }), 'INVALID_INPUT');
        await expectError(c.cancelWorkflow({ workflow_id: wf.id, reason: 'x', by: 'me' } as never), 'INVALID_INPUT');
        expect((await c.getWorkflow({ id: wf.id })).status).toBe('draft');
      });
    });

    describe('getWorkflow', () => {
      it('fails with NOT_FOUND for an unknown id and INVALID_INPUT for unknown keys', async () => {
        const c = await connectors.make();
        await expectError(c.getWorkflow({ id: 'workflow_missing' }), 'NOT_FOUND', { id: 'workflow_missing' });
        await expectError(c.getWorkflow({ workflow_id: 'x' } as never), 'INVALID_INPUT');
      });
    });

    describe('queryWorkflows', () => {
      async function seed(c: OrchestrationConnector) {
        const ada = await c.createActor({ name: 'Ada', role: 'human' });
        const bot = await c.createActor({ name: 'Bot', role: 'agent' });
        const w1 = await c.createWorkflow({ name: 'w1', description: '', priority: 'high', assignedActors: [ada.id] });
        const w2 = await c.createWorkflow({
          name: 'w2',
          description: '',
          priority: 'low',
          assignedActors: [ada.id, bot.id],
          steps: [{ name: 'a' }],
        });
        const w3 = await c.createWorkflow({ name: 'w3', description: '', priority: 'high', steps: [{ name: 'a' }] });
        const w4 = await c.createWorkflow({ name: 'w4', description: '', assignedActors: [bot.id] });
        await c.updateWorkflowStep({ workflow_id: w2.id, step: 'a', status: 'in_progress' });
        await c.updateWorkflowStep({ workflow_id: w3.id, step: 'a', status: 'completed' });
        await c.cancelWorkflow({ workflow_id: w4.id, reason: 'dropped' });
        return { ada, bot, w1, w2, w3, w4 };
      }
      const ids = (list: Workflow[]) => list.map((w) => w.name);

      it('returns every workflow, oldest first, without filters', async () => {
        const c = await connectors.make();
        await seed(c);
        expect(ids(await c.queryWorkflows())).toEqual(['w1', 'w2', 'w3', 'w4']);
      });

      it('filters by status, priority and assigned actor, alone and together', async () => {
        const c = await connectors.make();
        const { ada, bot } = await seed(c);
        expect(ids(await c.queryWorkflows({ status: 'draft' }))).toEqual(['w1']);
        expect(ids(await c.queryWorkflows({ status: 'active' }))).toEqual(['w2']);
        expect(ids(await c.queryWorkflows({ status: 'completed' }))).toEqual(['w3']);
        expect(ids(await c.queryWorkflows({ status: 'cancelled' }))).toEqual(['w4']);
        expect(ids(await c.queryWorkflows({ status: 'failed' }))).toEqual([]);
        expect(ids(await c.queryWorkflows({ priority: 'high' }))).toEqual(['w1', 'w3']);
        expect(ids(await c.queryWorkflows({ priority: 'medium' }))).toEqual(['w4']);
        expect(ids(await c.queryWorkflows({ assignedActor: ada.id }))).toEqual(['w1', 'w2']);
        expect(ids(await c.queryWorkflows({ assignedActor: bot.id }))).toEqual(['w2', 'w4']);
        expect(ids(await c.queryWorkflows({ assignedActor: bot.id, priority: 'low' }))).toEqual(['w2']);
        expect(ids(await c.queryWorkflows({ assignedActor: ada.id, status: 'draft', priority: 'high' }))).toEqual([
          'w1',
        ]);
      });

      it('pages with limit and after, without gaps or duplicates', async () => {
        const c = await connectors.make();
        await seed(c);
        const p1 = await c.queryWorkflows({ limit: 3 });
        const p2 = await c.queryWorkflows({ limit: 3, after: p1[2]?.id });
        const p3 = await c.queryWorkflows({ limit: 3, after: p2[p2.length - 1]?.id });
        expect([ids(p1), ids(p2), ids(p3)]).toEqual([['w1', 'w2', 'w3'], ['w4'], []]);
      });

      it('rejects a limit above 1000 and unknown filters with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.queryWorkflows({ limit: 1001 }), 'INVALID_INPUT');
        await expectError(c.queryWorkflows({ status: 'running' } as never), 'INVALID_INPUT');
        await expectError(c.queryWorkflows({ assigned_actor: 'x' } as never), 'INVALID_INPUT');
      });
    });
  });
}
