import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sha256Canonical } from '../../src/audit/chain.js';
import type { OrchestrationConnector } from '../../src/connector.js';
import type { ErrorCode } from '../../src/errors.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { ActionProposal, ActionStatus } from '../../src/types.js';
import { connectorWithActors, type ManualClock, manualClock } from '../actions/helpers.js';

/**
 * The rules of SPEC 5 as a table, on the connector with the memory store and an injected clock.
 * Each row arranges a situation, then makes one call: `call` either succeeds and leaves the proposal
 * in `status`, or fails with `code`. A failing call writes nothing (no entity change, no audit
 * record), except that a proposal found past its deadline is moved to `expired`.
 */

interface World {
  c: OrchestrationConnector;
  clock: ManualClock;
  workflowId: string;
  ran: string[];
  /** A pending `deploy` proposal by `agent`. */
  deploy: (over?: Partial<Parameters<OrchestrationConnector['proposeAction']>[0]>) => Promise<ActionProposal>;
  /** A pending `transfer` proposal (2 approvals required) by `agent`. */
  transfer: (amount?: number) => Promise<ActionProposal>;
  approve: (id: string, reviewer: string) => Promise<ActionProposal>;
}

type Call = { id?: string; call: () => Promise<unknown> };
type Expectation = { status: ActionStatus; code?: undefined } | { code: ErrorCode; status?: ActionStatus };
interface Row {
  rule: string;
  arrange: (w: World) => Promise<Call>;
  expect: Expectation;
  /** Extra checks on the proposal (or the call's value) after the call. */
  verify?: (a: ActionProposal | undefined, value: unknown, w: World) => Promise<void> | void;
}

const TTL = 1000;
const DEADLINE = 5000;

async function makeWorld(): Promise<World> {
  const clock = manualClock();
  const ran: string[] = [];
  const handler = async (_p: unknown, ctx: { proposalId?: string }) => {
    ran.push(ctx.proposalId ?? 'raw');
    return { ok: true };
  };
  const c = await connectorWithActors(
    {
      store: new MemoryStore(),
      clock: clock.clock,
      maxRetries: 0,
      tools: {
        deploy: {
          schema: z.object({ service: z.string().min(1), replicas: z.number().int().min(1).max(10) }),
          handler,
        },
        transfer: { schema: z.object({ amount: z.number().int().positive(), to: z.string() }), handler },
        restart: { handler },
        payroll: { handler },
        lookup: { readOnly: true, handler },
        rotate: { handler },
        auto: { handler },
        notify: { schema: z.object({ to: z.string(), urgent: z.boolean().default(false) }), handler },
      },
      policy: {
        tools: {
          transfer: { approvals_required: 2 },
          restart: { allow_self_approval: true },
          payroll: { reviewer_roles: ['finance'] },
          rotate: { approval_ttl_ms: TTL },
          auto: { requires_approval: false },
        },
      },
    },
    [
      { id: 'fin', role: 'finance' },
      { id: 'retired', role: 'reviewer', status: 'inactive' },
      { id: 'swamped', role: 'reviewer', status: 'busy' },
      { id: 'gone', role: 'agent', status: 'inactive' },
    ],
  );
  const wf = await c.createWorkflow({
    name: 'release',
    description: 'build then ship',
    steps: [{ name: 'build' }, { name: 'ship', dependencies: ['build'] }],
  });
  const w: World = {
    c,
    clock,
    workflowId: wf.id,
    ran,
    deploy: (over = {}) =>
      c.proposeAction({
        actor_id: 'agent',
        tool: 'deploy',
        params: { service: 'api', replicas: 2 },
        reason: 'release',
        ...over,
      }),
    transfer: (amount = 100) =>
      c.proposeAction({ actor_id: 'agent', tool: 'transfer', params: { amount, to: 'acme' }, reason: 'invoice' }),
    approve: (id, reviewer) => c.reviewAction({ proposal_id: id, reviewer_id: reviewer, decision: 'approve' }),
  };
  return w;
}

const approveBy = (w: World, id: string, reviewer: string): Call => ({ id, call: () => w.approve(id, reviewer) });
const executeCall = (w: World, id: string): Call => ({ id, call: () => w.c.executeAction({ proposal_id: id }) });

const rows: Row[] = [
  // ------------------------------------------------------------ who may review
  {
    rule: 'approval by another active actor approves a quorum-1 proposal',
    arrange: async (w) => approveBy(w, (await w.deploy()).id, 'alice'),
    expect: { status: 'approved' },
    verify: (a) => {
      expect(a?.approvedAt).toBeDefined();
      expect(a?.reviews.map((r) => r.reviewerId)).toEqual(['alice']);
    },
  },
  {
    rule: 'self-review (approve) by the proposer is FORBIDDEN',
    arrange: async (w) => approveBy(w, (await w.deploy()).id, 'agent'),
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'self-review (reject) by the proposer is FORBIDDEN',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () => w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'agent', decision: 'reject' }),
      };
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'self-review (edit) by the proposer is FORBIDDEN',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'agent', decision: 'edit', edits: { replicas: 9 } }),
      };
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'self-approval is allowed when the tool policy says allow_self_approval',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'restart', reason: 'stuck' });
      return approveBy(w, a.id, 'agent');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'a reviewer without one of the tool reviewer_roles is FORBIDDEN',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'payroll', reason: 'month end' });
      return approveBy(w, a.id, 'alice');
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'a reviewer holding one of the tool reviewer_roles approves',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'payroll', reason: 'month end' });
      return approveBy(w, a.id, 'fin');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'an inactive reviewer is FORBIDDEN',
    arrange: async (w) => approveBy(w, (await w.deploy()).id, 'retired'),
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'a busy reviewer is not active, so FORBIDDEN',
    arrange: async (w) => approveBy(w, (await w.deploy()).id, 'swamped'),
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'an unknown reviewer is NOT_FOUND',
    arrange: async (w) => approveBy(w, (await w.deploy()).id, 'nobody'),
    expect: { code: 'NOT_FOUND', status: 'pending' },
  },
  {
    rule: 'a review of an unknown proposal is NOT_FOUND',
    arrange: async (w) => ({ call: () => w.approve('action_does_not_exist', 'alice') }),
    expect: { code: 'NOT_FOUND' },
  },
  // ------------------------------------------------------------ quorum
  {
    rule: 'a second approval by the same reviewer is CONFLICT (quorum 2)',
    arrange: async (w) => {
      const a = await w.transfer();
      await w.approve(a.id, 'alice');
      return approveBy(w, a.id, 'alice');
    },
    expect: { code: 'CONFLICT', status: 'pending' },
  },
  {
    rule: 'quorum 2-of-3: the first approval leaves it pending',
    arrange: async (w) => approveBy(w, (await w.transfer()).id, 'alice'),
    expect: { status: 'pending' },
    verify: (a) => {
      expect(a?.approvalsRequired).toBe(2);
      expect(a?.approvedAt).toBeUndefined();
    },
  },
  {
    rule: 'quorum 2-of-3: the second distinct approval approves',
    arrange: async (w) => {
      const a = await w.transfer();
      await w.approve(a.id, 'alice');
      return approveBy(w, a.id, 'bob');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'quorum 2-of-3: a third approval after the quorum is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.transfer();
      await w.approve(a.id, 'alice');
      await w.approve(a.id, 'bob');
      return approveBy(w, a.id, 'carol');
    },
    expect: { code: 'INVALID_STATE', status: 'approved' },
  },
  {
    rule: 'a reject after a partial approval rejects at once',
    arrange: async (w) => {
      const a = await w.transfer();
      await w.approve(a.id, 'alice');
      return {
        id: a.id,
        call: () => w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'reject', comment: 'no' }),
      };
    },
    expect: { status: 'rejected' },
  },
  // ------------------------------------------------------------ decisions after a final state
  {
    rule: 'a decision on an approved proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      return approveBy(w, a.id, 'bob');
    },
    expect: { code: 'INVALID_STATE', status: 'approved' },
  },
  {
    rule: 'a decision on a rejected proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'reject' });
      return approveBy(w, a.id, 'bob');
    },
    expect: { code: 'INVALID_STATE', status: 'rejected' },
  },
  {
    rule: 'a decision on an executed proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      await w.c.executeAction({ proposal_id: a.id });
      return approveBy(w, a.id, 'bob');
    },
    expect: { code: 'INVALID_STATE', status: 'executed' },
  },
  {
    rule: 'a decision on a cancelled proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'changed my mind' });
      return approveBy(w, a.id, 'bob');
    },
    expect: { code: 'INVALID_STATE', status: 'cancelled' },
  },
  // ------------------------------------------------------------ deadlines
  {
    rule: 'a vote exactly at the expires_in_ms deadline still counts',
    arrange: async (w) => {
      const a = await w.deploy({ expires_in_ms: DEADLINE });
      w.clock.advance(DEADLINE);
      return approveBy(w, a.id, 'alice');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'a vote one millisecond after the expires_in_ms deadline is EXPIRED',
    arrange: async (w) => {
      const a = await w.deploy({ expires_in_ms: DEADLINE });
      w.clock.advance(DEADLINE + 1);
      return approveBy(w, a.id, 'alice');
    },
    expect: { code: 'EXPIRED', status: 'expired' },
    verify: async (_a, _v, w) => {
      expect(await w.c.queryAuditEvents({ eventType: 'action_expired' })).toHaveLength(1);
    },
  },
  {
    rule: 'execution exactly at the approval TTL runs',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'rotate', reason: 'keys' });
      await w.approve(a.id, 'alice');
      w.clock.advance(TTL);
      return executeCall(w, a.id);
    },
    expect: { status: 'executed' },
  },
  {
    rule: 'execution one millisecond after the approval TTL is EXPIRED and nothing runs',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'rotate', reason: 'keys' });
      await w.approve(a.id, 'alice');
      w.clock.advance(TTL + 1);
      return executeCall(w, a.id);
    },
    expect: { code: 'EXPIRED', status: 'expired' },
    verify: (_a, _v, w) => expect(w.ran).toEqual([]),
  },
  {
    rule: 'approval replaces the pending deadline with the approval TTL',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'rotate', reason: 'keys', expires_in_ms: 60_000 });
      return approveBy(w, a.id, 'alice');
    },
    expect: { status: 'approved' },
    verify: (a, _v, w) => expect(a?.expiresAt).toBe(new Date(w.clock.nowMs() + TTL).toISOString()),
  },
  // ------------------------------------------------------------ edits
  {
    rule: 'an edit after a partial approval resets it: only the editor counts',
    arrange: async (w) => {
      const a = await w.transfer(100);
      await w.approve(a.id, 'alice');
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'edit', edits: { amount: 50 } }),
      };
    },
    expect: { status: 'pending' },
    verify: (a) => expect(a?.params).toEqual({ amount: 50, to: 'acme' }),
  },
  {
    rule: 'after an edit, the earlier approver must approve again to reach the quorum',
    arrange: async (w) => {
      const a = await w.transfer(100);
      await w.approve(a.id, 'alice');
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'edit', edits: { amount: 50 } });
      return approveBy(w, a.id, 'alice');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'an edit counts as the editor approval: edit + one approval reach quorum 2',
    arrange: async (w) => {
      const a = await w.transfer(100);
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'edit', edits: { amount: 70 } });
      return approveBy(w, a.id, 'bob');
    },
    expect: { status: 'approved' },
  },
  {
    rule: 'the editor cannot approve its own edit a second time (CONFLICT)',
    arrange: async (w) => {
      const a = await w.transfer(100);
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'edit', edits: { amount: 70 } });
      return approveBy(w, a.id, 'alice');
    },
    expect: { code: 'CONFLICT', status: 'pending' },
  },
  {
    rule: 'edit with `params` replaces them and keeps the originals',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({
            proposal_id: a.id,
            reviewer_id: 'alice',
            decision: 'edit',
            params: { service: 'web', replicas: 1 },
          }),
      };
    },
    expect: { status: 'approved' },
    verify: (a) => {
      expect(a?.params).toEqual({ service: 'web', replicas: 1 });
      expect(a?.originalParams).toEqual({ service: 'api', replicas: 2 });
      expect(a?.paramsHash).toBe(sha256Canonical({ service: 'web', replicas: 1 }));
    },
  },
  {
    rule: 'edit with `edits` shallow-merges into the params',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'edit', edits: { replicas: 5 } }),
      };
    },
    expect: { status: 'approved' },
    verify: (a) => {
      expect(a?.params).toEqual({ service: 'api', replicas: 5 });
      expect(a?.originalParams).toEqual({ service: 'api', replicas: 2 });
    },
  },
  {
    rule: 'an edit whose result fails the schema is INVALID_PARAMS and changes nothing',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'edit', edits: { replicas: 99 } }),
      };
    },
    expect: { code: 'INVALID_PARAMS', status: 'pending' },
    verify: (a) => {
      expect(a?.params).toEqual({ service: 'api', replicas: 2 });
      expect(a?.originalParams).toBeUndefined();
    },
  },
  {
    rule: 'an edit by a FORBIDDEN reviewer is refused as FORBIDDEN even when its params are invalid',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'retired', decision: 'edit', edits: { replicas: 99 } }),
      };
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'an edit of an approved proposal is INVALID_STATE even when its params are invalid',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'edit', edits: { replicas: 99 } }),
      };
    },
    expect: { code: 'INVALID_STATE', status: 'approved' },
  },
  {
    rule: 'an edit with both `params` and `edits` is INVALID_INPUT',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({
            proposal_id: a.id,
            reviewer_id: 'alice',
            decision: 'edit',
            params: { service: 'x', replicas: 1 },
            edits: { replicas: 3 },
          }),
      };
    },
    expect: { code: 'INVALID_INPUT', status: 'pending' },
  },
  {
    rule: 'an approve that carries `params` is INVALID_INPUT',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({
            proposal_id: a.id,
            reviewer_id: 'alice',
            decision: 'approve',
            params: { service: 'x', replicas: 1 },
          }),
      };
    },
    expect: { code: 'INVALID_INPUT', status: 'pending' },
  },
  // ------------------------------------------------------------ params_hash binding
  {
    rule: 'an approval bound to a stale params_hash is CONFLICT',
    arrange: async (w) => {
      const a = await w.transfer(100);
      const seen = a.paramsHash;
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'edit', edits: { amount: 1 } });
      return {
        id: a.id,
        call: () => w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'bob', decision: 'approve', params_hash: seen }),
      };
    },
    expect: { code: 'CONFLICT', status: 'pending' },
  },
  {
    rule: 'an approval bound to the current params_hash counts',
    arrange: async (w) => {
      const a = await w.deploy();
      return {
        id: a.id,
        call: () =>
          w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'approve', params_hash: a.paramsHash }),
      };
    },
    expect: { status: 'approved' },
  },
  // ------------------------------------------------------------ proposing
  {
    rule: 'the same idempotency_key returns the same proposal',
    arrange: async (w) => {
      const first = await w.deploy({ idempotency_key: 'k-1' });
      return { id: first.id, call: () => w.deploy({ idempotency_key: 'k-1' }) };
    },
    expect: { status: 'pending' },
    verify: async (a, value, w) => {
      expect((value as ActionProposal).id).toBe(a?.id);
      expect(await w.c.queryActionProposals({})).toHaveLength(1);
    },
  },
  {
    rule: 'the same idempotency_key for a different tool is CONFLICT',
    arrange: async (w) => {
      const first = await w.deploy({ idempotency_key: 'k-2' });
      return {
        id: first.id,
        call: () => w.c.proposeAction({ actor_id: 'agent', tool: 'restart', reason: 'other', idempotency_key: 'k-2' }),
      };
    },
    expect: { code: 'CONFLICT', status: 'pending' },
  },
  {
    rule: 'the same idempotency_key with different params is CONFLICT',
    arrange: async (w) => {
      const first = await w.deploy({ idempotency_key: 'k-3' });
      return {
        id: first.id,
        call: () => w.deploy({ idempotency_key: 'k-3', params: { service: 'api', replicas: 7 } }),
      };
    },
    expect: { code: 'CONFLICT', status: 'pending' },
  },
  {
    rule: 'the same idempotency_key with the same raw params returns the proposal although the schema filled defaults',
    arrange: async (w) => {
      const call = () =>
        w.c.proposeAction({
          actor_id: 'agent',
          tool: 'notify',
          params: { to: 'ops' },
          reason: 'page',
          idempotency_key: 'k-5',
        });
      const first = await call();
      expect(first.params).toEqual({ to: 'ops', urgent: false });
      return { id: first.id, call };
    },
    expect: { status: 'pending' },
    verify: (a, value) => expect((value as ActionProposal).id).toBe(a?.id),
  },
  {
    rule: 'the same idempotency_key still returns the proposal after a reviewer edited it',
    arrange: async (w) => {
      const first = await w.deploy({ idempotency_key: 'k-4' });
      await w.c.reviewAction({ proposal_id: first.id, reviewer_id: 'alice', decision: 'edit', edits: { replicas: 4 } });
      return { id: first.id, call: () => w.deploy({ idempotency_key: 'k-4' }) };
    },
    expect: { status: 'approved' },
    verify: (a, value) => expect((value as ActionProposal).id).toBe(a?.id),
  },
  {
    rule: 'an unknown tool is TOOL_NOT_FOUND',
    arrange: async (w) => ({
      call: () => w.c.proposeAction({ actor_id: 'agent', tool: 'launch_missiles', reason: 'why not' }),
    }),
    expect: { code: 'TOOL_NOT_FOUND' },
  },
  {
    rule: 'params that fail the tool schema are INVALID_PARAMS with the zod issues',
    arrange: async (w) => ({ call: () => w.deploy({ params: { service: '', replicas: 0 } }) }),
    expect: { code: 'INVALID_PARAMS' },
  },
  {
    rule: 'an inactive proposer is FORBIDDEN',
    arrange: async (w) => ({ call: () => w.deploy({ actor_id: 'gone' }) }),
    expect: { code: 'FORBIDDEN' },
  },
  {
    rule: 'an unknown proposer is NOT_FOUND',
    arrange: async (w) => ({ call: () => w.deploy({ actor_id: 'stranger' }) }),
    expect: { code: 'NOT_FOUND' },
  },
  {
    rule: 'a tool that needs no approval (readOnly) is proposed straight into approved',
    arrange: async (w) => ({ call: () => w.c.proposeAction({ actor_id: 'agent', tool: 'lookup', reason: 'read' }) }),
    expect: { status: 'approved' },
    verify: (_a, value) => {
      expect((value as ActionProposal).approvalsRequired).toBe(0);
      expect((value as ActionProposal).status).toBe('approved');
    },
  },
  {
    rule: 'a tool the policy marks requires_approval: false is proposed straight into approved',
    arrange: async (w) => ({ call: () => w.c.proposeAction({ actor_id: 'agent', tool: 'auto', reason: 'go' }) }),
    expect: { status: 'approved' },
  },
  // ------------------------------------------------------------ workflow steps
  {
    rule: 'a step whose dependencies are not done is DEPENDENCIES_NOT_MET',
    arrange: async (w) => ({ call: () => w.deploy({ workflow_id: w.workflowId, step: 'ship' }) }),
    expect: { code: 'DEPENDENCIES_NOT_MET' },
  },
  {
    rule: 'a step whose dependencies are done may be proposed',
    arrange: async (w) => {
      await w.c.updateWorkflowStep({ workflow_id: w.workflowId, step: 'build', status: 'completed' });
      return { call: () => w.deploy({ workflow_id: w.workflowId, step: 'ship' }) };
    },
    expect: { status: 'pending' },
    verify: (_a, value) => expect((value as ActionProposal).stepId).toMatch(/^step_/),
  },
  {
    rule: 'a step without workflow_id is INVALID_INPUT',
    arrange: async (w) => ({ call: () => w.deploy({ step: 'build' }) }),
    expect: { code: 'INVALID_INPUT' },
  },
  {
    rule: 'an unknown step of a workflow is NOT_FOUND',
    arrange: async (w) => ({ call: () => w.deploy({ workflow_id: w.workflowId, step: 'nope' }) }),
    expect: { code: 'NOT_FOUND' },
  },
  // ------------------------------------------------------------ cancel
  {
    rule: 'the proposer may cancel its pending proposal',
    arrange: async (w) => {
      const a = await w.deploy();
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'obsolete' }) };
    },
    expect: { status: 'cancelled' },
    verify: (a) => {
      expect(a?.cancelledBy).toBe('agent');
      expect(a?.cancelReason).toBe('obsolete');
    },
  },
  {
    rule: 'an actor who may review it may cancel an approved proposal',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'bob', reason: 'freeze' }) };
    },
    expect: { status: 'cancelled' },
  },
  {
    rule: 'a stranger (not the proposer, not an eligible reviewer) cancelling is FORBIDDEN',
    arrange: async (w) => {
      const a = await w.c.proposeAction({ actor_id: 'agent', tool: 'payroll', reason: 'month end' });
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'alice', reason: 'no' }) };
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'an inactive actor cancelling someone else’s proposal is FORBIDDEN',
    arrange: async (w) => {
      const a = await w.deploy();
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'retired', reason: 'no' }) };
    },
    expect: { code: 'FORBIDDEN', status: 'pending' },
  },
  {
    rule: 'cancelling an executed proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      await w.c.executeAction({ proposal_id: a.id });
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'late' }) };
    },
    expect: { code: 'INVALID_STATE', status: 'executed' },
  },
  {
    rule: 'cancelling a proposal past its deadline is EXPIRED',
    arrange: async (w) => {
      const a = await w.deploy({ expires_in_ms: DEADLINE });
      w.clock.advance(DEADLINE + 1);
      return { id: a.id, call: () => w.c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'late' }) };
    },
    expect: { code: 'EXPIRED', status: 'expired' },
  },
  // ------------------------------------------------------------ execute preconditions
  {
    rule: 'executing an approved proposal runs it once and ends executed',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      return executeCall(w, a.id);
    },
    expect: { status: 'executed' },
    verify: (a, value, w) => {
      expect(w.ran).toEqual([a?.id]);
      expect(value).toMatchObject({ success: true, dryRun: false, attempts: 1, result: { ok: true } });
    },
  },
  {
    rule: 'executing a pending proposal is APPROVAL_REQUIRED',
    arrange: async (w) => executeCall(w, (await w.deploy()).id),
    expect: { code: 'APPROVAL_REQUIRED', status: 'pending' },
  },
  {
    rule: 'executing a partially approved proposal (1 of 2) is APPROVAL_REQUIRED',
    arrange: async (w) => {
      const a = await w.transfer();
      await w.approve(a.id, 'alice');
      return executeCall(w, a.id);
    },
    expect: { code: 'APPROVAL_REQUIRED', status: 'pending' },
  },
  {
    rule: 'executing a rejected proposal is APPROVAL_REQUIRED',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.c.reviewAction({ proposal_id: a.id, reviewer_id: 'alice', decision: 'reject' });
      return executeCall(w, a.id);
    },
    expect: { code: 'APPROVAL_REQUIRED', status: 'rejected' },
  },
  {
    rule: 'executing a cancelled proposal is APPROVAL_REQUIRED',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      await w.c.cancelAction({ proposal_id: a.id, actor_id: 'agent', reason: 'no' });
      return executeCall(w, a.id);
    },
    expect: { code: 'APPROVAL_REQUIRED', status: 'cancelled' },
  },
  {
    rule: 'executing an executed proposal is INVALID_STATE',
    arrange: async (w) => {
      const a = await w.deploy();
      await w.approve(a.id, 'alice');
      await w.c.executeAction({ proposal_id: a.id });
      return executeCall(w, a.id);
    },
    expect: { code: 'INVALID_STATE', status: 'executed' },
    verify: (_a, _v, w) => expect(w.ran).toHaveLength(1),
  },
  {
    rule: 'executing an expired proposal is EXPIRED',
    arrange: async (w) => {
      const a = await w.deploy({ expires_in_ms: DEADLINE });
      w.clock.advance(DEADLINE + 1);
      await w.approve(a.id, 'alice').catch(() => undefined); // moves it to expired
      return executeCall(w, a.id);
    },
    expect: { code: 'EXPIRED', status: 'expired' },
  },
  {
    rule: 'executing an unknown proposal is NOT_FOUND',
    arrange: async (w) => executeCall(w, 'action_missing'),
    expect: { code: 'NOT_FOUND' },
  },
];

describe('action proposal rules (SPEC 5)', () => {
  let w: World;
  beforeEach(async () => {
    w = await makeWorld();
  });

  it('has at least 30 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it.each(rows.map((r) => [r.rule, r] as const))('%s', async (_rule, row) => {
    const { id, call } = await row.arrange(w);
    const before = id === undefined ? undefined : await w.c.getActionProposal({ id }).catch(() => undefined);
    const countBefore = (await w.c.queryActionProposals({ limit: 1000 })).length;
    const headBefore = await w.c.getAuditHead();

    let value: unknown;
    if (row.expect.code !== undefined) {
      await expect(call()).rejects.toMatchObject({ name: 'OrchestrationError', code: row.expect.code });
    } else {
      value = await call();
    }

    const after = id === undefined ? undefined : await w.c.getActionProposal({ id }).catch(() => undefined);
    if (row.expect.status !== undefined) {
      const status = after?.status ?? (value as ActionProposal | undefined)?.status;
      expect(status).toBe(row.expect.status);
    }
    if (row.expect.code !== undefined) {
      // A refused call writes nothing, except the move of a proposal found past its deadline to `expired`.
      expect((await w.c.queryActionProposals({ limit: 1000 })).length).toBe(countBefore);
      if (row.expect.status === 'expired' && before?.status !== 'expired') {
        expect(after?.version).toBe((before?.version ?? 0) + 1);
      } else {
        expect(after).toEqual(before);
        expect(await w.c.getAuditHead()).toEqual(headBefore);
      }
    }
    await row.verify?.(after, value, w);
    expect(await w.c.verifyAuditTrail({})).toMatchObject({ valid: true });
  });
});
