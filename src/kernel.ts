import { setMaxListeners } from 'node:events';
import { createSealer } from './audit/chain.js';
import { DEFAULT_POLICY } from './domain/policy.js';
import type { DomainEvent } from './domain/workflows.js';
import { isOrchestrationError, OrchestrationError } from './errors.js';
import type { Executor, ToolDescription } from './execution/executor.js';
import type {
  AnyEntity,
  AuditDraft,
  AuditSealer,
  Change,
  CommitResult,
  EntityKind,
  EntityMap,
  EntityRef,
  Store,
  Write,
} from './stores/store.js';
import type { AuditEvent, EntityType, Policy, PolicyRecord } from './types.js';
import { newId } from './util/ids.js';

/** How many times a read-modify-write is retried after losing a version race. */
const MAX_CAS_ATTEMPTS = 50;
/** Attempts of one commit that the store refused with a retryable error that wrote nothing (e.g. SQLite busy). */
const MAX_COMMIT_ATTEMPTS = 3;

/** A store write plus the records that describe it, before commit. */
export interface Mutation {
  writes: Write[];
  drafts: AuditDraft[];
}

/**
 * The internals every operation shares: clock, store access, the commit path (entity writes and
 * their audit records together), optimistic retries, policy loading and event publication.
 * Not part of the public API.
 */
export class Kernel {
  readonly seal: AuditSealer;
  private ready: Promise<void> | undefined;
  private cachedPolicy: Policy;
  private readonly initialPolicy: Policy;
  /** Aborted on close: running handlers see it through their signal. */
  readonly lifetime = new AbortController();
  /**
   * Called once on close, before `lifetime` aborts. Running attempts register here rather than on
   * `lifetime.signal`: a Set entry costs far less than an EventTarget listener per attempt.
   */
  private readonly onStop = new Set<StopListener>();

  constructor(
    readonly store: Store,
    readonly executor: Executor,
    readonly clock: () => Date,
    initialPolicy: Policy,
    readonly auditEnabled: boolean,
    signingKey: string | undefined,
    private readonly publish: (events: AuditEvent[]) => void,
    /** Whether anyone receives published records (listeners, sinks); when not, commits are quiet. */
    private readonly hasAudience: () => boolean = () => true,
  ) {
    this.seal = createSealer(signingKey);
    // Every running attempt listens on the lifetime signal; hundreds at once are normal, not a leak.
    setMaxListeners(0, this.lifetime.signal);
    this.initialPolicy = initialPolicy;
    this.cachedPolicy = initialPolicy;
  }

  /** True once {@link init} has finished: calls then need not wait for it. */
  initialised = false;

  /** Initialises the store and loads a saved policy, once. */
  init(): Promise<void> {
    if (this.ready === undefined) {
      this.ready = (async () => {
        await this.guardStore(() => this.store.init());
        const saved = await this.guardStore(() => this.store.get('policy', 'policy'));
        if (saved !== undefined) this.cachedPolicy = { ...DEFAULT_POLICY, ...saved.policy };
        this.initialised = true;
      })();
      this.ready.catch(() => {
        this.ready = undefined; // let the next call try again
      });
    }
    return this.ready;
  }

  now(): Date {
    return this.clock();
  }

  /** The lifetime as runAttempts takes it: a signal, and a cheap subscription to its abort. */
  readonly stopSource: StopSource = {
    signal: this.lifetime.signal,
    add: (listener) => {
      this.onStop.add(listener);
    },
    remove: (listener) => {
      this.onStop.delete(listener);
    },
  };

  /** Aborts every running attempt and the lifetime signal (on close). */
  shutdown(reason: unknown): void {
    for (const listener of [...this.onStop]) listener.stopped(reason);
    this.onStop.clear();
    this.lifetime.abort(reason);
  }

  /** The policy in force. Shared stores are re-read so that every instance sees updates. */
  async policy(): Promise<Policy> {
    if (this.store.capabilities.shared) {
      return this.policyOf(await this.guardStore(() => this.store.get('policy', 'policy')));
    }
    return this.cachedPolicy;
  }

  /**
   * Entities to look at (see {@link view}) together with the policy in force, in as few reads as the
   * store allows: a shared store answers them and the saved policy in one round trip when it offers
   * `getMany`.
   */
  viewWithPolicy(refs: ReadonlyArray<EntityRef>): Promise<{ items: Array<AnyEntity | undefined>; policy: Policy }> {
    const store = this.store;
    if (store.capabilities.shared && store.getMany !== undefined) {
      const getMany = store.getMany.bind(store);
      return this.guardStore(() => getMany([...refs, ['policy', 'policy']])).then((all) => {
        const saved = all.pop() as PolicyRecord | undefined;
        return { items: all, policy: this.policyOf(saved) };
      });
    }
    if (store.peek !== undefined && !store.capabilities.shared) {
      // A store of this process alone: its own objects, and the policy this connector keeps.
      try {
        const items: Array<AnyEntity | undefined> = [];
        for (const [kind, id] of refs) items.push(store.peek(kind, id));
        return Promise.resolve({ items, policy: this.cachedPolicy });
      } catch (err) {
        return Promise.reject(storeError(err));
      }
    }
    return this.viewEach(refs);
  }

  private async viewEach(
    refs: ReadonlyArray<EntityRef>,
  ): Promise<{ items: Array<AnyEntity | undefined>; policy: Policy }> {
    const items: Array<AnyEntity | undefined> = [];
    for (const [kind, id] of refs) items.push(await this.view(kind, id));
    return { items, policy: await this.policy() };
  }

  /** The policy a saved record (or none) gives, remembered as the one in force. */
  private policyOf(saved: PolicyRecord | undefined): Policy {
    this.cachedPolicy = saved === undefined ? this.initialPolicy : { ...DEFAULT_POLICY, ...saved.policy };
    return this.cachedPolicy;
  }

  /** NOT_FOUND for an entity, with `hint` as what to do. */
  notFound(kind: EntityKind, id: string, hint: string): OrchestrationError {
    return notFound(kind, id, hint);
  }

  /** Forgets a saved policy (after clearAllData). */
  resetPolicy(): void {
    this.cachedPolicy = this.initialPolicy;
  }

  rememberPolicy(p: Policy): void {
    this.cachedPolicy = p;
  }

  /** An audit draft for `event` about an entity. */
  draft(
    event: DomainEvent,
    entityType: EntityType,
    entityId: string,
    actorId: string | undefined,
    timestamp: string,
  ): AuditDraft {
    return {
      id: newId('evt'),
      eventType: event.type,
      entityType,
      entityId,
      ...(actorId !== undefined ? { actorId } : {}),
      timestamp,
      details: event.details,
    };
  }

  /** {@link draft} of each of `events`, in order. */
  drafts(
    events: readonly DomainEvent[],
    entityType: EntityType,
    entityId: string,
    actorId: string | undefined,
    timestamp: string,
  ): AuditDraft[] {
    const out: AuditDraft[] = [];
    for (const e of events) out.push(this.draft(e, entityType, entityId, actorId, timestamp));
    return out;
  }

  /** Reads an entity or throws NOT_FOUND with `hint` as what to do. The result is the caller's. */
  async load<K extends EntityKind>(kind: K, id: string, hint: string): Promise<EntityMap[K]> {
    const e = await this.guardStore(() => this.store.get(kind, id));
    if (e === undefined) throw notFound(kind, id, hint);
    return e;
  }

  /**
   * Reads an entity to look at, not to hand out or change: the store's own object when it offers
   * `peek` (no copy), else a fresh read. The rules in `domain/` build new objects and never change
   * their input, so what they return shares only parts of an entity that the store no longer holds
   * once the change is committed (the store keeps a copy of every written entity).
   */
  async view<K extends EntityKind>(kind: K, id: string): Promise<EntityMap[K] | undefined> {
    if (this.store.peek !== undefined) {
      try {
        return this.store.peek(kind, id);
      } catch (err) {
        throw storeError(err);
      }
    }
    return this.guardStore(() => this.store.get(kind, id));
  }

  /** {@link view}, or NOT_FOUND with `hint` as what to do. */
  async viewOrThrow<K extends EntityKind>(kind: K, id: string, hint: string): Promise<EntityMap[K]> {
    const e = await this.view(kind, id);
    if (e === undefined) throw notFound(kind, id, hint);
    return e;
  }

  /**
   * Commits writes and their audit records atomically and publishes the records.
   * Returns the conflict when the store refused the change (nothing was written).
   */
  async commit(
    m: Mutation,
  ): Promise<{ ok: true; events: AuditEvent[] } | { ok: false; conflict: import('./stores/store.js').CommitConflict }> {
    const drafts = this.auditEnabled ? m.drafts : [];
    const quiet = !this.hasAudience();
    const change: Change = { writes: m.writes, audit: drafts, seal: this.seal, quiet };
    let r: CommitResult;
    try {
      r = this.store.commitNow !== undefined ? this.store.commitNow(change) : await this.store.commit(change);
    } catch (thrown) {
      r = await this.commitAgain(change, thrown);
    }
    if (!r.ok) return r;
    if (quiet) return r;
    const events = this.auditEnabled ? r.events : m.drafts.map((d) => ({ ...d, seq: 0, prevHash: '', hash: '' }));
    this.publish(events);
    return { ok: true, events };
  }

  /**
   * After `store.commit` threw `thrown`: tries the commit again when it failed with a retryable
   * STORE_ERROR that wrote nothing (a SQLite writer starved past its busy timeout by other processes, a
   * PostgreSQL connection lost before COMMIT), up to {@link MAX_COMMIT_ATTEMPTS} attempts in all.
   * Never when the outcome is unknown: the change may be stored already.
   */
  private async commitAgain(change: Change, thrown: unknown): Promise<CommitResult> {
    for (let attempt = 1; ; attempt++) {
      const err = storeError(thrown);
      const retry =
        attempt < MAX_COMMIT_ATTEMPTS &&
        err.code === 'STORE_ERROR' &&
        err.details.retryable === true &&
        err.details.outcomeUnknown !== true;
      if (!retry) throw err;
      await new Promise((res) => setTimeout(res, attempt * (10 + Math.random() * 40)));
      try {
        return await this.store.commit(change);
      } catch (again) {
        thrown = again;
      }
    }
  }

  /**
   * Read-modify-write of one entity with optimistic concurrency: `apply` gets the current entity (to
   * look at: see {@link view}) and returns the change (or throws a domain error); a lost version race
   * re-reads and re-applies. An outcome with `error` commits its change, then throws the error (an
   * expiry found on the way is recorded before the call is refused).
   */
  async mutate<K extends EntityKind, R>(
    kind: K,
    id: string,
    hint: string,
    apply: (current: EntityMap[K]) => Promise<MutateOutcome<R>> | MutateOutcome<R>,
    /** The entity as already read for this call (undefined: it did not exist), used for the first attempt. */
    first?: { current: EntityMap[K] | undefined },
  ): Promise<R> {
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
      let current: EntityMap[K];
      if (i === 0 && first !== undefined) {
        if (first.current === undefined) throw notFound(kind, id, hint);
        current = first.current;
      } else current = await this.viewOrThrow(kind, id, hint);
      const applied = apply(current);
      const outcome = applied instanceof Promise ? await applied : applied;
      const r = await this.commit(outcome.mutation);
      if (r.ok) {
        if ('error' in outcome) throw outcome.error;
        return outcome.result;
      }
      if (r.conflict.reason !== 'version' && r.conflict.reason !== 'missing') {
        throw new OrchestrationError(
          'CONFLICT',
          `The change to ${kind} '${id}' conflicts with existing data (${r.conflict.reason}).`,
          {
            conflict: r.conflict,
          },
        );
      }
      await new Promise((res) => setTimeout(res, Math.min(50, i * 2)));
    }
    throw new OrchestrationError(
      'STORE_ERROR',
      `Gave up changing ${kind} '${id}' after ${MAX_CAS_ATTEMPTS} concurrent updates won the race. Retry the call.`,
      { kind, id, retryable: true },
    );
  }

  /**
   * What the executor knows of a tool (undefined: unknown, or the executor cannot tell). Synchronous
   * when the executor answers synchronously (local tools), so the common case costs no promise.
   */
  describe(tool: string): Described | Promise<Described> {
    if (typeof this.executor.describe !== 'function') return UNDESCRIBED;
    const d = this.executor.describe(tool);
    if (d instanceof Promise) return d.then(described);
    return described(d);
  }

  /**
   * {@link describe}'s description, or undefined when the executor fails to describe the tool;
   * synchronous when {@link describe} is.
   */
  descriptionOf(tool: string): ToolDescription | undefined | Promise<ToolDescription | undefined> {
    let d: Described | Promise<Described>;
    try {
      d = this.describe(tool);
    } catch {
      return undefined;
    }
    return d instanceof Promise
      ? d.then(
          (x) => x.description,
          () => undefined,
        )
      : d.description;
  }

  /** Runs a store call; anything but an OrchestrationError becomes a STORE_ERROR. */
  async guardStore<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw storeError(err);
    }
  }
}

/** What {@link Kernel.describe} answers. */
export interface Described {
  known: boolean;
  description: ToolDescription | undefined;
}

const UNDESCRIBED: Described = Object.freeze({ known: true, description: undefined });

function described(d: ToolDescription | undefined): Described {
  return { known: d !== undefined, description: d };
}

/** The outcome of a {@link Kernel.mutate} step: a change and its result, or a change and then an error. */
export type MutateOutcome<R> = { mutation: Mutation; result: R } | { mutation: Mutation; error: Error };

/** How runAttempts learns that the connector is closing. */
export interface StopSource {
  readonly signal: AbortSignal;
  /** Calls `listener.stopped` once when the signal aborts (unless removed before). */
  add(listener: StopListener): void;
  remove(listener: StopListener): void;
}

/** What a {@link StopSource} calls when it stops. */
export interface StopListener {
  stopped(reason: unknown): void;
}

/** A store failure as the caller sees it: OrchestrationErrors pass, anything else is STORE_ERROR. */
function storeError(err: unknown): OrchestrationError {
  if (isOrchestrationError(err)) return err;
  return new OrchestrationError(
    'STORE_ERROR',
    `The store failed: ${err instanceof Error ? err.message : String(err)}. Check the database and retry.`,
    { retryable: false },
    { cause: err },
  );
}

function notFound(kind: EntityKind, id: string, hint: string): OrchestrationError {
  return new OrchestrationError('NOT_FOUND', `${label(kind)} '${id}' not found. ${hint}`, { kind, id });
}

function label(kind: EntityKind): string {
  return { actor: 'Actor', workflow: 'Workflow', proposal: 'Proposal', action: 'Action proposal', policy: 'Policy' }[
    kind
  ];
}
