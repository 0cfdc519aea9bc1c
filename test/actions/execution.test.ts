import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson } from '../../src/audit/canonical.js';
import type { ConnectorConfig } from '../../src/config.js';
import type { OrchestrationConnector } from '../../src/connector.js';
import { OrchestrationError } from '../../src/errors.js';
import { type ExecutionContext, NonRetryableError } from '../../src/execution/executor.js';
import type { AuditEvent } from '../../src/types.js';
import { storesUnderTest } from '../helpers/stores.js';
import { connectorWithActors, deferred, expectCode, manualClock, until } from './helpers.js';

const SECRET = 'hunter2-secret';
const TOKEN = 'tok-9f8e7d';

for (const sut of storesUnderTest()) {
  describe(`approval-gated execution (${sut.name})`, () => {
    const open: OrchestrationConnector[] = [];
    afterEach(async () => {
      for (const c of open.splice(0)) await c.close();
    });
    afterAll(() => sut.cleanup());

    async function setup(config: ConnectorConfig = {}): Promise<OrchestrationConnector> {
      const c = await connectorWithActors({ store: await sut.make(), ...config });
      open.push(c);
      return c;
    }

    /** Proposes `tool` as `agent` and has `alice` approve it. */
    async function approved(c: OrchestrationConnector, tool: string, params: Record<string, unknown> = {}) {
      const a = await c.proposeAction({ actor_id: 'agent', tool, params, reason: 'test' });
      if (a.status === 'approved') return a;
      return c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });
    }

    describe('result and retries', () => {
      it('executeAction - returns a full ExecutionResult and stores it on the proposal', async () => {
        const seen: ExecutionContext[] = [];
        const c = await setup({
          tools: {
            deploy: {
              schema: z.object({ service: z.string() }),
              handler: (p, ctx) => {
                seen.push(ctx);
                return { deployed: p.service };
              },
            },
          },
        });
        const a = await approved(c, 'deploy', { service: 'api' });
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toEqual({
          success: true,
          dryRun: false,
          message: expect.any(String),
          proposalId: a.id,
          executionId: expect.stringMatching(/^exec_/),
          tool: 'deploy',
          params: { service: 'api' },
          result: { deployed: 'api' },
          attempts: 1,
          durationMs: expect.any(Number),
        });
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatchObject({ attempt: 1, executionId: r.executionId, proposalId: a.id, actorId: 'agent' });
        expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
        const after = await c.getActionProposal({ id: a.id });
        expect(after.status).toBe('executed');
        expect(after.execution?.result).toEqual(r);
        expect(after.execution?.finishedAt).toBeDefined();
      });

      it('retries a flaky handler until it succeeds on attempt 3, with one executionId across attempts', async () => {
        const attempts: Array<{ attempt: number; executionId: string }> = [];
        const c = await setup({
          maxRetries: 3,
          tools: {
            flaky: {
              handler: (_p, ctx) => {
                attempts.push({ attempt: ctx.attempt, executionId: ctx.executionId });
                if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
                return 'third time';
              },
            },
          },
        });
        const a = await approved(c, 'flaky');
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toMatchObject({ success: true, attempts: 3, result: 'third time' });
        expect(attempts.map((x) => x.attempt)).toEqual([1, 2, 3]);
        expect(new Set(attempts.map((x) => x.executionId))).toEqual(new Set([r.executionId]));
        expect((await c.getActionProposal({ id: a.id })).execution?.executionId).toBe(r.executionId);
        const [executed] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_executed' });
        expect(executed?.details).toMatchObject({ attempts: 3, executionId: r.executionId });
      });

      it('fails with HANDLER_ERROR after max_retries retries', async () => {
        let calls = 0;
        const c = await setup({
          policy: { max_retries: 2 },
          tools: {
            broken: {
              handler: () => {
                calls++;
                throw new Error('disk full');
              },
            },
          },
        });
        const a = await approved(c, 'broken');
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toMatchObject({
          success: false,
          attempts: 3,
          error: { code: 'HANDLER_ERROR', message: 'disk full' },
        });
        expect(calls).toBe(3);
        expect((await c.getActionProposal({ id: a.id })).status).toBe('failed');
        const [failed] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_failed' });
        expect(failed?.details).toMatchObject({ attempts: 3, error: { code: 'HANDLER_ERROR' } });
      });

      it('does not retry a NonRetryableError nor an error marked retryable: false', async () => {
        const calls = { hard: 0, marked: 0 };
        const c = await setup({
          maxRetries: 5,
          tools: {
            hard: {
              handler: () => {
                calls.hard++;
                throw new NonRetryableError('card declined');
              },
            },
            marked: {
              handler: () => {
                calls.marked++;
                throw Object.assign(new Error('quota exceeded'), { retryable: false });
              },
            },
          },
        });
        const r1 = await c.executeAction({ proposal_id: (await approved(c, 'hard')).id });
        const r2 = await c.executeAction({ proposal_id: (await approved(c, 'marked')).id });
        expect(r1).toMatchObject({ success: false, attempts: 1, error: { message: 'card declined' } });
        expect(r2).toMatchObject({ success: false, attempts: 1, error: { message: 'quota exceeded' } });
        expect(calls).toEqual({ hard: 1, marked: 1 });
      });

      it('makes a single attempt with max_retries 0', async () => {
        let calls = 0;
        const c = await setup({
          maxRetries: 0,
          tools: {
            once: {
              handler: () => {
                calls++;
                throw new Error('nope');
              },
            },
          },
        });
        const r = await c.executeAction({ proposal_id: (await approved(c, 'once')).id });
        expect(r).toMatchObject({ success: false, attempts: 1 });
        expect(calls).toBe(1);
      });

      it('does not run or retry when params no longer validate at execution time (INVALID_PARAMS)', async () => {
        let allowed = true;
        let calls = 0;
        const c = await setup({
          maxRetries: 3,
          tools: {
            guarded: {
              schema: z.object({ n: z.number() }).refine(() => allowed, 'window closed'),
              handler: () => {
                calls++;
                return 'ran';
              },
            },
          },
        });
        const a = await approved(c, 'guarded', { n: 1 });
        allowed = false;
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toMatchObject({ success: false, attempts: 0, error: { code: 'INVALID_PARAMS' } });
        expect(calls).toBe(0);
        expect((await c.getActionProposal({ id: a.id })).status).toBe('failed');
      });

      it('does not retry a handler that throws INVALID_PARAMS itself', async () => {
        let calls = 0;
        const c = await setup({
          maxRetries: 3,
          tools: {
            picky: {
              handler: () => {
                calls++;
                throw new OrchestrationError('INVALID_PARAMS', 'amount must be positive');
              },
            },
          },
        });
        const r = await c.executeAction({ proposal_id: (await approved(c, 'picky')).id });
        expect(r).toMatchObject({ success: false, attempts: 1, error: { code: 'INVALID_PARAMS' } });
        expect(calls).toBe(1);
      });
    });

    describe('timeouts', () => {
      it('aborts the handler signal at timeout_ms and fails with TIMEOUT', async () => {
        const signals: AbortSignal[] = [];
        const c = await setup({
          policy: { timeout_ms: 50, max_retries: 0 },
          tools: {
            slow: {
              handler: (_p, ctx) =>
                new Promise((_, reject) => {
                  signals.push(ctx.signal);
                  ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
                }),
            },
          },
        });
        const a = await approved(c, 'slow');
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toMatchObject({ success: false, attempts: 1, error: { code: 'TIMEOUT' } });
        expect(signals).toHaveLength(1);
        expect(signals[0]?.aborted).toBe(true);
        expect((await c.getActionProposal({ id: a.id })).execution?.result?.error?.code).toBe('TIMEOUT');
      });

      it('retries a timed-out attempt with a fresh signal', async () => {
        const signals: AbortSignal[] = [];
        const c = await setup({
          policy: { timeout_ms: 50, max_retries: 1 },
          tools: {
            warmup: {
              handler: (_p, ctx) => {
                signals.push(ctx.signal);
                if (ctx.attempt === 1) return new Promise(() => {}); // hangs, ignoring its signal
                return 'warm';
              },
            },
          },
        });
        const r = await c.executeAction({ proposal_id: (await approved(c, 'warmup')).id });
        expect(r).toMatchObject({ success: true, attempts: 2, result: 'warm' });
        expect(signals.map((s) => s.aborted)).toEqual([true, false]);
      });
    });

    describe('dry run', () => {
      const tools = (runs: unknown[]) => ({
        deploy: {
          handler: (p: Record<string, unknown>) => {
            runs.push(p);
            return 'deployed';
          },
        },
      });

      it('from the constructor: nothing runs, the approval stays, the trail says action_simulated', async () => {
        const runs: unknown[] = [];
        const c = await setup({ dryRun: true, tools: tools(runs) });
        const a = await approved(c, 'deploy', { service: 'api' });
        const r = await c.executeAction({ proposal_id: a.id });
        expect(r).toMatchObject({
          success: true,
          dryRun: true,
          message: '[DRY RUN] Would execute deploy with {"service":"api"}',
          proposalId: a.id,
          attempts: 0,
        });
        expect(runs).toEqual([]);
        expect((await c.getActionProposal({ id: a.id })).status).toBe('approved');
        const [sim] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_simulated' });
        expect(sim?.details).toMatchObject({ message: r.message });
        expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'action_executing' })).toEqual([]);
      });

      it('from the constructor cannot be switched off by a call with dry_run: false', async () => {
        const runs: unknown[] = [];
        const c = await setup({ dryRun: true, tools: tools(runs) });
        const a = await approved(c, 'deploy', { service: 'api' });
        expect(await c.executeAction({ proposal_id: a.id, dry_run: false })).toMatchObject({ dryRun: true });
        const batch = await c.executeParallel({ calls: [{ proposal_id: a.id }], dry_run: false });
        expect(batch).toMatchObject({ dryRun: true, results: [{ dryRun: true }] });
        expect(runs).toEqual([]);
        expect((await c.getActionProposal({ id: a.id })).status).toBe('approved');
      });

      it('from the policy (updatePolicy dry_run)', async () => {
        const runs: unknown[] = [];
        const c = await setup({ tools: tools(runs) });
        await c.updatePolicy({ dry_run: true });
        const a = await approved(c, 'deploy', { service: 'web' });
        expect(await c.executeAction({ proposal_id: a.id })).toMatchObject({
          dryRun: true,
          message: '[DRY RUN] Would execute deploy with {"service":"web"}',
        });
        expect(runs).toEqual([]);
        await c.updatePolicy({ dry_run: false });
        expect(await c.executeAction({ proposal_id: a.id })).toMatchObject({ dryRun: false, success: true });
        expect(runs).toEqual([{ service: 'web' }]);
      });

      it('from the call: simulates, then the same approval still runs for real', async () => {
        const runs: unknown[] = [];
        const c = await setup({ tools: tools(runs) });
        const a = await approved(c, 'deploy', { service: 'db' });
        expect(await c.executeAction({ proposal_id: a.id, dry_run: true })).toMatchObject({ dryRun: true });
        expect(await c.executeAction({ proposal_id: a.id, dry_run: true })).toMatchObject({ dryRun: true });
        expect(runs).toEqual([]);
        expect(await c.executeAction({ proposal_id: a.id })).toMatchObject({ dryRun: false, success: true });
        expect(runs).toHaveLength(1);
        expect((await c.getStats({})).executions).toMatchObject({ dryRun: 2, succeeded: 1 });
      });

      it('checks approval like a real run: a pending proposal is APPROVAL_REQUIRED', async () => {
        const c = await setup({ dryRun: true, tools: tools([]) });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        await expectCode(c.executeAction({ proposal_id: a.id }), 'APPROVAL_REQUIRED');
      });
    });

    describe('executeParallel', () => {
      it('returns results in call order whatever order the calls finish in', async () => {
        const c = await setup({
          tools: {
            sleep: {
              readOnly: true,
              handler: async (p: Record<string, unknown>) => {
                await new Promise((r) => setTimeout(r, p.ms as number));
                return p.ms;
              },
            },
          },
        });
        const ms = [40, 5, 25, 0, 15];
        const r = await c.executeParallel({ calls: ms.map((m) => ({ tool: 'sleep', params: { ms: m } })) });
        expect(r.success).toBe(true);
        expect(r.results.map((x) => x.result)).toEqual(ms);
      });

      /** A read-only tool that counts handlers in flight; the first `hold` calls wait for each other. */
      function inFlightTool(hold: number) {
        const state = { inFlight: 0, max: 0, started: 0 };
        const barrier = deferred();
        const handler = async () => {
          state.inFlight++;
          state.started++;
          state.max = Math.max(state.max, state.inFlight);
          if (state.started === hold) barrier.resolve();
          if (state.started <= hold) {
            // Wait for the others to arrive (bounded, so that a wrong bound fails instead of hanging).
            await Promise.race([barrier.promise, new Promise((r) => setTimeout(r, 2000))]);
          } else {
            await new Promise((r) => setImmediate(r));
          }
          state.inFlight--;
          return 'ok';
        };
        return { state, handler };
      }

      it('bounds concurrency by `concurrency`, measured by handlers in flight', async () => {
        const t = inFlightTool(3);
        const c = await setup({ tools: { count: { readOnly: true, handler: t.handler } } });
        const r = await c.executeParallel({
          calls: Array.from({ length: 10 }, () => ({ tool: 'count' })),
          concurrency: 3,
        });
        expect(r.success).toBe(true);
        expect(t.state.started).toBe(10);
        expect(t.state.max).toBe(3);
      });

      it('bounds concurrency by the policy max_parallel when the call gives none', async () => {
        const t = inFlightTool(2);
        const c = await setup({
          policy: { max_parallel: 2 },
          tools: { count: { readOnly: true, handler: t.handler } },
        });
        await c.executeParallel({ calls: Array.from({ length: 7 }, () => ({ tool: 'count' })) });
        expect(t.state.started).toBe(7);
        expect(t.state.max).toBe(2);
      });

      it('bounds one tool by its max_concurrency while other tools use the batch bound', async () => {
        const slow = inFlightTool(2);
        const fast = inFlightTool(4);
        const c = await setup({
          policy: { tools: { slow: { max_concurrency: 2 } } },
          tools: {
            slow: { readOnly: true, handler: slow.handler },
            fast: { readOnly: true, handler: fast.handler },
          },
        });
        const calls = [
          ...Array.from({ length: 4 }, () => ({ tool: 'fast' })),
          ...Array.from({ length: 6 }, () => ({ tool: 'slow' })),
        ];
        const r = await c.executeParallel({ calls, concurrency: 10 });
        expect(r.success).toBe(true);
        expect(slow.state.max).toBe(2);
        expect(fast.state.max).toBe(4);
      });

      it('a call waiting for its tool max_concurrency does not hold a batch slot that another tool could use', async () => {
        const otherStarted = deferred();
        let sawOther = false;
        const c = await setup({
          policy: { tools: { solo: { max_concurrency: 1 } } },
          tools: {
            solo: {
              readOnly: true,
              handler: async (p: Record<string, unknown>) => {
                if (p.first) {
                  // Waits (bounded) for the other tool: it can start only if the second solo call,
                  // queued behind this one, is not sitting on the batch's second slot.
                  sawOther = await Promise.race([
                    otherStarted.promise.then(() => true),
                    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
                  ]);
                }
                return 'solo';
              },
            },
            other: {
              readOnly: true,
              handler: () => {
                otherStarted.resolve();
                return 'other';
              },
            },
          },
        });
        const r = await c.executeParallel({
          calls: [{ tool: 'solo', params: { first: true } }, { tool: 'solo' }, { tool: 'other' }],
          concurrency: 2,
        });
        expect(r.success).toBe(true);
        expect(sawOther).toBe(true);
      });

      it('rejects the whole batch with APPROVAL_REQUIRED when a raw call needs approval: nothing runs', async () => {
        let ran = 0;
        const c = await setup({
          tools: {
            lookup: {
              readOnly: true,
              handler: () => {
                ran++;
                return 'x';
              },
            },
            deploy: {
              handler: () => {
                ran++;
                return 'y';
              },
            },
          },
        });
        const ok = await approved(c, 'deploy');
        const head = await c.getAuditHead({});
        await expectCode(
          c.executeParallel({ calls: [{ tool: 'lookup' }, { proposal_id: ok.id }, { tool: 'deploy' }] }),
          'APPROVAL_REQUIRED',
        );
        expect(ran).toBe(0);
        expect((await c.getActionProposal({ id: ok.id })).status).toBe('approved');
        expect(await c.getAuditHead({})).toEqual(head);
      });

      it('rejects the whole batch when a proposal is not approved, a tool is unknown or params are invalid', async () => {
        let ran = 0;
        const c = await setup({
          tools: {
            lookup: {
              readOnly: true,
              schema: z.object({ q: z.string() }),
              handler: () => {
                ran++;
                return 'x';
              },
            },
            deploy: { handler: () => ran++ },
          },
        });
        const pending = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        const q = { tool: 'lookup', params: { q: 'a' } };
        await expectCode(c.executeParallel({ calls: [q, { proposal_id: pending.id }] }), 'APPROVAL_REQUIRED');
        await expectCode(c.executeParallel({ calls: [q, { tool: 'nope' }] }), 'TOOL_NOT_FOUND');
        await expectCode(c.executeParallel({ calls: [q, { tool: 'lookup', params: { q: 1 } }] }), 'INVALID_PARAMS');
        await expectCode(c.executeParallel({ calls: [q, { proposal_id: 'action_missing' }] }), 'NOT_FOUND');
        const ok = await approved(c, 'deploy');
        await expectCode(
          c.executeParallel({ calls: [{ proposal_id: ok.id }, { proposal_id: ok.id }] }),
          'INVALID_INPUT',
        );
        expect(ran).toBe(0);
      });

      it('a dry-run batch may name raw calls of tools that need approval; nothing runs', async () => {
        let ran = 0;
        const c = await setup({ tools: { deploy: { handler: () => ran++ } } });
        const r = await c.executeParallel({ calls: [{ tool: 'deploy', params: { v: 1 } }], dry_run: true });
        expect(r).toMatchObject({
          success: true,
          dryRun: true,
          results: [{ dryRun: true, message: '[DRY RUN] Would execute deploy with {"v":1}' }],
        });
        expect(ran).toBe(0);
      });

      it('mixes raw calls and approved proposals; one failure does not hide the others', async () => {
        const ctxs: ExecutionContext[] = [];
        const c = await setup({
          maxRetries: 0,
          tools: {
            read: {
              readOnly: true,
              handler: (p: Record<string, unknown>, ctx) => {
                ctxs.push(ctx);
                if (p.fail) throw new Error('read failed');
                return `read ${p.key}`;
              },
            },
            write: {
              handler: (p: Record<string, unknown>, ctx) => {
                ctxs.push(ctx);
                return `wrote ${p.key}`;
              },
            },
          },
        });
        const w1 = await approved(c, 'write', { key: 'a' });
        const w2 = await approved(c, 'write', { key: 'b' });
        const r = await c.executeParallel({
          calls: [
            { tool: 'read', params: { key: 'x' } },
            { proposal_id: w1.id },
            { tool: 'read', params: { key: 'y', fail: true } },
            { proposal_id: w2.id },
          ],
        });
        expect(r.success).toBe(false);
        expect(r.results.map((x) => [x.tool, x.success, x.result ?? x.error?.message])).toEqual([
          ['read', true, 'read x'],
          ['write', true, 'wrote a'],
          ['read', false, 'read failed'],
          ['write', true, 'wrote b'],
        ]);
        expect(r.results[1]?.proposalId).toBe(w1.id);
        expect(r.results[0]?.proposalId).toBeUndefined();
        expect((await c.getActionProposal({ id: w1.id })).status).toBe('executed');
        expect((await c.getActionProposal({ id: w2.id })).status).toBe('executed');
        expect(ctxs.filter((x) => x.proposalId !== undefined).map((x) => x.proposalId)).toEqual(
          expect.arrayContaining([w1.id, w2.id]),
        );
        const [batch] = await c.queryAuditEvents({ eventType: 'parallel_executed' });
        expect(batch?.details).toMatchObject({ calls: 4, succeeded: 3, failed: 1 });
        expect(await c.verifyAuditTrail({})).toMatchObject({ valid: true });
      });

      it('reports a proposal claimed elsewhere between check and run as a failed result, not a thrown batch', async () => {
        const hold = deferred();
        const slowStarted = deferred();
        let runs = 0;
        const c = await setup({
          tools: {
            slow: {
              readOnly: true,
              handler: async () => {
                slowStarted.resolve();
                await hold.promise;
                return 'slow';
              },
            },
            write: {
              handler: () => {
                runs++;
                return 'w';
              },
            },
          },
        });
        const w = await approved(c, 'write');
        // concurrency 1: the proposal call waits behind the slow raw call, while another call runs it.
        const batch = c.executeParallel({ calls: [{ tool: 'slow' }, { proposal_id: w.id }], concurrency: 1 });
        await slowStarted.promise; // the batch was checked as a whole and runs its first call
        await c.executeAction({ proposal_id: w.id });
        hold.resolve();
        const r = await batch;
        expect(r.success).toBe(false);
        expect(r.results[0]).toMatchObject({ success: true, result: 'slow' });
        expect(r.results[1]).toMatchObject({ success: false, proposalId: w.id, error: { code: 'INVALID_STATE' } });
        expect(runs).toBe(1);
      });
    });

    describe('workflow steps', () => {
      async function withWorkflow(handler: (p: Record<string, unknown>) => unknown) {
        const c = await setup({ maxRetries: 0, tools: { step: { handler } } });
        const wf = await c.createWorkflow({
          name: 'release',
          description: 'build then ship',
          steps: [{ name: 'build' }, { name: 'ship', dependencies: ['build'] }],
        });
        return { c, wf };
      }

      it('completes the named step with the result as output once the execution succeeds', async () => {
        const { c, wf } = await withWorkflow((p) => ({ artifact: `${p.name}.tgz` }));
        await expectCode(
          c.proposeAction({ actor_id: 'agent', tool: 'step', workflow_id: wf.id, step: 'ship', reason: 'early' }),
          'DEPENDENCIES_NOT_MET',
        );
        const build = await c.proposeAction({
          actor_id: 'agent',
          tool: 'step',
          params: { name: 'app' },
          workflow_id: wf.id,
          step: 'build',
          reason: 'build it',
        });
        await c.reviewAction({ proposal_id: build.id, reviewer_id: 'alice', decision: 'approve' });
        expect((await c.getWorkflow({ id: wf.id })).steps[0]?.status).toBe('pending');
        await c.executeAction({ proposal_id: build.id });
        const after = await c.getWorkflow({ id: wf.id });
        expect(after.steps[0]).toMatchObject({ name: 'build', status: 'completed', output: { artifact: 'app.tgz' } });
        expect(after.status).toBe('active');

        const ship = await c.proposeAction({
          actor_id: 'agent',
          tool: 'step',
          params: { name: 'app' },
          workflow_id: wf.id,
          step: 'ship',
          reason: 'ship it',
        });
        await c.reviewAction({ proposal_id: ship.id, reviewer_id: 'bob', decision: 'approve' });
        await c.executeAction({ proposal_id: ship.id });
        expect((await c.getWorkflow({ id: wf.id })).status).toBe('completed');
        const stepEvents = await c.queryAuditEvents({ entityId: wf.id, eventType: 'workflow_step_updated' });
        expect(stepEvents.map((e) => e.details.proposalId)).toEqual([build.id, ship.id]);
      });

      it('refuses to run (INVALID_STATE) once the workflow was cancelled or the step finished otherwise', async () => {
        let runs = 0;
        const { c, wf } = await withWorkflow(() => ++runs);
        const build = await c.proposeAction({
          actor_id: 'agent',
          tool: 'step',
          workflow_id: wf.id,
          step: 'build',
          reason: 'build it',
        });
        await c.reviewAction({ proposal_id: build.id, reviewer_id: 'alice', decision: 'approve' });
        await c.updateWorkflowStep({ workflow_id: wf.id, step: 'build', status: 'completed', output: 'by hand' });
        await expectCode(c.executeAction({ proposal_id: build.id }), 'INVALID_STATE');
        await expectCode(c.executeAction({ proposal_id: build.id, dry_run: true }), 'INVALID_STATE');

        const ship = await c.proposeAction({
          actor_id: 'agent',
          tool: 'step',
          workflow_id: wf.id,
          step: 'ship',
          reason: 'ship it',
        });
        await c.reviewAction({ proposal_id: ship.id, reviewer_id: 'alice', decision: 'approve' });
        await c.cancelWorkflow({ workflow_id: wf.id, reason: 'release called off' });
        await expectCode(c.executeAction({ proposal_id: ship.id }), 'INVALID_STATE');
        await expectCode(c.executeParallel({ calls: [{ proposal_id: ship.id }] }), 'INVALID_STATE');
        expect(runs).toBe(0);
        expect((await c.getActionProposal({ id: ship.id })).status).toBe('approved');
        expect((await c.getWorkflow({ id: wf.id })).steps[0]?.output).toBe('by hand');
      });

      it('fails the named step (and the workflow) when the execution fails', async () => {
        const { c, wf } = await withWorkflow(() => {
          throw new Error('compiler crashed');
        });
        const build = await c.proposeAction({
          actor_id: 'agent',
          tool: 'step',
          workflow_id: wf.id,
          step: 'build',
          reason: 'build it',
        });
        await c.reviewAction({ proposal_id: build.id, reviewer_id: 'alice', decision: 'approve' });
        expect(await c.executeAction({ proposal_id: build.id })).toMatchObject({ success: false });
        const after = await c.getWorkflow({ id: wf.id });
        expect(after.steps[0]?.status).toBe('failed');
        expect(after.status).toBe('failed');
        expect((await c.getActionProposal({ id: build.id })).status).toBe('failed');
      });
    });

    describe('waitForDecision', () => {
      it('resolves once another call decides', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        const waiting = c.waitForDecision({ proposal_id: a.id, timeout_ms: 10_000 });
        await c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'reject', comment: 'no' });
        expect(await waiting).toMatchObject({ id: a.id, status: 'rejected' });
      });

      it('resolves at once when the proposal is already decided', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await approved(c, 'deploy');
        expect(await c.waitForDecision({ proposal_id: a.id, timeout_ms: 10_000 })).toMatchObject({
          status: 'approved',
        });
      });

      it('fails with TIMEOUT when nobody decides in time', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        await expectCode(c.waitForDecision({ proposal_id: a.id, timeout_ms: 50 }), 'TIMEOUT');
        expect((await c.getActionProposal({ id: a.id })).status).toBe('pending');
      });

      it('resolves with the proposal moved to expired when its deadline passes while waiting', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x', expires_in_ms: 60 });
        const r = await c.waitForDecision({ proposal_id: a.id, timeout_ms: 20_000 });
        expect(r.status).toBe('expired');
        expect(await c.queryAuditEvents({ entityId: a.id, eventType: 'action_expired' })).toHaveLength(1);
      });

      it('resolves with expired on an injected clock that moved past the deadline', async () => {
        const clock = manualClock();
        const c = await setup({ clock: clock.clock, tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x', expires_in_ms: 1000 });
        clock.advance(1001);
        expect(await c.waitForDecision({ proposal_id: a.id, timeout_ms: 5000 })).toMatchObject({ status: 'expired' });
      });

      it('is NOT_FOUND for an unknown proposal', async () => {
        const c = await setup({});
        await expectCode(c.waitForDecision({ proposal_id: 'action_missing', timeout_ms: 50 }), 'NOT_FOUND');
      });

      it("ends early with its signal's reason and leaves nothing listening; an unaborted signal changes nothing", async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        const idle = c.listenerCount('audit');
        const controller = new AbortController();
        const waiting = c.waitForDecision({ proposal_id: a.id, timeout_ms: 20_000 }, { signal: controller.signal });
        await until(() => c.listenerCount('audit') > idle, 'the wait to listen');
        const reason = new Error('the caller gave up');
        controller.abort(reason);
        await expect(waiting).rejects.toBe(reason);
        expect(c.listenerCount('audit')).toBe(idle);
        expect((await c.getActionProposal({ id: a.id })).status).toBe('pending');

        const kept = c.waitForDecision(
          { proposal_id: a.id, timeout_ms: 20_000 },
          { signal: new AbortController().signal },
        );
        await until(() => c.listenerCount('audit') > idle, 'the second wait to listen');
        await c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'reject', comment: 'no' });
        expect(await kept).toMatchObject({ status: 'rejected' });
        expect(c.listenerCount('audit')).toBe(idle);
      });

      it('rejects at once for an aborted signal; INVALID_INPUT for options it does not know', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        await expect(c.waitForDecision({ proposal_id: a.id }, { signal: AbortSignal.abort('gone') })).rejects.toBe(
          'gone',
        );
        await expectCode(
          c.waitForDecision({ proposal_id: a.id }, { signal: { aborted: false } as never }),
          'INVALID_INPUT',
        );
        await expectCode(c.waitForDecision({ proposal_id: a.id }, { timeout: 5 } as never), 'INVALID_INPUT');
        await expectCode(c.waitForDecision({ proposal_id: a.id }, 'soon' as never), 'INVALID_INPUT');
        expect(c.listenerCount('audit')).toBe(0);
      });

      it('close() ends a pending wait with INVALID_STATE at once (it does not run to its timeout)', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 'ok' } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        const waiting = c.waitForDecision({ proposal_id: a.id, timeout_ms: 24 * 3600 * 1000 });
        await until(() => c.listenerCount('audit') > 0, 'the wait to listen');
        // Handled before close(): close() rejects the wait at once, then takes its time with the store.
        const ended = expectCode(waiting, 'INVALID_STATE');
        await c.close();
        await ended;
        expect(c.listenerCount('audit')).toBe(0);
      });
    });

    describe('recoverStaleExecutions', () => {
      it('fails an execution whose lease ran out with INTERRUPTED and never re-runs it', async () => {
        const clock = manualClock();
        const release = deferred<string>();
        let runs = 0;
        const c = await setup({
          clock: clock.clock,
          maxRetries: 0,
          policy: { execution_lease_ms: 1000 },
          tools: {
            stuck: {
              handler: () => {
                runs++;
                return release.promise;
              },
            },
          },
        });
        const wf = await c.createWorkflow({ name: 'w', description: 'd', steps: [{ name: 'only' }] });
        const a = await c.proposeAction({
          actor_id: 'agent',
          tool: 'stuck',
          workflow_id: wf.id,
          step: 'only',
          reason: 'x',
        });
        await c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve' });
        const running = c.executeAction({ proposal_id: a.id });
        await until(() => runs === 1, 'the handler to start');
        expect((await c.getActionProposal({ id: a.id })).status).toBe('executing');

        clock.advance(1000); // exactly at the lease: still held
        expect(await c.recoverStaleExecutions({})).toEqual([]);

        clock.advance(1);
        const moved = await c.recoverStaleExecutions({});
        expect(moved.map((m) => m.id)).toEqual([a.id]);
        const failed = await c.getActionProposal({ id: a.id });
        expect(failed.status).toBe('failed');
        expect(failed.execution?.result?.error?.code).toBe('INTERRUPTED');
        expect(moved[0]).toEqual(failed);
        const [audit] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_failed' });
        expect(audit?.details).toMatchObject({ interrupted: true, error: { code: 'INTERRUPTED' } });
        expect((await c.getWorkflow({ id: wf.id })).steps[0]?.status).toBe('failed');

        // The late outcome of the original run does not overwrite the recorded interruption.
        release.resolve('finally');
        await running;
        expect((await c.getActionProposal({ id: a.id })).status).toBe('failed');
        expect(await c.recoverStaleExecutions({})).toEqual([]);
        await expectCode(c.executeAction({ proposal_id: a.id }), 'INVALID_STATE');
        expect(runs).toBe(1);
        expect(await c.verifyAuditTrail({})).toMatchObject({ valid: true });
      });
    });

    describe('redaction', () => {
      it('shows [REDACTED] in audit records, events, dry-run messages and results; the handler gets real values', async () => {
        const received: Array<Record<string, unknown>> = [];
        const c = await setup({
          tools: {
            login: {
              redact: ['password', 'token.value'],
              handler: (p: Record<string, unknown>) => {
                received.push(p);
                return 'logged in';
              },
            },
          },
        });
        const events: AuditEvent[] = [];
        c.on('audit', (e) => events.push(e));
        const params = { user: 'ann', password: SECRET, token: { value: TOKEN, kind: 'bearer' } };
        const shown = { user: 'ann', password: '[REDACTED]', token: { value: '[REDACTED]', kind: 'bearer' } };
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'login', params, reason: 'sign in' });
        const edited = await c.reviewAction({
          proposal_id: a.id,
          reviewer_id: 'alice',
          decision: 'edit',
          edits: { user: 'bea' },
        });
        expect(edited.status).toBe('approved');
        const dry = await c.executeAction({ proposal_id: a.id, dry_run: true });
        expect(dry.message).toBe(`[DRY RUN] Would execute login with ${canonicalJson({ ...shown, user: 'bea' })}`);
        const r = await c.executeAction({ proposal_id: a.id });
        const batch = await c.executeParallel({ calls: [{ tool: 'login', params }], dry_run: true });

        expect(received).toEqual([{ ...params, user: 'bea' }]);
        expect(r.params).toEqual({ ...shown, user: 'bea' });
        expect(batch.results[0]?.params).toEqual(shown);
        const [proposed] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_proposed' });
        expect(proposed?.details.params).toEqual(shown);
        const trail = await c.queryAuditEvents({ limit: 1000 });
        for (const text of [
          JSON.stringify(trail),
          JSON.stringify(events),
          JSON.stringify(r),
          JSON.stringify(dry),
          JSON.stringify(batch),
          JSON.stringify((await c.getActionProposal({ id: a.id })).execution?.result),
        ]) {
          expect(text).not.toContain(SECRET);
          expect(text).not.toContain(TOKEN);
        }
        expect(events.length).toBeGreaterThan(0);
      });
    });

    describe('cancelAction', () => {
      it('cancels an approved proposal so that it never runs', async () => {
        let runs = 0;
        const c = await setup({ tools: { deploy: { handler: () => runs++ } } });
        const a = await approved(c, 'deploy');
        const cancelled = await c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'freeze' });
        expect(cancelled).toMatchObject({ status: 'cancelled', cancelledBy: 'agent', cancelReason: 'freeze' });
        await expectCode(c.executeAction({ proposal_id: a.id }), 'APPROVAL_REQUIRED');
        await expectCode(c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'again' }), 'INVALID_STATE');
        expect(runs).toBe(0);
        const [e] = await c.queryAuditEvents({ entityId: a.id, eventType: 'action_cancelled' });
        expect(e).toMatchObject({ actorId: 'agent', details: { reason: 'freeze', from: 'approved' } });
      });

      it('is NOT_FOUND for an unknown actor or proposal', async () => {
        const c = await setup({ tools: { deploy: { handler: () => 1 } } });
        const a = await c.proposeAction({ actor_id: 'agent', tool: 'deploy', reason: 'x' });
        await expectCode(c.cancelAction({ proposal_id: a.id, actor_id: 'ghost', reason: 'x' }), 'NOT_FOUND');
        await expectCode(c.cancelAction({ proposal_id: 'action_nope', actor_id: 'agent', reason: 'x' }), 'NOT_FOUND');
      });
    });

    describe('getActionProposal / queryActionProposals', () => {
      it('filters by status, tool, actor and workflow, and pages oldest first', async () => {
        const c = await setup({
          tools: { a: { handler: () => 1 }, b: { handler: () => 2 }, r: { readOnly: true, handler: () => 3 } },
        });
        const wf = await c.createWorkflow({ name: 'w', description: 'd', steps: [{ name: 's' }] });
        const made = [];
        for (let i = 0; i < 5; i++) {
          made.push(await c.proposeAction({ actor_id: 'agent', tool: 'a', params: { i }, reason: `a${i}` }));
        }
        made.push(await c.proposeAction({ actor_id: 'alice', tool: 'b', reason: 'b' }));
        made.push(await c.proposeAction({ actor_id: 'bob', tool: 'r', reason: 'r' }));
        made.push(await c.proposeAction({ actor_id: 'agent', tool: 'b', workflow_id: wf.id, step: 's', reason: 'w' }));
        await c.reviewAction({ proposal_id: made[0]?.id as string, reviewer_id: 'alice', decision: 'reject' });

        const ids = (xs: Array<{ id: string }>) => xs.map((x) => x.id);
        expect(ids(await c.queryActionProposals({}))).toEqual(ids(made));
        expect(ids(await c.queryActionProposals({ tool: 'a' }))).toEqual(ids(made.slice(0, 5)));
        expect(ids(await c.queryActionProposals({ actor_id: 'alice' }))).toEqual([made[5]?.id]);
        expect(ids(await c.queryActionProposals({ status: 'approved' }))).toEqual([made[6]?.id]);
        expect(ids(await c.queryActionProposals({ status: 'rejected' }))).toEqual([made[0]?.id]);
        expect(ids(await c.queryActionProposals({ workflow_id: wf.id }))).toEqual([made[7]?.id]);
        expect(ids(await c.queryActionProposals({ tool: 'b', actor_id: 'agent' }))).toEqual([made[7]?.id]);
        expect(ids(await c.queryActionProposals({ tool: 'a', status: 'pending' }))).toEqual(ids(made.slice(1, 5)));

        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await c.queryActionProposals({ limit: 3, ...(after ? { after } : {}) });
          if (page.length === 0) break;
          pages.push(ids(page));
          after = page[page.length - 1]?.id;
        }
        expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
        expect(pages.flat()).toEqual(ids(made));

        expect(await c.getActionProposal({ id: made[3]?.id as string })).toEqual(made[3]);
        await expectCode(c.getActionProposal({ id: 'action_missing' }), 'NOT_FOUND');
        await expectCode(c.queryActionProposals({ status: 'bogus' as never }), 'INVALID_INPUT');
      });
    });
  });
}
