import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sha256Canonical } from '../../src/audit/chain.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { NonRetryableError } from '../../src/execution/executor.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { ActionStatus } from '../../src/types.js';
import { manualClock, outcomeOf } from './helpers.js';

/**
 * Model-based test of the approval machine: random sequences of propose / review (approve, reject,
 * edit) / execute / dry run / cancel / clock moves by several actors, run against the connector and
 * against a small reference model. After every step the outcome (ok or error code) and every
 * proposal's status must agree; tools run only for approved proposals, at most once each; the
 * audit trail verifies at the end.
 */

type Tool = 'deploy' | 'transfer' | 'restart' | 'lookup';
const ACTORS = {
  agent: { role: 'agent', active: true },
  alice: { role: 'reviewer', active: true },
  bob: { role: 'reviewer', active: true },
  carol: { role: 'reviewer', active: true },
  intern: { role: 'intern', active: true },
  retired: { role: 'reviewer', active: false },
} as const;
type ActorId = keyof typeof ACTORS;

const GLOBAL_TTL = 4000;
/** The tools' rules, as the model reads them; the connector gets the same as its policy. */
const RULES: Record<Tool, { required: number; roles?: string[]; self?: boolean; ttl: number; auto?: boolean }> = {
  deploy: { required: 1, roles: ['reviewer'], ttl: 2000 },
  transfer: { required: 2, ttl: GLOBAL_TTL },
  restart: { required: 1, self: true, ttl: GLOBAL_TTL },
  lookup: { required: 0, auto: true, ttl: GLOBAL_TTL },
};
/** transfer needs a positive amount; the other tools take any integer. */
const validAmount = (tool: Tool, amount: number) => tool !== 'transfer' || amount > 0;
/** The handler fails (without retries) for this amount, so that `failed` is reachable too. */
const FAILING_AMOUNT = 3;

type Cmd =
  | { kind: 'propose'; actor: ActorId; tool: Tool; amount: number; expires: number | undefined }
  | {
      kind: 'review';
      p: number;
      reviewer: ActorId;
      decision: 'approve' | 'reject' | 'edit';
      amount: number;
      stale: boolean;
      replace: boolean;
    }
  | { kind: 'execute'; p: number; dry: boolean }
  | { kind: 'cancel'; p: number; actor: ActorId }
  | { kind: 'advance'; ms: number };

/** Reviewers, weighted towards a few, so that repeated votes by one reviewer are common. */
const actorArb = fc.constantFrom<ActorId>(
  'alice',
  'alice',
  'alice',
  'bob',
  'bob',
  'carol',
  'agent',
  'intern',
  'retired',
);
const reviewArb = fc.record({
  kind: fc.constant('review' as const),
  p: fc.nat({ max: 3 }),
  reviewer: actorArb,
  decision: fc.constantFrom<'approve' | 'reject' | 'edit'>('approve', 'approve', 'reject', 'edit'),
  amount: fc.integer({ min: -1, max: 3 }),
  stale: fc.constantFrom(false, false, false, true),
  replace: fc.boolean(),
});

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('propose' as const),
      actor: fc.constantFrom<ActorId>('agent', 'alice', 'intern'),
      tool: fc.constantFrom<Tool>('deploy', 'transfer', 'transfer', 'restart', 'lookup'),
      amount: fc.integer({ min: -1, max: 3 }),
      expires: fc.constantFrom(undefined, 1000, 3000),
    }),
  },
  { weight: 6, arbitrary: reviewArb },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('execute' as const), p: fc.nat({ max: 3 }), dry: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), p: fc.nat({ max: 3 }), actor: actorArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1, 500, 1000, 2500) }),
  },
);

/**
 * Scenarios: commands, where a review is now and then sent twice in a row (a double click, a retried
 * request), so that repeated votes are common.
 */
const scenarioArb = fc
  .array(
    fc.oneof({ weight: 9, arbitrary: cmdArb.map((c) => [c]) }, { weight: 1, arbitrary: reviewArb.map((c) => [c, c]) }),
    { minLength: 1, maxLength: 50, size: 'max' },
  )
  .map((steps) => steps.flat());

// ------------------------------------------------------------------ the reference model

interface MProposal {
  id: string;
  tool: Tool;
  proposer: ActorId;
  amount: number;
  status: ActionStatus;
  required: number;
  reviews: Array<{ who: ActorId; decision: 'approve' | 'reject' | 'edit'; amount: number }>;
  expiresAt?: number;
}

class Model {
  now = 0;
  proposals: MProposal[] = [];
  runs = new Map<string, number>();
  /** Approvals that counted although the reviewer proposed the action (allow_self_approval). */
  selfApprovals = 0;

  approvers(p: MProposal): Set<ActorId> {
    return new Set(p.reviews.filter((r) => r.decision !== 'reject' && r.amount === p.amount).map((r) => r.who));
  }

  private expireIfDue(p: MProposal): void {
    if ((p.status === 'pending' || p.status === 'approved') && p.expiresAt !== undefined && this.now > p.expiresAt) {
      p.status = 'expired';
    }
  }

  /** The refusal for a proposal past the state a call needs, labelled with that state. */
  private stateCode(p: MProposal): string {
    return p.status === 'expired' ? 'EXPIRED' : `INVALID_STATE:${p.status}`;
  }

  /** Returns the expected outcome; `id` is the connector's id of a new proposal. */
  propose(c: Extract<Cmd, { kind: 'propose' }>, id: () => string): string {
    if (!validAmount(c.tool, c.amount)) return 'INVALID_PARAMS:propose';
    const r = RULES[c.tool];
    const p: MProposal = {
      id: id(),
      tool: c.tool,
      proposer: c.actor,
      amount: c.amount,
      status: r.auto ? 'approved' : 'pending',
      required: r.required,
      reviews: [],
    };
    if (r.auto) p.expiresAt = this.now + r.ttl;
    else if (c.expires !== undefined) p.expiresAt = this.now + c.expires;
    this.proposals.push(p);
    return 'ok';
  }

  review(p: MProposal, c: Extract<Cmd, { kind: 'review' }>): string {
    this.expireIfDue(p);
    if (p.status !== 'pending') return this.stateCode(p);
    if (c.stale) return 'CONFLICT:stale';
    const actor = ACTORS[c.reviewer];
    const rules = RULES[p.tool];
    if (!actor.active) return 'FORBIDDEN:inactive';
    if (c.reviewer === p.proposer && !rules.self) return 'FORBIDDEN:self';
    if (rules.roles && !rules.roles.includes(actor.role)) return 'FORBIDDEN:role';
    if (c.decision === 'approve' && this.approvers(p).has(c.reviewer)) return 'CONFLICT:double';
    if (c.decision === 'edit' && !validAmount(p.tool, c.amount)) return 'INVALID_PARAMS:edit';
    if (c.reviewer === p.proposer) this.selfApprovals++;
    if (c.decision === 'edit') p.amount = c.amount;
    p.reviews.push({ who: c.reviewer, decision: c.decision, amount: p.amount });
    if (c.decision === 'reject') p.status = 'rejected';
    else if (this.approvers(p).size >= p.required) {
      p.status = 'approved';
      p.expiresAt = this.now + rules.ttl;
    }
    return 'ok';
  }

  execute(p: MProposal, dry: boolean): string {
    this.expireIfDue(p);
    if (p.status === 'pending' || p.status === 'rejected' || p.status === 'cancelled') {
      return `APPROVAL_REQUIRED:${p.status}`;
    }
    if (p.status !== 'approved') return this.stateCode(p);
    if (dry) return 'ok';
    this.runs.set(p.id, (this.runs.get(p.id) ?? 0) + 1);
    p.status = p.amount === FAILING_AMOUNT ? 'failed' : 'executed';
    return 'ok';
  }

  cancel(p: MProposal, who: ActorId): string {
    this.expireIfDue(p);
    if (who !== p.proposer) {
      const roles = RULES[p.tool].roles;
      if (!ACTORS[who].active || (roles && !roles.includes(ACTORS[who].role))) return 'FORBIDDEN:cancel';
    }
    if (p.status !== 'pending' && p.status !== 'approved') return this.stateCode(p);
    p.status = 'cancelled';
    return 'ok';
  }
}

// ------------------------------------------------------------------ the system under test

async function system() {
  const clock = manualClock();
  const handlerRuns: Array<{ proposalId: string; statusBefore: ActionStatus | undefined }> = [];
  let modelRef: Model | undefined;
  const handler = (p: { amount: number }, ctx: { proposalId?: string }) => {
    const id = ctx.proposalId ?? 'raw';
    handlerRuns.push({ proposalId: id, statusBefore: modelRef?.proposals.find((m) => m.id === id)?.status });
    if (p.amount === FAILING_AMOUNT) throw new NonRetryableError('amount 3 always fails');
    return { done: p.amount };
  };
  const anyInt = z.object({ amount: z.number().int() });
  const c = new OrchestrationConnector({
    store: new MemoryStore(),
    clock: clock.clock,
    maxRetries: 0,
    tools: {
      deploy: { schema: anyInt, handler },
      transfer: { schema: z.object({ amount: z.number().int().positive() }), handler },
      restart: { schema: anyInt, handler },
      lookup: { schema: anyInt, readOnly: true, handler },
    },
    policy: {
      approval_ttl_ms: GLOBAL_TTL,
      tools: {
        deploy: { reviewer_roles: ['reviewer'], approval_ttl_ms: RULES.deploy.ttl },
        transfer: { approvals_required: 2 },
        restart: { allow_self_approval: true },
      },
    },
  });
  for (const [id, a] of Object.entries(ACTORS)) {
    await c.createActor({ id, name: id, role: a.role, status: a.active ? 'active' : 'inactive' });
  }
  return { c, clock, handlerRuns, bindModel: (m: Model) => (modelRef = m) };
}

/** What the runs covered: statuses reached, labelled outcomes, self-approvals. */
interface Coverage {
  statuses: Set<string>;
  outcomes: Map<string, number>;
  selfApprovals: number;
}

async function runScenario(cmds: Cmd[], seen: Coverage): Promise<void> {
  const { c, clock, handlerRuns, bindModel } = await system();
  const model = new Model();
  bindModel(model);
  const staleHash = sha256Canonical({ amount: 999 });
  try {
    for (const [step, cmd] of cmds.entries()) {
      let expected: string;
      let actual: string;
      // Counted back from the newest, so that reviews and executions gather on a few proposals.
      const pick = (n: number) =>
        model.proposals[model.proposals.length - 1 - (n % Math.max(model.proposals.length, 1))];
      if (cmd.kind === 'advance') {
        clock.advance(cmd.ms);
        model.now += cmd.ms;
        continue;
      }
      if (cmd.kind === 'propose') {
        let createdId: string | undefined;
        const call = c
          .proposeAction({
            actor_id: cmd.actor,
            tool: cmd.tool,
            params: { amount: cmd.amount },
            reason: `step ${step}`,
            ...(cmd.expires !== undefined ? { expires_in_ms: cmd.expires } : {}),
          })
          .then((a) => {
            createdId = a.id;
          });
        actual = await outcomeOf(call);
        expected = model.propose(cmd, () => createdId as string);
      } else {
        const p = pick(cmd.p);
        if (p === undefined) continue;
        if (cmd.kind === 'review') {
          const edit =
            cmd.decision === 'edit'
              ? cmd.replace
                ? { params: { amount: cmd.amount } }
                : { edits: { amount: cmd.amount } }
              : {};
          actual = await outcomeOf(
            c.reviewAction({
              proposal_id: p.id,
              reviewer_id: cmd.reviewer,
              decision: cmd.decision,
              ...edit,
              ...(cmd.stale ? { params_hash: staleHash } : {}),
            }),
          );
          expected = model.review(p, cmd);
        } else if (cmd.kind === 'execute') {
          actual = await outcomeOf(c.executeAction({ proposal_id: p.id, ...(cmd.dry ? { dry_run: true } : {}) }));
          expected = model.execute(p, cmd.dry);
        } else {
          actual = await outcomeOf(c.cancelAction({ proposal_id: p.id, actor_id: cmd.actor, reason: 'stop' }));
          expected = model.cancel(p, cmd.actor);
        }
      }
      // The model labels refusals (`FORBIDDEN:self`); the connector gives the code.
      expect({ step, cmd, outcome: actual }).toEqual({ step, cmd, outcome: expected.split(':')[0] });
      seen.outcomes.set(expected, (seen.outcomes.get(expected) ?? 0) + 1);

      const stored = await c.queryActionProposals({ limit: 1000 });
      expect(stored.map((a) => [a.id, a.status, a.reviews.length])).toEqual(
        model.proposals.map((m) => [m.id, m.status, m.reviews.length]),
      );
      for (const a of stored) seen.statuses.add(a.status);
    }

    // Tools ran only for approved proposals, at most once each, exactly as the model says.
    for (const r of handlerRuns) expect(r.statusBefore).toBe('approved');
    const counts = new Map<string, number>();
    for (const r of handlerRuns) counts.set(r.proposalId, (counts.get(r.proposalId) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts).toEqual(model.runs);
    const outcomes =
      (await c.queryAuditEvents({ eventType: 'action_executed', limit: 1000 })).length +
      (await c.queryAuditEvents({ eventType: 'action_failed', limit: 1000 })).length;
    expect(outcomes).toBe(handlerRuns.length);
    expect(await c.verifyAuditTrail({})).toMatchObject({ valid: true });
    seen.selfApprovals += model.selfApprovals;
  } finally {
    await c.close();
  }
}

describe('approval machine against a reference model (memory store)', () => {
  it('agrees with the model on outcomes and statuses; tools run once, only when approved', async () => {
    const seen: Coverage = { statuses: new Set(), outcomes: new Map(), selfApprovals: 0 };
    await fc.assert(
      fc.asyncProperty(scenarioArb, (cmds) => runScenario(cmds, seen)),
      { numRuns: 300 },
    );
    // The generator is not vacuous: it reaches every status and every rule's refusal.
    expect([...seen.statuses].sort()).toEqual(
      ['approved', 'cancelled', 'executed', 'expired', 'failed', 'pending', 'rejected'].sort(),
    );
    expect([...seen.outcomes.keys()].sort()).toEqual(
      [
        'APPROVAL_REQUIRED:cancelled',
        'APPROVAL_REQUIRED:pending',
        'APPROVAL_REQUIRED:rejected',
        'CONFLICT:double',
        'CONFLICT:stale',
        'EXPIRED',
        'FORBIDDEN:cancel',
        'FORBIDDEN:inactive',
        'FORBIDDEN:role',
        'FORBIDDEN:self',
        'INVALID_PARAMS:edit',
        'INVALID_PARAMS:propose',
        'INVALID_STATE:approved',
        'INVALID_STATE:cancelled',
        'INVALID_STATE:executed',
        'INVALID_STATE:failed',
        'INVALID_STATE:rejected',
        'ok',
      ].sort(),
    );
    expect(seen.selfApprovals).toBeGreaterThan(0);
  });
});
