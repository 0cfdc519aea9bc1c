/**
 * The Feature Deployment workflow: design -> implement -> (test, review) -> deploy. Steps depend on
 * each other by name; a step cannot start before its dependencies are done, and a cyclic plan is
 * refused when it is created.
 */
import { OrchestrationConnector, type Workflow } from '../src/index.js';
import { expect, type Log, note, refused, step } from './support.js';

export const title = 'Feature Deployment workflow: steps, dependencies, progress';

const stepState = (wf: Workflow, name: string) => wf.steps.find((s) => s.name === name)?.status ?? '?';

export async function run(log: Log) {
  const connector = new OrchestrationConnector();
  for (const a of [
    { id: 'alice', name: 'Alice Chen', role: 'tech-lead' },
    { id: 'bob', name: 'Bob Okafor', role: 'developer' },
    { id: 'qa-agent', name: 'QA Agent', role: 'ai-agent' },
    { id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent' },
  ]) {
    await connector.createActor(a);
  }
  step(log, 'admin', 'creates actors alice, bob, qa-agent, ops-agent', 'active');

  let wf = await connector.createWorkflow({
    name: 'Feature Deployment: dark mode',
    description: 'Ship the dark-mode feature to production.',
    priority: 'high',
    createdBy: 'alice',
    assignedActors: ['alice', 'bob', 'qa-agent', 'ops-agent'],
    steps: [
      { name: 'design', description: 'Design the theme tokens and the toggle', actorId: 'alice' },
      { name: 'implement', description: 'Build it', actorId: 'bob', dependencies: ['design'] },
      { name: 'test', description: 'Run the e2e suite', actorId: 'qa-agent', dependencies: ['implement'] },
      { name: 'review', description: 'Code review', actorId: 'alice', dependencies: ['implement'] },
      { name: 'deploy', description: 'Roll out to production', actorId: 'ops-agent', dependencies: ['test', 'review'] },
    ],
  });
  step(log, 'alice', `creates workflow '${wf.name}' with ${wf.steps.length} steps`, `${wf.id} ${wf.status}`);
  note(log, 'plan: design -> implement -> (test, review) -> deploy');

  await refused(log, 'ops-agent', "starts 'deploy' before test and review", 'DEPENDENCIES_NOT_MET', () =>
    connector.updateWorkflowStep({ workflow_id: wf.id, step: 'deploy', status: 'in_progress', actor_id: 'ops-agent' }),
  );
  const cycle = await refused(
    log,
    'bob',
    'creates a plan where build, verify and package wait on each other',
    'DEPENDENCY_CYCLE',
    () =>
      connector.createWorkflow({
        name: 'Circular release',
        description: 'Each step waits on the next.',
        steps: [
          { name: 'build', dependencies: ['package'] },
          { name: 'verify', dependencies: ['build'] },
          { name: 'package', dependencies: ['verify'] },
        ],
      }),
  );

  const work: Array<[string, string, unknown]> = [
    ['design', 'alice', { figma: 'dark-mode-v3' }],
    ['implement', 'bob', { pullRequest: 812 }],
    ['test', 'qa-agent', { passed: 214, failed: 0 }],
    ['review', 'alice', { verdict: 'LGTM' }],
    ['deploy', 'ops-agent', { release: '2026.03.1' }],
  ];
  for (const [name, who, output] of work) {
    wf = await connector.updateWorkflowStep({ workflow_id: wf.id, step: name, status: 'in_progress', actor_id: who });
    step(log, who, `starts '${name}'`, `step ${stepState(wf, name)}, workflow ${wf.status}`);
    wf = await connector.updateWorkflowStep({
      workflow_id: wf.id,
      step: name,
      status: 'completed',
      actor_id: who,
      output,
    });
    step(log, who, `completes '${name}' with output ${JSON.stringify(output)}`, `workflow ${wf.status}`);
  }
  await refused(log, 'bob', "reopens the completed 'design' step", 'INVALID_STATE', () =>
    connector.updateWorkflowStep({ workflow_id: wf.id, step: 'design', status: 'in_progress' }),
  );

  const done = await connector.queryWorkflows({ status: 'completed', assignedActor: 'ops-agent' });
  step(log, 'alice', 'queries completed workflows assigned to ops-agent', done.map((w) => w.name).join(', '));

  expect(wf.status === 'completed', 'the workflow is completed');
  expect(
    wf.steps.every((s) => s.status === 'completed'),
    'every step is completed',
  );
  return { connector, workflow: wf, cycle: cycle.details.cycle as string[] };
}
