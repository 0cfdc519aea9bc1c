import { EventEmitter } from 'eventemitter3';
import { checkSignature, findChainBreak, GENESIS_HASH } from './audit/chain.js';
import { type AuditSink, type ConnectorConfig, connectorConfigSchema, type RemoteServer } from './config.js';
import { checkDag } from './domain/dag.js';
import { applyPolicyUpdate, DEFAULT_POLICY } from './domain/policy.js';
import { reviewProposal as applyProposalReview } from './domain/proposals.js';
import { cancel as cancelWf, moveStep } from './domain/workflows.js';
import { OrchestrationError } from './errors.js';
import type { BackgroundErrorContext, ConnectorEvents } from './events.js';
import type { Executor } from './execution/executor.js';
import { Gate, type ParallelResult } from './execution/gate.js';
import { ToolRegistry } from './execution/registry.js';
import { type ForwardResult, RemoteGateway } from './execution/remote-gateway.js';
import { Kernel } from './kernel.js';
import * as s from './schemas.js';
import { MemoryStore } from './stores/memory.js';
import type { EntityKind, Store } from './stores/store.js';
import type {
  ActionProposal,
  Actor,
  AuditEvent,
  AuditHead,
  ExecutionResult,
  Policy,
  Proposal,
  Stats,
  VerifyResult,
  Workflow,
  WorkflowStep,
} from './types.js';
import { newId } from './util/ids.js';
import { toJsonData } from './util/json.js';
import { parseInput } from './validate.js';

const DEFAULT_LIMIT = 100;
const VERIFY_PAGE = 5000;

type Listener = (...args: never[]) => unknown;

/**
 * The approval gate. Agents propose tool calls; reviewers approve, reject or edit them; only approved
 * calls run, once; every change lands in a hash-chained audit trail in the store. Every method takes
 * one plain object, validated by the exported zod schema of the same name.
 */
export class OrchestrationConnector extends EventEmitter<ConnectorEvents> {
  private readonly k: Kernel;
  private readonly gate: Gate;
  private readonly remote: RemoteGateway;
  private readonly sinks: AuditSink[];
  private readonly sinkQueues: Array<Promise<void>>;
  private readonly signingKey: string | undefined;
  /** The guarded wrapper of each listener, per event (the wrapper reports the event it was called for). */
  private readonly guarded = new WeakMap<Listener, Map<string | symbol, Listener>>();
  private closed = false;

  constructor(config: ConnectorConfig = {}) {
    super();
    const c = parseInput(connectorConfigSchema, config, 'OrchestrationConnector');
    const store = (config.store ?? new MemoryStore()) as Store;
    const executor: Executor = (config.executor as Executor | undefined) ?? new ToolRegistry(config.tools ?? {});
    if (config.executor !== undefined && config.tools !== undefined) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        'Give either `tools` or `executor`, not both. Register local tools in your executor.',
        {},
      );
    }
    let policy: Policy = { ...DEFAULT_POLICY };
    if (c.dryRun !== undefined) policy.dry_run = c.dryRun;
    if (c.maxRetries !== undefined) policy.max_retries = c.maxRetries;
    if (c.timeoutMs !== undefined) policy.timeout_ms = c.timeoutMs;
    if (c.policy !== undefined) policy = applyPolicyUpdate(policy, c.policy);
    this.signingKey = c.audit?.signingKey;
    this.sinks = (config.audit?.sinks ?? []) as AuditSink[];
    this.sinkQueues = this.sinks.map(() => Promise.resolve());
    this.k = new Kernel(
      store,
      executor,
      config.clock ?? (() => new Date()),
      policy,
      c.enableAudit ?? true,
      this.signingKey,
      (events) => this.deliver(events),
    );
    this.gate = new Gate(this.k);
    this.remote = new RemoteGateway(this.k, (config.remoteServers ?? {}) as Record<string, RemoteServer>);
  }

  // ---------------------------------------------------------------- events

  /** Listeners are guarded: one that throws (or rejects) is reported as `'error'` and never breaks an operation. */
  override on<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.guard(event, fn), context);
  }

  override addListener<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.guard(event, fn), context);
  }

  override off<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn?: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const g = fn === undefined ? undefined : (this.guarded.get(fn as Listener)?.get(event) as typeof fn | undefined);
    return super.off(event, g ?? fn, context, once);
  }

  override removeListener<T extends EventEmitter.EventNames<ConnectorEvents>>(
    event: T,
    fn?: EventEmitter.EventListener<ConnectorEvents, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.off(event, fn, context, once);
  }

  private guard<F>(event: string | symbol, fn: F): F {
    if (event === 'error') return fn; // reporting errors of error listeners would loop
    const original = fn as unknown as Listener;
    let byEvent = this.guarded.get(original);
    if (byEvent === undefined) {
      byEvent = new Map();
      this.guarded.set(original, byEvent);
    }
    let g = byEvent.get(event);
    if (g === undefined) {
      const self = this;
      g = function (this: unknown, ...args: never[]) {
        try {
          const r = original.apply(this, args) as unknown;
          if (r instanceof Promise)
            r.catch((err) => self.reportError(err, { source: 'listener', eventType: String(event) }));
        } catch (err) {
          self.reportError(err, { source: 'listener', eventType: String(event) });
        }
      };
      byEvent.set(event, g);
    }
    return g as unknown as F;
  }

  private reportError(err: unknown, context: BackgroundErrorContext): void {
    try {
      this.emit('error', err, context);
    } catch {
      // an 'error' listener that throws has nowhere left to report to
    }
  }

  private deliver(events: AuditEvent[]): void {
    for (const e of events) {
      this.emit(e.eventType, e as never);
      this.emit('audit', e);
      if (e.seq === 0) continue;
      this.sinks.forEach((sink, i) => {
        this.sinkQueues[i] = (this.sinkQueues[i] as Promise<void>).then(async () => {
          try {
            await sink.write(e);
          } catch (err) {
            this.reportError(err, {
              source: 'sink',
              eventType: e.eventType,
              ...(sink.name ? { sink: sink.name } : {}),
            });
          }
        });
      });
    }
  }

  /** Resolves when every audit sink has received every record so far. */
  async flushAuditSinks(): Promise<void> {
    await Promise.all(this.sinkQueues);
  }

  private async begin<S extends import('zod').ZodType>(schema: S, input: unknown, method: string) {
    if (this.closed)
      throw new OrchestrationError('INVALID_STATE', `${method}: the connector is closed. Create a new one.`, {});
    const parsed = parseInput(schema, input, method);
    await this.k.init();
    return parsed;
  }

  private nowIso(): string {
    return this.k.now().toISOString();
  }

  // ---------------------------------------------------------------- actors

  /** Creates an actor (`CONFLICT` when the id is taken). */
  async createActor(input: s.CreateActorInput): Promise<Actor> {
    const i = await this.begin(s.createActorInput, input, 'createActor');
    const now = this.nowIso();
    const actor: Actor = {
      id: i.id ?? newId('actor'),
      name: i.name,
      role: i.role,
      capabilities: [...new Set(i.capabilities ?? [])],
      status: i.status ?? 'active',
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    const r = await this.k.commit({
      writes: [{ kind: 'actor', entity: actor }],
      drafts: [
        this.k.draft(
          {
            type: 'actor_created',
            details: { name: actor.name, role: actor.role, capabilities: actor.capabilities, status: actor.status },
          },
          'actor',
          actor.id,
          actor.id,
          now,
        ),
      ],
    });
    if (!r.ok) {
      throw new OrchestrationError(
        'CONFLICT',
        `Actor '${actor.id}' already exists. Use updateActor, or pick another id.`,
        { id: actor.id },
      );
    }
    return actor;
  }

  /** Changes an actor's name, role, capabilities or status. */
  async updateActor(input: s.UpdateActorInput): Promise<Actor> {
    const i = await this.begin(s.updateActorInput, input, 'updateActor');
    return this.k.mutate('actor', i.id, `Create it with createActor({ id: '${i.id}', ... }).`, (a) => {
      const now = this.nowIso();
      const next: Actor = { ...a, updatedAt: now, version: a.version + 1 };
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const key of ['name', 'role', 'capabilities', 'status'] as const) {
        const v = key === 'capabilities' && i.capabilities ? [...new Set(i.capabilities)] : i[key];
        if (v !== undefined && JSON.stringify(v) !== JSON.stringify(a[key])) {
          changes[key] = { from: a[key], to: v };
          (next as unknown as Record<string, unknown>)[key] = v;
        }
      }
      return {
        mutation: {
          writes: [{ kind: 'actor', entity: next, expectedVersion: a.version }],
          drafts: [this.k.draft({ type: 'actor_updated', details: { changes } }, 'actor', a.id, a.id, now)],
        },
        result: next,
      };
    });
  }

  /** One actor (`NOT_FOUND` otherwise). */
  async getActor(input: s.GetByIdInput): Promise<Actor> {
    const i = await this.begin(s.getByIdInput, input, 'getActor');
    return this.k.load('actor', i.id, `Create it with createActor({ id: '${i.id}', ... }).`);
  }

  /** Actors by status, role and capabilities (all of them), oldest first. */
  async queryActors(input: s.QueryActorsInput = {}): Promise<Actor[]> {
    const i = await this.begin(s.queryActorsInput, input, 'queryActors');
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.role) filters.push(['role', i.role]);
    for (const c of new Set(i.capabilities ?? [])) filters.push(['capability', c]);
    return this.query('actor', filters, i.limit, i.after);
  }

  private query<K extends EntityKind>(kind: K, filters: Array<[string, string]>, limit?: number, after?: string) {
    return this.k.guardStore(() =>
      this.k.store.query(kind, { filters, limit: limit ?? DEFAULT_LIMIT, ...(after !== undefined ? { after } : {}) }),
    );
  }

  private async requireActors(ids: Iterable<string>, what: string): Promise<void> {
    for (const id of new Set(ids)) {
      await this.k.load(
        'actor',
        id,
        `${what} must name existing actors: create it with createActor({ id: '${id}', ... }).`,
      );
    }
  }

  // ---------------------------------------------------------------- workflows

  /** Creates a draft workflow after checking its step graph (unique names, known dependencies, no cycle) and actors. */
  async createWorkflow(input: s.CreateWorkflowInput): Promise<Workflow> {
    const i = await this.begin(s.createWorkflowInput, input, 'createWorkflow');
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

  /** Moves one step (by name or id); returns the workflow with its derived status. */
  async updateWorkflowStep(input: s.UpdateWorkflowStepInput): Promise<Workflow> {
    const i = await this.begin(s.updateWorkflowStepInput, input, 'updateWorkflowStep');
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
          drafts: c.events.map((e) => this.k.draft(e, 'workflow', wf.id, i.actor_id, now)),
        },
        result: c.workflow,
      };
    });
  }

  /** Cancels a workflow that is not completed. */
  async cancelWorkflow(input: s.CancelWorkflowInput): Promise<Workflow> {
    const i = await this.begin(s.cancelWorkflowInput, input, 'cancelWorkflow');
    return this.k.mutate('workflow', i.workflow_id, 'Check the workflow id.', (wf) => {
      const now = this.nowIso();
      const c = cancelWf(wf, i.reason, now);
      return {
        mutation: {
          writes: [{ kind: 'workflow', entity: c.workflow, expectedVersion: wf.version }],
          drafts: c.events.map((e) => this.k.draft(e, 'workflow', wf.id, undefined, now)),
        },
        result: c.workflow,
      };
    });
  }

  /** One workflow (`NOT_FOUND` otherwise). */
  async getWorkflow(input: s.GetByIdInput): Promise<Workflow> {
    const i = await this.begin(s.getByIdInput, input, 'getWorkflow');
    return this.k.load('workflow', i.id, 'Check the workflow id.');
  }

  /** Workflows by status, priority and assigned actor, oldest first. */
  async queryWorkflows(input: s.QueryWorkflowsInput = {}): Promise<Workflow[]> {
    const i = await this.begin(s.queryWorkflowsInput, input, 'queryWorkflows');
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.priority) filters.push(['priority', i.priority]);
    if (i.assignedActor) filters.push(['assignedActor', i.assignedActor]);
    return this.query('workflow', filters, i.limit, i.after);
  }

  // ---------------------------------------------------------------- general proposals

  /** Creates a pending general proposal. */
  async createProposal(input: s.CreateProposalInput): Promise<Proposal> {
    const i = await this.begin(s.createProposalInput, input, 'createProposal');
    const reviewers = [...new Set(i.assignedReviewers ?? [])];
    await this.requireActors([...reviewers, ...(i.requester ? [i.requester] : [])], 'Reviewers and requester');
    if (i.workflow_id !== undefined) await this.k.load('workflow', i.workflow_id, 'Check workflow_id.');
    const now = this.nowIso();
    const p: Proposal = {
      id: newId('proposal'),
      title: i.title,
      description: i.description,
      priority: i.priority ?? 'medium',
      status: 'pending',
      ...(i.requester !== undefined ? { requester: i.requester } : {}),
      assignedReviewers: reviewers,
      ...(i.workflow_id !== undefined ? { workflowId: i.workflow_id } : {}),
      reviews: [],
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.k.commit({
      writes: [{ kind: 'proposal', entity: p }],
      drafts: [
        this.k.draft(
          { type: 'proposal_created', details: { title: p.title, priority: p.priority, assignedReviewers: reviewers } },
          'proposal',
          p.id,
          i.requester,
          now,
        ),
      ],
    });
    return p;
  }

  /** Approves, rejects or comments on a general proposal. */
  async reviewProposal(input: s.ReviewProposalInput): Promise<Proposal> {
    const i = await this.begin(s.reviewProposalInput, input, 'reviewProposal');
    await this.requireActors([i.reviewer_id], 'reviewer_id');
    return this.k.mutate('proposal', i.proposal_id, 'Check proposal_id.', (p) => {
      const now = this.nowIso();
      const c = applyProposalReview(p, i.reviewer_id, i.decision, i.comment, now);
      return {
        mutation: {
          writes: [{ kind: 'proposal', entity: c.proposal, expectedVersion: p.version }],
          drafts: c.events.map((e) => this.k.draft(e, 'proposal', p.id, i.reviewer_id, now)),
        },
        result: c.proposal,
      };
    });
  }

  /** One general proposal (`NOT_FOUND` otherwise). */
  async getProposal(input: s.GetByIdInput): Promise<Proposal> {
    const i = await this.begin(s.getByIdInput, input, 'getProposal');
    return this.k.load('proposal', i.id, 'Check the proposal id.');
  }

  /** General proposals by status, priority, requester and reviewer, oldest first. */
  async queryProposals(input: s.QueryProposalsInput = {}): Promise<Proposal[]> {
    const i = await this.begin(s.queryProposalsInput, input, 'queryProposals');
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.priority) filters.push(['priority', i.priority]);
    if (i.requester) filters.push(['requester', i.requester]);
    if (i.reviewer) filters.push(['reviewer', i.reviewer]);
    return this.query('proposal', filters, i.limit, i.after);
  }

  // ---------------------------------------------------------------- approval-gated execution (see execution/gate.ts)

  /** Proposes a tool call; tools that need no approval are proposed straight into `approved`. */
  async proposeAction(input: s.ProposeActionInput): Promise<ActionProposal> {
    return this.gate.propose(await this.begin(s.proposeActionInput, input, 'proposeAction'));
  }

  /** Approves, rejects or edits a pending action proposal. */
  async reviewAction(input: s.ReviewActionInput): Promise<ActionProposal> {
    return this.gate.review(await this.begin(s.reviewActionInput, input, 'reviewAction'));
  }

  /** Runs an approved proposal exactly once (or simulates it in a dry run). */
  async executeAction(input: s.ExecuteActionInput): Promise<ExecutionResult> {
    return this.gate.execute(await this.begin(s.executeActionInput, input, 'executeAction'));
  }

  /** Runs raw calls of tools that need no approval and approved proposals, bounded, results in call order. */
  async executeParallel(input: s.ExecuteParallelInput): Promise<ParallelResult> {
    return this.gate.parallel(await this.begin(s.executeParallelInput, input, 'executeParallel'));
  }

  /** Cancels a pending or approved action proposal. */
  async cancelAction(input: s.CancelActionInput): Promise<ActionProposal> {
    return this.gate.cancel(await this.begin(s.cancelActionInput, input, 'cancelAction'));
  }

  /** One action proposal (`NOT_FOUND` otherwise). */
  async getActionProposal(input: s.GetByIdInput): Promise<ActionProposal> {
    const i = await this.begin(s.getByIdInput, input, 'getActionProposal');
    return this.k.load('action', i.id, 'Check the proposal id.');
  }

  /** Action proposals by status, tool, actor and workflow, oldest first. */
  async queryActionProposals(input: s.QueryActionProposalsInput = {}): Promise<ActionProposal[]> {
    const i = await this.begin(s.queryActionProposalsInput, input, 'queryActionProposals');
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.tool) filters.push(['tool', i.tool]);
    if (i.actor_id) filters.push(['actorId', i.actor_id]);
    if (i.workflow_id) filters.push(['workflowId', i.workflow_id]);
    return this.query('action', filters, i.limit, i.after);
  }

  /** Resolves with the proposal once it is no longer pending (`TIMEOUT` otherwise). */
  async waitForDecision(input: s.WaitForDecisionInput): Promise<ActionProposal> {
    return this.gate.waitForDecision(await this.begin(s.waitForDecisionInput, input, 'waitForDecision'), this);
  }

  /** Moves executions whose lease ran out to `failed` with `INTERRUPTED`. Never re-runs a tool. */
  async recoverStaleExecutions(input: Record<string, never> = {}): Promise<ActionProposal[]> {
    await this.begin(s.emptyInput, input, 'recoverStaleExecutions');
    return this.gate.recoverStale();
  }

  // ---------------------------------------------------------------- remote execution

  /** Calls a tool on an allow-listed remote MCP server (approval rules apply). */
  async forwardToolCall(input: s.ForwardToolCallInput): Promise<ForwardResult> {
    return this.remote.forward(await this.begin(s.forwardToolCallInput, input, 'forwardToolCall'));
  }

  /** Runs a tool that needs no approval, locally or on a remote server, with the policy's retries and timeout. */
  async executeWithRetry(input: s.ExecuteWithRetryInput): Promise<ForwardResult> {
    return this.remote.executeWithRetry(await this.begin(s.executeWithRetryInput, input, 'executeWithRetry'));
  }

  // ---------------------------------------------------------------- policy

  /** Changes the policy; audited with the before and after values. Returns the whole policy. */
  async updatePolicy(input: s.UpdatePolicyInput): Promise<Policy> {
    const i = await this.begin(s.updatePolicyInput, input, 'updatePolicy');
    const { updated_by, ...update } = i;
    if (updated_by !== undefined) await this.requireActors([updated_by], 'updated_by');
    for (let attempt = 0; attempt < 50; attempt++) {
      const stored = await this.k.guardStore(() => this.k.store.get('policy', 'policy'));
      const before = stored?.policy ?? (await this.k.policy());
      const after = applyPolicyUpdate(before, update);
      const now = this.nowIso();
      const record = {
        id: 'policy',
        policy: after,
        createdAt: stored?.createdAt ?? now,
        updatedAt: now,
        version: (stored?.version ?? 0) + 1,
      };
      const r = await this.k.commit({
        writes: [{ kind: 'policy', entity: record, ...(stored ? { expectedVersion: stored.version } : {}) }],
        drafts: [
          this.k.draft({ type: 'policy_updated', details: { before, after } }, 'policy', 'policy', updated_by, now),
        ],
      });
      if (r.ok) {
        this.k.rememberPolicy(after);
        return structuredClone(after);
      }
    }
    throw new OrchestrationError('STORE_ERROR', 'Too many concurrent policy updates. Retry.', { retryable: true });
  }

  /** The policy in force, snake_case. */
  async getPolicy(input: Record<string, never> = {}): Promise<Policy> {
    await this.begin(s.emptyInput, input, 'getPolicy');
    return structuredClone(await this.k.policy());
  }

  // ---------------------------------------------------------------- audit

  /** Audit events by type, entity, actor and inclusive date range, in seq order. */
  async queryAuditEvents(input: s.QueryAuditEventsInput = {}): Promise<AuditEvent[]> {
    const i = await this.begin(s.queryAuditEventsInput, input, 'queryAuditEvents');
    const from = i.startDate === undefined ? undefined : normaliseDate(i.startDate, 'start');
    const to = i.endDate === undefined ? undefined : normaliseDate(i.endDate, 'end');
    return this.k.guardStore(() =>
      this.k.store.queryAudit({
        ...(i.eventType !== undefined ? { eventType: i.eventType } : {}),
        ...(i.entityType !== undefined ? { entityType: i.entityType } : {}),
        ...(i.entityId !== undefined ? { entityId: i.entityId } : {}),
        ...(i.actorId !== undefined ? { actorId: i.actorId } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: i.limit ?? DEFAULT_LIMIT,
        ...(i.after !== undefined ? { after: i.after } : {}),
      }),
    );
  }

  /**
   * Re-computes the whole chain: seq without gaps, each `prevHash`, each `hash`, and with a signing
   * key each signature. With `head` (kept outside the store) it also detects truncation and a rewritten tail.
   */
  async verifyAuditTrail(input: s.VerifyAuditTrailInput = {}): Promise<VerifyResult> {
    const i = await this.begin(s.verifyAuditTrailInput, input, 'verifyAuditTrail');
    let prev: AuditHead | null = null;
    let count = 0;
    for (;;) {
      const page = await this.k.guardStore(() => this.k.store.readAudit(count + 1, VERIFY_PAGE));
      const brk = findChainBreak(page, prev, this.signingKey);
      if (brk !== undefined)
        return {
          valid: false,
          count: count + page.findIndex((e) => e.seq >= brk.seq),
          firstInvalidSeq: brk.seq,
          reason: brk.reason,
        };
      count += page.length;
      const last = page[page.length - 1];
      if (last !== undefined) prev = { seq: last.seq, hash: last.hash };
      if (page.length < VERIFY_PAGE) break;
    }
    const head = i.head;
    if (head !== undefined) {
      if (this.signingKey !== undefined && head.signature !== undefined) {
        if (!checkSignature(head.hash, head.signature, this.signingKey)) {
          return { valid: false, count, firstInvalidSeq: head.seq, reason: 'the given head has a bad signature' };
        }
      }
      // a head of seq 0 (saved from an empty trail) is only checked for the genesis hash
      if ((prev?.seq ?? 0) < head.seq) {
        return {
          valid: false,
          count,
          firstInvalidSeq: (prev?.seq ?? 0) + 1,
          reason: `the trail ends at seq ${prev?.seq ?? 0}, before the saved head ${head.seq}: it was truncated`,
        };
      }
      const atHead =
        head.seq === 0
          ? { hash: GENESIS_HASH }
          : (await this.k.guardStore(() => this.k.store.readAudit(head.seq, 1)))[0];
      if (atHead === undefined || atHead.hash !== head.hash) {
        return {
          valid: false,
          count,
          firstInvalidSeq: head.seq,
          reason: 'the record at the saved head differs: the trail was rewritten',
        };
      }
    }
    return { valid: true, count };
  }

  /** The last record's seq and hash (and signature): keep it outside the store to detect truncation. */
  async getAuditHead(input: Record<string, never> = {}): Promise<AuditHead> {
    await this.begin(s.emptyInput, input, 'getAuditHead');
    return (await this.k.guardStore(() => this.k.store.auditHead())) ?? { seq: 0, hash: GENESIS_HASH };
  }

  // ---------------------------------------------------------------- management

  /** Counts by status of every kind, executions and audit events. */
  async getStats(input: Record<string, never> = {}): Promise<Stats> {
    await this.begin(s.emptyInput, input, 'getStats');
    const st = this.k.store;
    const [actors, workflows, proposals, actionProposals, succeeded, failed, dryRun, total] = await this.k.guardStore(
      () =>
        Promise.all([
          st.count('actor'),
          st.count('workflow'),
          st.count('proposal'),
          st.count('action'),
          st.countAudit('action_executed'),
          st.countAudit('action_failed'),
          st.countAudit('action_simulated'),
          st.countAudit(),
        ]),
    );
    return {
      actors,
      workflows,
      proposals,
      actionProposals,
      executions: { total: succeeded + failed + dryRun, succeeded, failed, dryRun },
      auditEvents: { total },
    };
  }

  /** Empties the store (for tests); audited as the first event of the new trail. */
  async clearAllData(input: Record<string, never> = {}): Promise<{ cleared: true; auditHead: AuditHead }> {
    await this.begin(s.emptyInput, input, 'clearAllData');
    const now = this.nowIso();
    const draft = this.k.draft({ type: 'data_cleared', details: {} }, 'system', 'system', undefined, now);
    const stored = await this.k.guardStore(() =>
      this.k.store.clear({ writes: [], audit: this.k.auditEnabled ? [draft] : [], seal: this.k.seal }),
    );
    this.k.resetPolicy();
    // without a trail the event still fires, unsealed (seq 0), like every other change's
    this.deliver(this.k.auditEnabled ? stored : [{ ...draft, seq: 0, prevHash: '', hash: '' }]);
    const last = stored[stored.length - 1];
    const auditHead: AuditHead = last
      ? { seq: last.seq, hash: last.hash, ...(last.signature !== undefined ? { signature: last.signature } : {}) }
      : { seq: 0, hash: GENESIS_HASH };
    return { cleared: true, auditHead };
  }

  /** Releases the store, remote connections and the executor. Running handlers see their signal aborted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.k.lifetime.abort(new OrchestrationError('INVALID_STATE', 'The connector was closed.'));
    await this.flushAuditSinks();
    await Promise.allSettled([this.remote.close(), this.k.executor.close?.()]);
    await this.k.store.close();
  }
}

function normaliseDate(value: string, edge: 'start' | 'end'): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}${edge === 'start' ? 'T00:00:00.000Z' : 'T23:59:59.999Z'}`;
  // a date-time without a zone is UTC, like the stored timestamps, not the host's local time
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return new Date(`${value}Z`).toISOString();
  return new Date(value).toISOString();
}
