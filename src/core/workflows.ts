import { checkDag } from '../domain/dag.js';
import { cancel as cancelWf, moveStep } from '../domain/workflows.js';
import type * as s from '../schemas.js';
import type { Workflow, WorkflowStep } from '../types.js';
import { newId } from '../util/ids.js';
import { toJsonData } from '../util/json.js';

import { type In, Service } from './service.js';

/** Workflows: DAG-checked creation, step moves, cancel, queries. Internal: the connector validates inputs and delegates here. */
export class Workflows extends Service {
  async createWorkflow(i: In<typeof s.createWorkflowInput>): Promise<Workflow> {
    const steps: WorkflowStep[] = (i.steps ?? []).map((st) => ({
      id: newId('step'),
      name: st.name,
      description: st.description ?? '',
      ...(st.actorId !== undefined ? { actorId: st.actorId } : {}),
      dependencies: [...new Set(st.dependencies ?? [])],
      ...(st.estimatedDuration !== undefined ? { estimatedDuration: st.estimatedDuration } : {}),
      status: 'pending',
    }));
    checkDag(steps);
    const assignedActors = [...new Set(i.assignedActors ?? [])];
    await this.requireActors(
      [
        ...assignedActors,
        ...steps.flatMap((st) => (st.actorId ? [st.actorId] : [])),
        ...(i.createdBy ? [i.createdBy] : []),
      ],
      'Workflow actors',
    );
    const now = this.nowIso();
    const wf: Workflow = {
      id: newId('workflow'),
      name: i.name,
      description: i.description,
      priority: i.priority ?? 'medium',
      status: 'draft',
      steps,
      assignedActors,
      ...(i.createdBy !== undefined ? { createdBy: i.createdBy } : {}),
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.k.commit({
      writes: [{ kind: 'workflow', entity: wf }],
      drafts: [
        this.k.draft(
          {
            type: 'workflow_created',
            details: { name: wf.name, priority: wf.priority, steps: steps.map((st) => st.name) },
          },
          'workflow',
          wf.id,
          i.createdBy,
          now,
        ),
      ],
    });
    return wf;
  }

  async updateWorkflowStep(i: In<typeof s.updateWorkflowStepInput>): Promise<Workflow> {
    if (i.actor_id !== undefined) await this.requireActors([i.actor_id], 'actor_id');
    const output = i.output === undefined ? undefined : toJsonData(i.output, 1024 * 1024, 'Step output');
    return this.k.mutate('workflow', i.workflow_id, 'Create it with createWorkflow({ ... }).', (wf) => {
      const now = this.nowIso();
      const c = moveStep(wf, i.step, i.status, now, {
        ...(output !== undefined ? { output } : {}),
        ...(i.actor_id !== undefined ? { actorId: i.actor_id } : {}),
      });
      return {
        mutation: {
          writes: [{ kind: 'workflow', entity: c.workflow, expectedVersion: wf.version }],
          drafts: this.k.drafts(c.events, 'workflow', wf.id, i.actor_id, now),
        },
        result: c.workflow,
      };
    });
  }

  async cancelWorkflow(i: In<typeof s.cancelWorkflowInput>): Promise<Workflow> {
    return this.k.mutate('workflow', i.workflow_id, 'Check the workflow id.', (wf) => {
      const now = this.nowIso();
      const c = cancelWf(wf, i.reason, now);
      return {
        mutation: {
          writes: [{ kind: 'workflow', entity: c.workflow, expectedVersion: wf.version }],
          drafts: this.k.drafts(c.events, 'workflow', wf.id, undefined, now),
        },
        result: c.workflow,
      };
    });
  }

  async getWorkflow(i: In<typeof s.getByIdInput>): Promise<Workflow> {
    return this.k.load('workflow', i.id, 'Check the workflow id.');
  }

  async queryWorkflows(i: In<typeof s.queryWorkflowsInput>): Promise<Workflow[]> {
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.priority) filters.push(['priority', i.priority]);
    if (i.assignedActor) filters.push(['assignedActor', i.assignedActor]);
    return this.query('workflow', filters, i.limit, i.after);
  }
}
