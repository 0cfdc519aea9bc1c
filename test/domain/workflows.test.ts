import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertDependenciesMet,
  cancel,
  canMoveStep,
  deriveWorkflowStatus,
  findStep,
  moveStep,
  settleStepWithExecution,
  unmetDependencies,
} from '../../src/domain/workflows.js';
import { OrchestrationError } from '../../src/errors.js';
import type { StepStatus, Workflow, WorkflowStatus, WorkflowStep } from '../../src/types.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';
const STEP_STATUSES: StepStatus[] = ['pending', 'in_progress', 'completed', 'failed', 'skipped'];
const ALLOWED: Record<StepStatus, StepStatus[]> = {
  pending: ['in_progress', 'completed', 'failed', 'skipped'],
  in_progress: ['completed', 'failed'],
  failed: ['in_progress'],
  completed: [],
  skipped: [],
};

function step(name: string, status: StepStatus = 'pending', dependencies: string[] = []): WorkflowStep {
  return { id: `step_${name}`, name, description: '', dependencies, status };
}
function workflow(steps: WorkflowStep[], status: WorkflowStatus = 'draft', over: Partial<Workflow> = {}): Workflow {
  return {
    id: 'workflow_1',
    name: 'w',
    description: '',
    priority: 'medium',
    status,
    steps,
    assignedActors: [],
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...over,
  };
}
function errorOf(fn: () => unknown): OrchestrationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OrchestrationError);
    return err as OrchestrationError;
  }
  throw new Error('expected an OrchestrationError');
}
const types = (c: { events: Array<{ type: string }> }) => c.events.map((e) => e.type);

describe('canMoveStep', () => {
  for (const from of STEP_STATUSES) {
    for (const to of STEP_STATUSES) {
      const allowed = ALLOWED[from].includes(to);
      it(`${allowed ? 'allows' : 'refuses'} ${from} -> ${to}`, () => {
        expect(canMoveStep(from, to)).toBe(allowed);
      });
    }
  }
});

describe('findStep', () => {
  it('finds a step by name, then by id', () => {
    const wf = workflow([step('a'), { ...step('b'), id: 'a2' }]);
    expect(findStep(wf, 'a')?.name).toBe('a');
    expect(findStep(wf, 'step_a')?.name).toBe('a');
    expect(findStep(wf, 'a2')?.name).toBe('b');
    expect(findStep(wf, 'zz')).toBeUndefined();
  });

  it('prefers a name over an id that happens to equal it', () => {
    const wf = workflow([
      { ...step('x'), id: 'y' },
      { ...step('y'), id: 'z' },
    ]);
    expect(findStep(wf, 'y')?.id).toBe('z');
  });
});

describe('unmetDependencies and assertDependenciesMet', () => {
  const wf = workflow([
    step('done', 'completed'),
    step('skip', 'skipped'),
    step('run', 'in_progress'),
    step('bad', 'failed'),
    step('wait'),
    step('x', 'pending', ['done', 'skip', 'run', 'bad', 'wait']),
    step('y', 'pending', ['done', 'skip']),
  ]);

  it('lists the dependencies that are neither completed nor skipped, in order', () => {
    expect(unmetDependencies(wf, findStep(wf, 'x') as WorkflowStep)).toEqual(['run', 'bad', 'wait']);
    expect(unmetDependencies(wf, findStep(wf, 'y') as WorkflowStep)).toEqual([]);
  });

  it('throws DEPENDENCIES_NOT_MET naming them, and passes when none are left', () => {
    const err = errorOf(() => assertDependenciesMet(wf, findStep(wf, 'x') as WorkflowStep));
    expect(err.code).toBe('DEPENDENCIES_NOT_MET');
    expect(err.details).toEqual({ workflowId: 'workflow_1', step: 'x', unmet: ['run', 'bad', 'wait'] });
    expect(() => assertDependenciesMet(wf, findStep(wf, 'y') as WorkflowStep)).not.toThrow();
  });
});

describe('deriveWorkflowStatus', () => {
  const s = (...statuses: StepStatus[]) => statuses.map((st, i) => step(`s${i}`, st));
  const cases: Array<[WorkflowStatus, WorkflowStep[], WorkflowStatus]> = [
    ['draft', [], 'draft'],
    ['draft', s('pending', 'pending'), 'draft'],
    ['draft', s('skipped', 'pending'), 'draft'],
    ['draft', s('in_progress', 'pending'), 'active'],
    ['draft', s('completed', 'pending'), 'active'],
    ['draft', s('failed', 'pending'), 'failed'],
    ['draft', s('completed', 'skipped'), 'completed'],
    ['draft', s('skipped', 'skipped'), 'completed'],
    ['active', s('in_progress', 'failed'), 'failed'],
    ['failed', s('in_progress', 'pending'), 'active'],
    ['failed', s('failed', 'completed'), 'failed'],
    ['active', s('completed', 'completed'), 'completed'],
    ['active', s('completed', 'pending'), 'active'],
    ['cancelled', s('completed', 'completed'), 'cancelled'],
    ['cancelled', s('failed'), 'cancelled'],
  ];
  for (const [current, steps, expected] of cases) {
    it(`${current} with [${steps.map((x) => x.status).join(', ')}] is ${expected}`, () => {
      expect(deriveWorkflowStatus(current, steps)).toBe(expected);
    });
  }
});

describe('moveStep', () => {
  it('moves the step, stamps the time, bumps the version and leaves the input untouched', () => {
    const wf = workflow([step('a'), step('b', 'pending', ['a'])]);
    const frozen = structuredClone(wf);
    const c = moveStep(wf, 'a', 'in_progress', T1);
    expect(wf).toEqual(frozen);
    expect(c.workflow).toMatchObject({ status: 'active', startedAt: T1, updatedAt: T1, version: 2 });
    expect(findStep(c.workflow, 'a')).toMatchObject({ status: 'in_progress', startedAt: T1 });
    expect(c.events).toEqual([
      { type: 'workflow_step_updated', details: { step: 'a', stepId: 'step_a', from: 'pending', to: 'in_progress' } },
      { type: 'workflow_started', details: { step: 'a' } },
    ]);
  });

  it('keeps output and a first actor on the step', () => {
    const wf = workflow([step('a')]);
    const c = moveStep(wf, 'a', 'completed', T1, { output: { ok: true }, actorId: 'bot' });
    expect(findStep(c.workflow, 'a')).toMatchObject({ output: { ok: true }, actorId: 'bot', completedAt: T1 });
    const assigned = workflow([{ ...step('a'), actorId: 'ada' }]);
    expect(findStep(moveStep(assigned, 'a', 'in_progress', T1, { actorId: 'bot' }).workflow, 'a')?.actorId).toBe('ada');
  });

  it('clears completedAt when a failed step restarts', () => {
    let wf = workflow([step('a')]);
    wf = moveStep(wf, 'a', 'failed', T0).workflow;
    expect(findStep(wf, 'a')?.completedAt).toBe(T0);
    wf = moveStep(wf, 'a', 'in_progress', T1).workflow;
    expect(findStep(wf, 'a')?.completedAt).toBeUndefined();
    expect(findStep(wf, 'a')?.startedAt).toBe(T1);
  });

  it('starts and completes a one-step workflow in one move, with both events', () => {
    const c = moveStep(workflow([step('a')]), 'a', 'completed', T1);
    expect(c.workflow).toMatchObject({ status: 'completed', startedAt: T1, completedAt: T1 });
    expect(types(c)).toEqual(['workflow_step_updated', 'workflow_started', 'workflow_completed']);
  });

  it('completes without starting when every step is skipped', () => {
    const c = moveStep(workflow([step('a')]), 'a', 'skipped', T1);
    expect(c.workflow.status).toBe('completed');
    expect(c.workflow.startedAt).toBeUndefined();
    expect(types(c)).toEqual(['workflow_step_updated', 'workflow_completed']);
  });

  it('reports workflow_failed once, when the workflow turns failed', () => {
    let wf = workflow([step('a'), step('b')], 'active', { startedAt: T0 });
    const first = moveStep(wf, 'a', 'failed', T1);
    expect(types(first)).toEqual(['workflow_step_updated', 'workflow_failed']);
    wf = first.workflow;
    const second = moveStep(wf, 'b', 'failed', T1);
    expect(types(second)).toEqual(['workflow_step_updated']);
    expect(second.workflow.status).toBe('failed');
  });

  it('refuses an unknown step with NOT_FOUND, listing the step names', () => {
    const err = errorOf(() => moveStep(workflow([step('a'), step('b')]), 'c', 'in_progress', T1));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('a, b');
  });

  it('refuses any move in a cancelled workflow with INVALID_STATE', () => {
    const err = errorOf(() => moveStep(workflow([step('a')], 'cancelled'), 'a', 'in_progress', T1));
    expect(err.code).toBe('INVALID_STATE');
    expect(err.details).toMatchObject({ status: 'cancelled' });
  });

  it('refuses a disallowed move with INVALID_STATE, saying which moves are allowed or that the step is final', () => {
    const fromFailed = errorOf(() => moveStep(workflow([step('a', 'failed')], 'failed'), 'a', 'completed', T1));
    expect(fromFailed.code).toBe('INVALID_STATE');
    expect(fromFailed.details).toMatchObject({ from: 'failed', to: 'completed' });
    expect(fromFailed.message).toContain('in_progress');
    const fromDone = errorOf(() => moveStep(workflow([step('a', 'completed')], 'completed'), 'a', 'failed', T1));
    expect(fromDone.message).toContain('final');
  });

  it('checks the move before the dependencies', () => {
    const wf = workflow([step('a'), step('b', 'completed', ['a'])], 'active');
    expect(errorOf(() => moveStep(wf, 'b', 'in_progress', T1)).code).toBe('INVALID_STATE');
  });
});

describe('moveStep against a reference model', () => {
  type Op = { kind: 'move'; step: number; to: StepStatus } | { kind: 'cancel' };

  /** The SPEC 4 rules, written as plainly as possible. */
  class Model {
    statuses: StepStatus[];
    started = false;
    cancelled = false;
    constructor(readonly deps: number[][]) {
      this.statuses = deps.map(() => 'pending');
    }
    status(): WorkflowStatus {
      if (this.cancelled) return 'cancelled';
      if (this.statuses.includes('failed')) return 'failed';
      if (this.statuses.length > 0 && this.statuses.every((s) => s === 'completed' || s === 'skipped'))
        return 'completed';
      return this.started ? 'active' : 'draft';
    }
    /** The error code the op must fail with, or undefined after applying it. */
    apply(op: Op): string | undefined {
      if (op.kind === 'cancel') {
        const st = this.status();
        if (st === 'completed' || st === 'cancelled') return 'INVALID_STATE';
        this.cancelled = true;
        return undefined;
      }
      if (this.cancelled) return 'INVALID_STATE';
      const from = this.statuses[op.step] as StepStatus;
      if (!ALLOWED[from].includes(op.to)) return 'INVALID_STATE';
      if (op.to === 'in_progress' || op.to === 'completed') {
        const met = (this.deps[op.step] as number[]).every((d) =>
          ['completed', 'skipped'].includes(this.statuses[d] as string),
        );
        if (!met) return 'DEPENDENCIES_NOT_MET';
        this.started = true;
      }
      this.statuses[op.step] = op.to;
      return undefined;
    }
  }

  const scenario = fc.integer({ min: 1, max: 5 }).chain((n) =>
    fc.record({
      // acyclic: a step depends only on earlier steps
      deps: fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => j)))),
      ops: fc.array(
        fc.oneof(
          {
            weight: 12,
            arbitrary: fc.record({
              kind: fc.constant('move' as const),
              step: fc.nat(n - 1),
              to: fc.constantFrom(...STEP_STATUSES),
            }),
          },
          { weight: 1, arbitrary: fc.constant({ kind: 'cancel' as const }) },
        ),
        { maxLength: 30 },
      ),
    }),
  );

  it('agrees on every outcome, step status, workflow status and event', () => {
    fc.assert(
      fc.property(scenario, ({ deps, ops }) => {
        const model = new Model(deps);
        let wf = workflow(
          deps.map((d, i) =>
            step(
              `s${i}`,
              'pending',
              d.map((j) => `s${j}`),
            ),
          ),
        );
        let startedEvents = 0;
        ops.forEach((op, i) => {
          const now = new Date(Date.parse(T0) + (i + 1) * 1000).toISOString();
          const before = model.status();
          const expectedError = model.apply(op);
          let change: ReturnType<typeof moveStep> | undefined;
          let code: string | undefined;
          try {
            change = op.kind === 'move' ? moveStep(wf, `s${op.step}`, op.to, now) : cancel(wf, 'stop', now);
          } catch (err) {
            code = (err as OrchestrationError).code;
          }
          expect(code).toBe(expectedError);
          if (change === undefined) return;
          const after = model.status();
          expect(change.workflow.status).toBe(after);
          expect(change.workflow.steps.map((s) => s.status)).toEqual(model.statuses);
          expect(change.workflow.version).toBe(wf.version + 1);
          const t = types(change);
          expect(t[0]).toBe(op.kind === 'move' ? 'workflow_step_updated' : 'workflow_cancelled');
          startedEvents += t.filter((x) => x === 'workflow_started').length;
          expect(t.includes('workflow_failed')).toBe(after === 'failed' && before !== 'failed');
          expect(t.includes('workflow_completed')).toBe(after === 'completed' && before !== 'completed');
          expect(change.workflow.completedAt !== undefined).toBe(after === 'completed');
          wf = change.workflow;
          expect(wf.startedAt !== undefined).toBe(model.started);
        });
        expect(startedEvents).toBe(model.started ? 1 : 0);
      }),
      { numRuns: 400 },
    );
  });
});

describe('cancel', () => {
  for (const status of ['draft', 'active', 'failed'] as const) {
    it(`cancels a ${status} workflow, keeping the reason and the steps`, () => {
      const wf = workflow([step('a', 'in_progress')], status);
      const c = cancel(wf, 'budget cut', T1);
      expect(c.workflow).toMatchObject({
        status: 'cancelled',
        cancelReason: 'budget cut',
        cancelledAt: T1,
        updatedAt: T1,
        version: 2,
        steps: wf.steps,
      });
      expect(c.events).toEqual([{ type: 'workflow_cancelled', details: { reason: 'budget cut', from: status } }]);
      expect(wf.status).toBe(status);
    });
  }

  for (const status of ['completed', 'cancelled'] as const) {
    it(`refuses to cancel a ${status} workflow with INVALID_STATE`, () => {
      const err = errorOf(() => cancel(workflow([], status), 'x', T1));
      expect(err.code).toBe('INVALID_STATE');
      expect(err.details).toEqual({ workflowId: 'workflow_1', status });
    });
  }
});

describe('settleStepWithExecution', () => {
  it('completes a pending step with the output', () => {
    const c = settleStepWithExecution(workflow([step('a'), step('b')]), 'step_a', true, { n: 1 }, T1);
    expect(c && findStep(c.workflow, 'a')).toMatchObject({ status: 'completed', output: { n: 1 } });
    expect(c?.workflow.version).toBe(2);
  });

  it('restarts a failed step before completing it, in one version', () => {
    const c = settleStepWithExecution(workflow([step('a', 'failed')], 'failed'), 'step_a', true, 'ok', T1);
    expect(c?.workflow.status).toBe('completed');
    expect(c?.workflow.version).toBe(2);
    expect(c?.events.filter((e) => e.type === 'workflow_step_updated').map((e) => e.details.to)).toEqual([
      'in_progress',
      'completed',
    ]);
  });

  it('fails a running step without output', () => {
    const c = settleStepWithExecution(workflow([step('a', 'in_progress')], 'active'), 'step_a', false, 'boom', T1);
    expect(c && findStep(c.workflow, 'a')).toMatchObject({ status: 'failed' });
    expect(c && findStep(c.workflow, 'a')?.output).toBeUndefined();
    expect(c?.workflow.status).toBe('failed');
  });

  it('leaves final steps, cancelled workflows, unknown steps and unmet dependencies alone', () => {
    expect(
      settleStepWithExecution(workflow([step('a', 'completed')], 'completed'), 'step_a', false, 1, T1),
    ).toBeUndefined();
    expect(
      settleStepWithExecution(workflow([step('a', 'skipped')], 'completed'), 'step_a', true, 1, T1),
    ).toBeUndefined();
    expect(settleStepWithExecution(workflow([step('a')], 'cancelled'), 'step_a', true, 1, T1)).toBeUndefined();
    expect(settleStepWithExecution(workflow([step('a')]), 'step_zz', true, 1, T1)).toBeUndefined();
    expect(settleStepWithExecution(workflow([step('a', 'failed')], 'failed'), 'step_a', false, 1, T1)).toBeUndefined();
    const blocked = workflow([step('a'), step('b', 'pending', ['a'])]);
    expect(settleStepWithExecution(blocked, 'step_b', true, 1, T1)).toBeUndefined();
  });
});
