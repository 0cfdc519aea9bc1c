import { OrchestrationError } from '../errors.js';
import type { AuditEventType, StepStatus, Workflow, WorkflowStatus, WorkflowStep } from '../types.js';

/** An audit record a rule asks for; the connector turns it into a draft. */
export interface DomainEvent {
  type: AuditEventType;
  details: Record<string, unknown>;
}

const MOVES: Record<StepStatus, readonly StepStatus[]> = {
  pending: ['in_progress', 'completed', 'failed', 'skipped'],
  in_progress: ['completed', 'failed'],
  failed: ['in_progress'],
  completed: [],
  skipped: [],
};

/** True when a step may move from `from` to `to`. */
export function canMoveStep(from: StepStatus, to: StepStatus): boolean {
  return MOVES[from].includes(to);
}

/** Finds a step by name or id. */
export function findStep(wf: Workflow, ref: string): WorkflowStep | undefined {
  return wf.steps.find((s) => s.name === ref) ?? wf.steps.find((s) => s.id === ref);
}

/** Names of the dependencies of `step` that are neither completed nor skipped. */
export function unmetDependencies(wf: Workflow, step: WorkflowStep): string[] {
  return step.dependencies.filter((d) => {
    const dep = wf.steps.find((s) => s.name === d);
    return dep === undefined || (dep.status !== 'completed' && dep.status !== 'skipped');
  });
}

/** Throws `DEPENDENCIES_NOT_MET` when a step's dependencies are not all completed or skipped. */
export function assertDependenciesMet(wf: Workflow, step: WorkflowStep): void {
  const unmet = unmetDependencies(wf, step);
  if (unmet.length > 0) {
    throw new OrchestrationError(
      'DEPENDENCIES_NOT_MET',
      `Step '${step.name}' cannot start before ${nameList(unmet.map((u) => `'${u}'`))} ${unmet.length === 1 ? 'is' : 'are'} completed or skipped.`,
      { workflowId: wf.id, step: step.name, unmet },
    );
  }
}

/** The workflow status its steps imply, given the current one. */
export function deriveWorkflowStatus(current: WorkflowStatus, steps: readonly WorkflowStep[]): WorkflowStatus {
  if (current === 'cancelled') return current;
  if (steps.some((s) => s.status === 'failed')) return 'failed';
  if (steps.length > 0 && steps.every((s) => s.status === 'completed' || s.status === 'skipped')) return 'completed';
  if (current === 'draft' && !steps.some((s) => s.status === 'in_progress' || s.status === 'completed')) return 'draft';
  return 'active';
}

/** The result of a workflow rule: the workflow after the change and the records it needs. */
export interface WorkflowChange {
  workflow: Workflow;
  events: DomainEvent[];
}

/**
 * Moves one step to `status` (the rules of SPEC 4) and derives the workflow status.
 * Pure: `now` is passed in; the input workflow is not mutated.
 */
export function moveStep(
  wf: Workflow,
  stepRef: string,
  status: StepStatus,
  now: string,
  opts: { output?: unknown; actorId?: string } = {},
): WorkflowChange {
  if (wf.status === 'cancelled') {
    throw new OrchestrationError('INVALID_STATE', `Workflow '${wf.id}' is cancelled; its steps cannot change.`, {
      workflowId: wf.id,
      status: wf.status,
    });
  }
  const step = findStep(wf, stepRef);
  if (step === undefined) {
    throw new OrchestrationError(
      'NOT_FOUND',
      `Workflow '${wf.id}' has no step '${stepRef}'. Use one of: ${stepNames(wf)}.`,
      { workflowId: wf.id, step: stepRef },
    );
  }
  if (!canMoveStep(step.status, status)) {
    throw new OrchestrationError(
      'INVALID_STATE',
      `Step '${step.name}' cannot move from '${step.status}' to '${status}'.${MOVES[step.status].length ? ` Allowed: ${MOVES[step.status].join(', ')}.` : ' It is final.'}`,
      { workflowId: wf.id, step: step.name, from: step.status, to: status },
    );
  }
  if (status === 'in_progress' || status === 'completed') assertDependenciesMet(wf, step);

  const next: WorkflowStep = { ...step, status };
  if (status === 'in_progress') next.startedAt = now;
  if (status === 'completed' || status === 'failed' || status === 'skipped') next.completedAt = now;
  if (status === 'in_progress') delete next.completedAt;
  if (opts.output !== undefined) next.output = opts.output;
  if (opts.actorId !== undefined && next.actorId === undefined) next.actorId = opts.actorId;
  const steps = wf.steps.map((s) => (s.id === step.id ? next : s));
  const newStatus = deriveWorkflowStatus(wf.status, steps);
  const workflow: Workflow = { ...wf, steps, status: newStatus, updatedAt: now, version: wf.version + 1 };
  const events: DomainEvent[] = [
    { type: 'workflow_step_updated', details: { step: step.name, stepId: step.id, from: step.status, to: status } },
  ];
  // The first step that starts or completes starts the workflow, even when that same move
  // completes it at once (a single step) or another step has already failed it.
  if ((status === 'in_progress' || status === 'completed') && workflow.startedAt === undefined) {
    workflow.startedAt = now;
    events.push({ type: 'workflow_started', details: { step: step.name } });
  }
  if (newStatus !== wf.status) {
    if (newStatus === 'completed') {
      workflow.completedAt = now;
      events.push({ type: 'workflow_completed', details: {} });
    }
    if (newStatus === 'failed') events.push({ type: 'workflow_failed', details: { step: step.name } });
  }
  if (newStatus !== 'completed') delete workflow.completedAt;
  return { workflow, events };
}

/**
 * Settles a step with the outcome of an action execution: completes it (output = result) or fails it,
 * passing through `in_progress` where the plain moves require it. Returns undefined when the step is
 * already final or the workflow cancelled: the execution's outcome then stays on the proposal only.
 */
export function settleStepWithExecution(
  wf: Workflow,
  stepId: string,
  success: boolean,
  output: unknown,
  now: string,
): WorkflowChange | undefined {
  const step = findStep(wf, stepId);
  if (wf.status === 'cancelled' || step === undefined) return undefined;
  if (step.status === 'completed' || step.status === 'skipped') return undefined;
  const events: DomainEvent[] = [];
  let current = wf;
  if (success && step.status === 'failed') {
    const c = moveStep(current, stepId, 'in_progress', now);
    current = c.workflow;
    events.push(...c.events);
  }
  const target: StepStatus = success ? 'completed' : 'failed';
  const currentStep = findStep(current, stepId) as WorkflowStep;
  if (currentStep.status === target) return undefined;
  try {
    const c = moveStep(current, stepId, target, now, success ? { output } : {});
    return { workflow: { ...c.workflow, version: wf.version + 1 }, events: [...events, ...c.events] };
  } catch {
    return undefined; // dependencies reopened meanwhile: leave the step as it is
  }
}

/** Cancels a workflow. Completed or cancelled workflows cannot be cancelled. */
export function cancel(wf: Workflow, reason: string, now: string): WorkflowChange {
  if (wf.status === 'completed' || wf.status === 'cancelled') {
    throw new OrchestrationError('INVALID_STATE', `Workflow '${wf.id}' is ${wf.status}; it cannot be cancelled.`, {
      workflowId: wf.id,
      status: wf.status,
    });
  }
  return {
    workflow: {
      ...wf,
      status: 'cancelled',
      cancelledAt: now,
      cancelReason: reason,
      updatedAt: now,
      version: wf.version + 1,
    },
    events: [{ type: 'workflow_cancelled', details: { reason, from: wf.status } }],
  };
}

/** Names for a message: the first ten, and how many more (a workflow may have a thousand steps). */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}

/** The names of a workflow's steps for a message: the first ten, and how many more. */
export function stepNames(wf: Pick<Workflow, 'steps'>): string {
  return nameList(wf.steps.map((s) => s.name));
}
