import type {
  ActionProposal,
  Actor,
  AuditEvent,
  AuditHead,
  PolicyRecord,
  Proposal,
  StatusCounts,
  Workflow,
} from '../types.js';

/** The kinds of entity a store keeps. */
export interface EntityMap {
  actor: Actor;
  workflow: Workflow;
  proposal: Proposal;
  action: ActionProposal;
  policy: PolicyRecord;
}
export type EntityKind = keyof EntityMap;
export type AnyEntity = EntityMap[EntityKind];

/** Names one entity: its kind and id. */
export type EntityRef = readonly [kind: EntityKind, id: string];

/**
 * One entity write inside a {@link Change}. Without `expectedVersion` it is an insert (the id must be
 * new); with it, an update that applies only if the stored version still equals `expectedVersion`.
 */
export type Write = {
  [K in EntityKind]: { kind: K; entity: EntityMap[K]; expectedVersion?: number };
}[EntityKind];

/** An audit record before the store places it in the chain. */
export interface AuditDraft {
  id: string;
  eventType: AuditEvent['eventType'];
  entityType: AuditEvent['entityType'];
  entityId: string;
  actorId?: string;
  timestamp: string;
  details: Record<string, unknown>;
}

/** Places a draft after `prev` in the chain: assigns `seq`, `prevHash`, `hash`, `signature`. */
export type AuditSealer = (draft: AuditDraft, prev: AuditHead | null) => AuditEvent;

/** Entity writes and their audit records, committed all together or not at all. */
export interface Change {
  writes: Write[];
  audit: AuditDraft[];
  seal: AuditSealer;
  /**
   * The caller does not need the sealed records back (nobody listens for them): a store may then
   * answer `events: []` and spare copying them. A store may also ignore it.
   */
  quiet?: boolean;
}

/** Why a {@link Change} was not applied. Nothing of it was written. */
export interface CommitConflict {
  kind: EntityKind;
  id: string;
  /** `exists`: insert of a taken id; `version`: stale update; `missing`: update of an absent id; `unique`: a unique key is taken. */
  reason: 'exists' | 'version' | 'missing' | 'unique';
  /** With `unique`: which key (e.g. `idempotencyKey`). */
  key?: string;
}

export type CommitResult = { ok: true; events: AuditEvent[] } | { ok: false; conflict: CommitConflict };

/** Filters of an entity query: every `[field, value]` pair must match (see `indexEntries`). */
export interface EntityQuery {
  filters: Array<[field: string, value: string]>;
  limit: number;
  /**
   * Id of the last item of the previous page: the page holds the entities after it in creation
   * order, whether or not it matches the filters. An id the store does not hold gives an empty page.
   */
  after?: string;
}

/**
 * The creation time that orders an entity in queries: its `createdAt` (a fixed-width ISO string,
 * so text order is time order), or `''` when it has none.
 */
export function createdAtOf(entity: AnyEntity): string {
  const at = (entity as { createdAt?: unknown }).createdAt;
  return typeof at === 'string' ? at : '';
}

/** Filters of an audit query. Dates are normalised ISO date-times, inclusive. */
export interface AuditQuery {
  eventType?: string;
  entityType?: string;
  entityId?: string;
  actorId?: string;
  from?: string;
  to?: string;
  limit: number;
  /** Id of the last event of the previous page. */
  after?: string;
}

/** What a store can do beyond the contract. Declared, never detected. */
export interface StoreCapabilities {
  /** Survives a restart. */
  durable: boolean;
  /** Several processes may use it at once (waits poll it, policy is re-read). */
  shared: boolean;
  /** Offers `watch` for changes made by other processes. */
  notifications: boolean;
}

/**
 * The persistence contract. Small on purpose: reads, one atomic conditional commit with its audit
 * records, indexed keyset-paged queries. Every implementation passes the conformance suite in
 * `orchestration-connector/testing`.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;
  /** Creates and migrates tables. Idempotent; safe when several processes start together. */
  init(): Promise<void>;
  get<K extends EntityKind>(kind: K, id: string): Promise<EntityMap[K] | undefined>;
  /**
   * Optional: the stored entity itself, synchronously and without a copy, for the connector's own
   * reads that only look at it. The caller never changes what it returns. Stores that hold entities
   * in memory offer it to spare a copy per read; stores whose `get` builds a fresh object leave it out.
   */
  peek?<K extends EntityKind>(kind: K, id: string): EntityMap[K] | undefined;
  /**
   * Optional: several entities in one read (one round trip on a database server), in the order of
   * `refs`, `undefined` for those that do not exist.
   */
  getMany?(refs: ReadonlyArray<EntityRef>): Promise<Array<AnyEntity | undefined>>;
  /** The entity holding a unique key (see `uniqueKeys`), e.g. an action's `idempotencyKey`. */
  getByUnique<K extends EntityKind>(kind: K, key: string, value: string): Promise<EntityMap[K] | undefined>;
  /**
   * Entities matching every filter, ordered by creation time: by `createdAt`, then by id among equal
   * `createdAt` (so explicit ids keep their creation order). At most `limit`, keyset-paged: with
   * `after`, only entities whose `(createdAt, id)` is greater than that of the entity `after` names;
   * `[]` when `after` names no entity of `kind`.
   */
  query<K extends EntityKind>(kind: K, query: EntityQuery): Promise<EntityMap[K][]>;
  count(kind: EntityKind): Promise<StatusCounts>;
  /** Applies every write and appends the audit records atomically, or nothing. */
  commit(change: Change): Promise<CommitResult>;
  /**
   * Optional: {@link commit} done synchronously, for stores that need no I/O to commit (memory). The
   * connector then spares a promise per commit. It must do exactly what `commit` does, and throw what
   * `commit` would reject with.
   */
  commitNow?(change: Change): CommitResult;
  /** Audit events matching the filters, ordered by seq. */
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  /** Audit events with `seq >= fromSeq`, ordered by seq, at most `limit`. */
  readAudit(fromSeq: number, limit: number): Promise<AuditEvent[]>;
  /**
   * Optional: `readAudit` for a caller that only looks at the records (verification), which may share
   * parts (their `details`) with the store instead of copying them. The caller never changes them.
   */
  peekAudit?(fromSeq: number, limit: number): AuditEvent[];
  auditHead(): Promise<AuditHead | null>;
  /** Number of audit events, optionally of one type. */
  countAudit(eventType?: string): Promise<number>;
  /** Deletes everything, then commits `change` as the first records of a new chain. */
  clear(change: Change): Promise<AuditEvent[]>;
  /** Calls `listener` when another process commits a change to an entity. Needs `capabilities.notifications`. */
  watch?(listener: (kind: EntityKind, id: string) => void): () => void;
  close(): Promise<void>;
}
