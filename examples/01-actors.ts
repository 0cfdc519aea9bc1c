/**
 * Actors: the humans, agents and services that propose, review and do work. Each has a role and
 * capabilities; queries find them by capability (all of them), role and status.
 */
import { type Actor, type CreateActorInput, OrchestrationConnector } from '../src/index.js';
import { expect, type Log, refused, step } from './support.js';

export const title = 'Actors with capabilities: create, query, update';

const ids = (actors: Actor[]) => actors.map((a) => a.id).join(', ') || '(none)';

export async function run(log: Log) {
  const connector = new OrchestrationConnector();

  const team: CreateActorInput[] = [
    { id: 'alice', name: 'Alice Chen', role: 'tech-lead', capabilities: ['code-review', 'architecture'] },
    { id: 'bob', name: 'Bob Okafor', role: 'developer', capabilities: ['typescript', 'code-review'] },
    { id: 'dana', name: 'Dana Silva', role: 'dba', capabilities: ['postgres', 'migrations', 'code-review'] },
    { id: 'coder-agent', name: 'Coder Agent', role: 'ai-agent', capabilities: ['typescript', 'testing'] },
    { id: 'ops-agent', name: 'Ops Agent', role: 'ai-agent', capabilities: ['deploy', 'monitoring'], status: 'busy' },
  ];
  for (const input of team) {
    const a = await connector.createActor(input);
    step(log, 'admin', `creates ${a.id} (${a.role}) with [${a.capabilities.join(', ')}]`, a.status);
  }
  await refused(log, 'admin', "creates a second actor with id 'bob'", 'CONFLICT', () =>
    connector.createActor({ id: 'bob', name: 'Bob Two', role: 'developer' }),
  );

  const reviewers = await connector.queryActors({ capabilities: ['code-review'] });
  step(log, 'admin', 'queries capability code-review', ids(reviewers));
  const dbReviewers = await connector.queryActors({ capabilities: ['code-review', 'postgres'] });
  step(log, 'admin', 'queries capabilities code-review AND postgres', ids(dbReviewers));
  const agents = await connector.queryActors({ role: 'ai-agent' });
  step(log, 'admin', 'queries role ai-agent', ids(agents));
  const busy = await connector.queryActors({ status: 'busy' });
  step(log, 'admin', 'queries status busy', ids(busy));

  const freed = await connector.updateActor({ id: 'ops-agent', status: 'active' });
  step(log, 'ops-agent', 'finishes its job and reports in', `status ${freed.status}`);
  const retired = await connector.updateActor({
    id: 'coder-agent',
    status: 'inactive',
    capabilities: ['typescript', 'testing', 'refactoring'],
  });
  step(log, 'admin', 'retires coder-agent and records a new capability', `status ${retired.status}`);

  const active = await connector.queryActors({ status: 'active' });
  step(log, 'admin', 'queries status active', ids(active));
  const inactive = await connector.queryActors({ status: 'inactive' });
  step(log, 'admin', 'queries status inactive', ids(inactive));
  const refactorers = await connector.queryActors({ capabilities: ['refactoring'] });
  step(log, 'admin', 'queries capability refactoring', ids(refactorers));

  expect(ids(reviewers) === 'alice, bob, dana', 'code reviewers are alice, bob, dana');
  expect(ids(dbReviewers) === 'dana', 'only dana reviews and knows postgres');
  expect(ids(inactive) === 'coder-agent', 'coder-agent is inactive');
  return {
    connector,
    reviewers: reviewers.map((a) => a.id),
    active: active.map((a) => a.id),
    inactive: inactive.map((a) => a.id),
  };
}
