import { GENESIS_HASH } from './audit/chain.js';
import { type AuditSink, type ConnectorConfig, connectorConfigSchema, type RemoteServer } from './config.js';
import { Actors } from './core/actors.js';
import { AuditTrail } from './core/audit.js';
import { Proposals } from './core/proposals.js';
import { Workflows } from './core/workflows.js';
import { applyPolicyUpdate, DEFAULT_POLICY } from './domain/policy.js';
import { OrchestrationError } from './errors.js';
import type { Executor } from './execution/executor.js';
import { Gate, type ParallelResult } from './execution/gate.js';
import { ToolRegistry } from './execution/registry.js';
import { type ForwardResult, RemoteGateway } from './execution/remote-gateway.js';
import { GuardedEmitter } from './guarded-emitter.js';
import { Kernel } from './kernel.js';
import * as s from './schemas.js';
import { MemoryStore } from './stores/memory.js';
import type { Store } from './stores/store.js';
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
} from './types.js';
import { parseInput } from './validate.js';

/** How long close() waits for audit sinks. */
const SINK_FLUSH_ON_CLOSE_MS = 5000;

/**
 * The approval gate. Agents propose tool calls; reviewers approve, reject or edit them; only approved
 * calls run, once; every change lands in a hash-chained audit trail in the store. Every method takes
 * one plain object, validated by the exported zod schema of the same name.
 */
export class OrchestrationConnector extends GuardedEmitter {
  private readonly k: Kernel;
  private readonly gate: Gate;
  private readonly actors: Actors;
  private readonly workflows: Workflows;
  private readonly proposals: Proposals;
  private readonly audit: AuditTrail;
  private readonly remote: RemoteGateway;
  private readonly sinks: AuditSink[];
  private readonly sinkQueues: Array<Promise<void>>;
  private readonly signingKey: string | undefined;
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
      () => this.sinks.length > 0 || this.eventNames().length > 0,
    );
    this.gate = new Gate(this.k);
    this.actors = new Actors(this.k);
    this.workflows = new Workflows(this.k);
    this.proposals = new Proposals(this.k);
    this.audit = new AuditTrail(this.k, this.signingKey);
    this.remote = new RemoteGateway(this.k, (config.remoteServers ?? {}) as Record<string, RemoteServer>);
  }

  // ---------------------------------------------------------------- events

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

  /**
   * The checks every method starts with: the connector is open, the input parses, the store is
   * initialised. The parsed input, at once when the store is ready (the usual case: no promise to
   * wait for), else once it is.
   */
  private begin<S extends import('zod').ZodType>(
    schema: S,
    input: unknown,
    method: string,
  ): import('zod').output<S> | Promise<import('zod').output<S>> {
    if (this.closed)
      throw new OrchestrationError('INVALID_STATE', `${method}: the connector is closed. Create a new one.`, {});
    const parsed = parseInput(schema, input, method);
    return this.k.initialised ? parsed : this.k.init().then(() => parsed);
  }

  /**
   * {@link begin}, then `run` with the parsed input: what an `async` method that awaits `begin` does,
   * with fewer promises on the way (the methods every cycle calls use it). Never throws: a failure is
   * a rejected promise, as from an `async` method.
   */
  private call<S extends import('zod').ZodType, R>(
    schema: S,
    input: unknown,
    method: string,
    run: (parsed: import('zod').output<S>) => Promise<R>,
  ): Promise<R> {
    try {
      const parsed = this.begin(schema, input, method);
      return parsed instanceof Promise ? parsed.then(run) : run(parsed);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private nowIso(): string {
    return this.k.now().toISOString();
  }

  // ---------------------------------------------------------------- actors

  /** Creates an actor (`CONFLICT` when the id is taken). */
  async createActor(input: s.CreateActorInput): Promise<Actor> {
    return this.actors.createActor(await this.begin(s.createActorInput, input, 'createActor'));
  }

  /** Changes an actor's name, role, capabilities or status. */
  async updateActor(input: s.UpdateActorInput): Promise<Actor> {
    return this.actors.updateActor(await this.begin(s.updateActorInput, input, 'updateActor'));
  }

  /** One actor (`NOT_FOUND` otherwise). */
  async getActor(input: s.GetByIdInput): Promise<Actor> {
    return this.actors.getActor(await this.begin(s.getByIdInput, input, 'getActor'));
  }

  /** Actors by status, role and capabilities (all of them), oldest first. */
  async queryActors(input: s.QueryActorsInput = {}): Promise<Actor[]> {
    return this.actors.queryActors(await this.begin(s.queryActorsInput, input, 'queryActors'));
  }

  // ---------------------------------------------------------------- workflows

  /** Creates a draft workflow after checking its step graph (unique names, known dependencies, no cycle) and actors. */
  async createWorkflow(input: s.CreateWorkflowInput): Promise<Workflow> {
    return this.workflows.createWorkflow(await this.begin(s.createWorkflowInput, input, 'createWorkflow'));
  }

  /** Moves one step (by name or id); returns the workflow with its derived status. */
  async updateWorkflowStep(input: s.UpdateWorkflowStepInput): Promise<Workflow> {
    return this.workflows.updateWorkflowStep(await this.begin(s.updateWorkflowStepInput, input, 'updateWorkflowStep'));
  }

  /** Cancels a workflow that is not completed. */
  async cancelWorkflow(input: s.CancelWorkflowInput): Promise<Workflow> {
    return this.workflows.cancelWorkflow(await this.begin(s.cancelWorkflowInput, input, 'cancelWorkflow'));
  }

  /** One workflow (`NOT_FOUND` otherwise). */
  async getWorkflow(input: s.GetByIdInput): Promise<Workflow> {
    return this.workflows.getWorkflow(await this.begin(s.getByIdInput, input, 'getWorkflow'));
  }

  /** Workflows by status, priority and assigned actor, oldest first. */
  async queryWorkflows(input: s.QueryWorkflowsInput = {}): Promise<Workflow[]> {
    return this.workflows.queryWorkflows(await this.begin(s.queryWorkflowsInput, input, 'queryWorkflows'));
  }

  // ---------------------------------------------------------------- general proposals

  /** Creates a pending general proposal. */
  async createProposal(input: s.CreateProposalInput): Promise<Proposal> {
    return this.proposals.createProposal(await this.begin(s.createProposalInput, input, 'createProposal'));
  }

  /** Approves, rejects or comments on a general proposal. */
  async reviewProposal(input: s.ReviewProposalInput): Promise<Proposal> {
    return this.proposals.reviewProposal(await this.begin(s.reviewProposalInput, input, 'reviewProposal'));
  }

  /** One general proposal (`NOT_FOUND` otherwise). */
  async getProposal(input: s.GetByIdInput): Promise<Proposal> {
    return this.proposals.getProposal(await this.begin(s.getByIdInput, input, 'getProposal'));
  }

  /** General proposals by status, priority, requester and reviewer, oldest first. */
  async queryProposals(input: s.QueryProposalsInput = {}): Promise<Proposal[]> {
    return this.proposals.queryProposals(await this.begin(s.queryProposalsInput, input, 'queryProposals'));
  }

  // ---------------------------------------------------------------- approval-gated execution (see execution/gate.ts)

  /** Proposes a tool call; tools that need no approval are proposed straight into `approved`. */
  proposeAction(input: s.ProposeActionInput): Promise<ActionProposal> {
    return this.call(s.proposeActionInput, input, 'proposeAction', (i) => this.gate.propose(i));
  }

  /** Approves, rejects or edits a pending action proposal. */
  reviewAction(input: s.ReviewActionInput): Promise<ActionProposal> {
    return this.call(s.reviewActionInput, input, 'reviewAction', (i) => this.gate.review(i));
  }

  /** Runs an approved proposal exactly once (or simulates it in a dry run). */
  executeAction(input: s.ExecuteActionInput): Promise<ExecutionResult> {
    return this.call(s.executeActionInput, input, 'executeAction', (i) => this.gate.execute(i));
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
    return this.actors.query('action', filters, i.limit, i.after);
  }

  /**
   * Resolves with the proposal once it is no longer pending (`TIMEOUT` otherwise). `options.signal` ends the
   * wait early: the promise then rejects with the signal's reason, as `fetch` does. `close()` ends every
   * pending wait with `INVALID_STATE`.
   */
  async waitForDecision(input: s.WaitForDecisionInput, options?: s.WaitForDecisionOptions): Promise<ActionProposal> {
    const { signal } = parseInput(s.waitForDecisionOptions, options ?? {}, 'waitForDecision');
    return this.gate.waitForDecision(await this.begin(s.waitForDecisionInput, input, 'waitForDecision'), this, signal);
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
    if (updated_by !== undefined) await this.actors.requireActors([updated_by], 'updated_by');
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
    return this.audit.queryAuditEvents(await this.begin(s.queryAuditEventsInput, input, 'queryAuditEvents'));
  }

  /**
   * Re-computes the whole chain: seq without gaps, each `prevHash`, each `hash`, and with a signing
   * key each signature. With `head` (kept outside the store) it also detects truncation and a rewritten tail.
   */
  async verifyAuditTrail(input: s.VerifyAuditTrailInput = {}): Promise<VerifyResult> {
    return this.audit.verifyAuditTrail(await this.begin(s.verifyAuditTrailInput, input, 'verifyAuditTrail'));
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
    this.k.shutdown(new OrchestrationError('INVALID_STATE', 'The connector was closed.'));
    // A sink that never settles must not keep close() from returning.
    await Promise.race([this.flushAuditSinks(), new Promise((r) => setTimeout(r, SINK_FLUSH_ON_CLOSE_MS).unref())]);
    await Promise.allSettled([this.remote.close(), this.k.executor.close?.()]);
    await this.k.store.close();
  }
}
