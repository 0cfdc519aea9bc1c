import type { AnyEntity, EntityKind } from './store.js';

/**
 * The indexed fields of each kind, as `[field, value]` pairs. Every store indexes exactly these, and
 * {@link EntityQuery} filters name them. Multi-valued fields (capabilities, assigned actors and
 * reviewers) give one pair per value.
 */
export function indexEntries(kind: EntityKind, e: AnyEntity): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  switch (kind) {
    case 'actor': {
      const a = e as import('../types.js').Actor;
      out.push(['status', a.status], ['role', a.role]);
      for (const c of new Set(a.capabilities)) out.push(['capability', c]);
      break;
    }
    case 'workflow': {
      const w = e as import('../types.js').Workflow;
      out.push(['status', w.status], ['priority', w.priority]);
      for (const a of new Set(w.assignedActors)) out.push(['assignedActor', a]);
      break;
    }
    case 'proposal': {
      const p = e as import('../types.js').Proposal;
      out.push(['status', p.status], ['priority', p.priority]);
      if (p.requester !== undefined) out.push(['requester', p.requester]);
      for (const r of new Set(p.assignedReviewers)) out.push(['reviewer', r]);
      break;
    }
    case 'action': {
      const a = e as import('../types.js').ActionProposal;
      out.push(['status', a.status], ['tool', a.tool], ['actorId', a.actorId]);
      if (a.workflowId !== undefined) out.push(['workflowId', a.workflowId]);
      break;
    }
    case 'policy':
      break;
  }
  return out;
}

/** Unique keys of an entity, as `[key, value]` pairs; a commit that would duplicate one conflicts. */
export function uniqueKeys(kind: EntityKind, e: AnyEntity): Array<[string, string]> {
  if (kind === 'action') {
    const key = (e as import('../types.js').ActionProposal).idempotencyKey;
    if (key !== undefined) return [['idempotencyKey', key]];
  }
  return [];
}

/** The status of an entity, for counts. */
export function statusOf(e: AnyEntity): string | undefined {
  return (e as { status?: string }).status;
}
