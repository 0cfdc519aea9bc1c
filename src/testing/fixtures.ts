import { strict as assert } from 'node:assert';
import { createSealer, sha256Canonical } from '../audit/chain.js';
import type {
  AuditDraft,
  AuditSealer,
  Change,
  CommitResult,
  EntityKind,
  EntityMap,
  Store,
  Write,
} from '../stores/store.js';
import type { ActionProposal, Actor, AuditEvent, PolicyRecord, Proposal, Workflow } from '../types.js';
import { newId } from '../util/ids.js';

/** One runner-agnostic conformance case: throws (node:assert) on failure. */
export interface ConformanceCase {
  name: string;
  run: (store: Store) => Promise<void>;
}

const seal = createSealer();

const EVENT_OF: Record<EntityKind, [created: AuditDraft['eventType'], updated: AuditDraft['eventType']]> = {
  actor: ['actor_created', 'actor_updated'],
  workflow: ['workflow_created', 'workflow_step_updated'],
  proposal: ['proposal_created', 'proposal_reviewed'],
  action: ['action_proposed', 'action_approved'],
  policy: ['policy_updated', 'policy_updated'],
};

/**
 * Builds a change of `writes`. Without `drafts`, each write gets one audit draft describing it
 * (`actor_created`, `actor_updated`, ...). `sealer` defaults to an unsigned SHA-256 chain.
 */
export function changeOf(writes: Write[], drafts?: AuditDraft[], sealer: AuditSealer = seal): Change {
  const ts = new Date().toISOString();
  return {
    writes,
    audit:
      drafts ??
      writes.map((w) => ({
        id: newId('evt'),
        eventType: EVENT_OF[w.kind][w.expectedVersion === undefined ? 0 : 1],
        entityType: w.kind,
        entityId: w.entity.id,
        timestamp: ts,
        details: {},
      })),
    seal: sealer,
  };
}

/** An audit draft; `over` replaces any field. */
export function draftOf(over: Partial<AuditDraft> = {}): AuditDraft {
  return {
    id: newId('evt'),
    eventType: 'policy_updated',
    entityType: 'policy',
    entityId: 'policy',
    timestamp: new Date().toISOString(),
    details: {},
    ...over,
  };
}

function base(kind: 'actor' | 'workflow' | 'proposal' | 'action') {
  const ts = new Date().toISOString();
  return { id: newId(kind), createdAt: ts, updatedAt: ts, version: 1 };
}

/** A test actor entity. */
export function actorEntity(over: Partial<Actor> = {}): Actor {
  return { ...base('actor'), name: 'Test', role: 'tester', capabilities: [], status: 'active', ...over };
}

/** A test workflow entity (one pending step). */
export function workflowEntity(over: Partial<Workflow> = {}): Workflow {
  return {
    ...base('workflow'),
    name: 'Test workflow',
    description: 'A workflow for tests',
    priority: 'medium',
    status: 'draft',
    steps: [{ id: newId('step'), name: 'first', description: 'First step', dependencies: [], status: 'pending' }],
    assignedActors: [],
    ...over,
  };
}

/** A test general proposal entity. */
export function proposalEntity(over: Partial<Proposal> = {}): Proposal {
  return {
    ...base('proposal'),
    title: 'Test proposal',
    description: 'A proposal for tests',
    priority: 'medium',
    status: 'pending',
    assignedReviewers: [],
    reviews: [],
    ...over,
  };
}

/** A test action proposal entity. */
export function actionEntity(over: Partial<ActionProposal> = {}): ActionProposal {
  const params = over.params ?? { to: 'a@example.com' };
  return {
    ...base('action'),
    actorId: 'actor_test',
    tool: 'send_email',
    params,
    paramsHash: sha256Canonical(params),
    reason: 'test',
    status: 'pending',
    reviews: [],
    approvalsRequired: 1,
    ...over,
  };
}

/** A test policy record. */
export function policyEntity(over: Partial<PolicyRecord> = {}): PolicyRecord {
  const ts = new Date().toISOString();
  return {
    id: 'policy',
    createdAt: ts,
    updatedAt: ts,
    version: 1,
    policy: {
      dry_run: false,
      max_retries: 3,
      timeout_ms: 10_000,
      max_parallel: 4,
      execution_lease_ms: 60_000,
      max_params_bytes: 65_536,
      tools: {},
    },
    ...over,
  };
}

const BUILDERS: { [K in EntityKind]: (over?: Partial<EntityMap[K]>) => EntityMap[K] } = {
  actor: actorEntity,
  workflow: workflowEntity,
  proposal: proposalEntity,
  action: actionEntity,
  policy: policyEntity,
};

/** A test entity of any kind; `over` replaces any field. */
export function entityOf<K extends EntityKind>(kind: K, over: Partial<EntityMap[K]> = {}): EntityMap[K] {
  return (BUILDERS[kind] as (o: Partial<EntityMap[K]>) => EntityMap[K])(over);
}

/** An insert of `entity` (no `expectedVersion`). */
export function insertOf<K extends EntityKind>(kind: K, entity: EntityMap[K]): Write {
  return { kind, entity } as Write;
}

/**
 * An update of `current` with `patch` applied and the version bumped, conditional on
 * `expectedVersion` (by default `current.version`).
 */
export function updateOf<K extends EntityKind>(
  kind: K,
  current: EntityMap[K],
  patch: Partial<EntityMap[K]> = {},
  expectedVersion: number = current.version,
): Write {
  const entity = { ...current, ...patch, version: current.version + 1, updatedAt: new Date().toISOString() };
  return { kind, entity, expectedVersion } as Write;
}

/** Asserts that `result` is ok and returns its events. */
export function expectOk(result: CommitResult): AuditEvent[] {
  if (!result.ok) assert.fail(`expected the commit to apply, got conflict ${JSON.stringify(result.conflict)}`);
  return result.events;
}

/** Commits one insert per entity (each with its audit draft) and checks that it applied. */
export async function insertAll<K extends EntityKind>(store: Store, kind: K, entities: EntityMap[K][]): Promise<void> {
  expectOk(await store.commit(changeOf(entities.map((e) => insertOf(kind, e)))));
}

/** Every audit record of the store, in seq order. */
export async function allAudit(store: Store): Promise<AuditEvent[]> {
  return store.readAudit(1, 100_000);
}

/** Ids of `items`. */
export function idsOf(items: ReadonlyArray<{ id: string }>): string[] {
  return items.map((i) => i.id);
}

/** `items` sorted by id (the order of every query). */
export function byId<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A deterministic reordering (odd positions reversed, then even) so inserts do not arrive in id order. */
export function shuffled<T>(items: readonly T[]): T[] {
  const odd = items.filter((_, i) => i % 2 === 1).reverse();
  const even = items.filter((_, i) => i % 2 === 0);
  return [...odd, ...even];
}
