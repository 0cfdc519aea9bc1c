import { isOwnSealer } from '../audit/chain.js';
import type { AuditEvent, AuditHead, StatusCounts } from '../types.js';
import { copyData } from '../util/copy.js';
import { AuditLog, IntColumn } from './audit-log.js';
import { indexEntries, statusOf, uniqueKeys } from './indexing.js';
import { SortedIdIndex } from './sorted-index.js';
import {
  type AnyEntity,
  type AuditQuery,
  type Change,
  type CommitResult,
  createdAtOf,
  type EntityKind,
  type EntityMap,
  type EntityQuery,
  type Store,
  type StoreCapabilities,
} from './store.js';

const KINDS: EntityKind[] = ['actor', 'workflow', 'proposal', 'action', 'policy'];

/**
 * The key of an entity in the sorted indexes: `createdAt`, NUL, id. Keys sort as (createdAt, id), the
 * order of every query (createdAt is a fixed-width ISO string without NUL).
 */
function orderKey(e: AnyEntity): string {
  return `${createdAtOf(e)}\0${e.id}`;
}

/** The id in an {@link orderKey}. */
function idOfKey(key: string): string {
  return key.slice(key.indexOf('\0') + 1);
}

interface KindTable {
  rows: Map<string, AnyEntity>;
  /** Keys ({@link orderKey}) of every entity. */
  all: SortedIdIndex;
  /** field -> value -> keys ({@link orderKey}) */
  indexes: Map<string, Map<string, SortedIdIndex>>;
  byStatus: Map<string, number>;
}

/** Audit index lists shorter than this grow by exactly one slot (most lists, one per entity, stay short). */
const TIGHT_LIST = 16;

const clone: <T>(v: T) => T = copyData;

/**
 * The default store: everything in process memory, lost on exit. Queries are answered from
 * per-value sorted indexes, so a page costs the same among a thousand or a million entities.
 * Entities are copied in and out, so callers cannot change stored state by mutating results.
 */
export class MemoryStore implements Store {
  readonly capabilities: StoreCapabilities = { durable: false, shared: false, notifications: false };

  private tables = new Map<EntityKind, KindTable>();
  private unique = new Map<string, string>();
  private audit = new AuditLog();
  /**
   * Record id -> seq, for `after`. While every record's id sorts after the one before (ids are
   * time-ordered, so this is the rule) the trail itself is searched and this stays undefined; it is
   * built on the first record that breaks the order.
   */
  private auditSeqById: Map<string, number> | undefined;
  /** field -> value -> seqs in order */
  private auditIndexes = newAuditIndexes();
  private auditMonotonic = true;

  constructor() {
    this.reset();
  }

  private reset(): void {
    this.tables = new Map();
    for (const k of KINDS) {
      this.tables.set(k, { rows: new Map(), all: new SortedIdIndex(), indexes: new Map(), byStatus: new Map() });
    }
    this.unique = new Map();
    this.audit = new AuditLog();
    this.auditSeqById = undefined;
    this.auditIndexes = newAuditIndexes();
    this.auditMonotonic = true;
  }

  private table(kind: EntityKind): KindTable {
    return this.tables.get(kind) as KindTable;
  }

  async init(): Promise<void> {}

  async get<K extends EntityKind>(kind: K, id: string): Promise<EntityMap[K] | undefined> {
    const row = this.table(kind).rows.get(id);
    return row === undefined ? undefined : (clone(row) as EntityMap[K]);
  }

  peek<K extends EntityKind>(kind: K, id: string): EntityMap[K] | undefined {
    return this.table(kind).rows.get(id) as EntityMap[K] | undefined;
  }

  async getByUnique<K extends EntityKind>(kind: K, key: string, value: string): Promise<EntityMap[K] | undefined> {
    const id = this.unique.get(`${kind}\0${key}\0${value}`);
    return id === undefined ? undefined : this.get(kind, id);
  }

  async query<K extends EntityKind>(kind: K, q: EntityQuery): Promise<EntityMap[K][]> {
    const t = this.table(kind);
    let driver: SortedIdIndex = t.all;
    const others: SortedIdIndex[] = [];
    for (const [field, value] of q.filters) {
      const idx = t.indexes.get(field)?.get(value);
      if (idx === undefined) return [];
      others.push(idx);
    }
    if (others.length > 0) {
      others.sort((a, b) => a.size - b.size);
      driver = others.shift() as SortedIdIndex;
    }
    // Keyset paging on (createdAt, id): the cursor is the key of the entity `after` names.
    let afterKey: string | undefined;
    if (q.after !== undefined) {
      const cursor = t.rows.get(q.after);
      if (cursor === undefined) return [];
      afterKey = orderKey(cursor);
    }
    const accept = others.length === 0 ? undefined : (key: string) => others.every((o) => o.has(key));
    return driver.page(afterKey, q.limit, accept).map((key) => clone(t.rows.get(idOfKey(key))) as EntityMap[K]);
  }

  async count(kind: EntityKind): Promise<StatusCounts> {
    const t = this.table(kind);
    const byStatus: Record<string, number> = {};
    for (const [s, n] of t.byStatus) if (n > 0) byStatus[s] = n;
    return { total: t.rows.size, byStatus };
  }

  async commit(change: Change): Promise<CommitResult> {
    return this.commitNow(change);
  }

  commitNow(change: Change): CommitResult {
    // Check every precondition before touching anything: the commit is all or nothing.
    let claimed: Map<string, string> | undefined;
    for (const w of change.writes) {
      const t = this.table(w.kind);
      const current = t.rows.get(w.entity.id);
      if (w.expectedVersion === undefined) {
        if (current !== undefined) return { ok: false, conflict: { kind: w.kind, id: w.entity.id, reason: 'exists' } };
      } else {
        if (current === undefined) return { ok: false, conflict: { kind: w.kind, id: w.entity.id, reason: 'missing' } };
        if (current.version !== w.expectedVersion) {
          return { ok: false, conflict: { kind: w.kind, id: w.entity.id, reason: 'version' } };
        }
      }
      for (const [key, value] of uniqueKeys(w.kind, w.entity)) {
        const k = `${w.kind}\0${key}\0${value}`;
        const owner = this.unique.get(k) ?? claimed?.get(k);
        if (owner !== undefined && owner !== w.entity.id) {
          return { ok: false, conflict: { kind: w.kind, id: w.entity.id, reason: 'unique', key } };
        }
        claimed ??= new Map();
        claimed.set(k, w.entity.id);
      }
    }
    for (const w of change.writes) this.put(w.kind, clone(w.entity));
    return { ok: true, events: this.appendAudit(change) };
  }

  private put(kind: EntityKind, entity: AnyEntity): void {
    const t = this.table(kind);
    const old = t.rows.get(entity.id);
    if (old === undefined) {
      const key = orderKey(entity);
      t.rows.set(entity.id, entity);
      t.all.add(key);
      for (const [f, v] of indexEntries(kind, entity)) this.indexOf(t, f, v).add(key);
    } else {
      const oldKey = orderKey(old);
      if (createdAtOf(old) !== createdAtOf(entity)) {
        // createdAt changed (only an odd caller does that): every entry moves to the new key.
        t.all.delete(oldKey);
        for (const [f, v] of indexEntries(kind, old)) t.indexes.get(f)?.get(v)?.delete(oldKey);
        const key = orderKey(entity);
        t.all.add(key);
        for (const [f, v] of indexEntries(kind, entity)) this.indexOf(t, f, v).add(key);
      } else {
        // Only the entries that change are touched, and they keep the one key string the entity has
        // had since it was inserted.
        const entries = indexEntries(kind, entity);
        let key: string | undefined;
        const before = indexEntries(kind, old);
        for (const [f, v] of before) {
          if (!hasEntry(entries, f, v)) key = t.indexes.get(f)?.get(v)?.remove(oldKey) ?? key;
        }
        for (const [f, v] of entries) {
          if (hasEntry(before, f, v)) continue;
          key ??= t.all.find(oldKey) ?? oldKey;
          this.indexOf(t, f, v).add(key);
        }
      }
      for (const [k, value] of uniqueKeys(kind, old)) this.unique.delete(`${kind}\0${k}\0${value}`);
      const s = statusOf(old);
      if (s !== undefined) t.byStatus.set(s, (t.byStatus.get(s) ?? 1) - 1);
      t.rows.set(entity.id, entity);
    }
    for (const [k, value] of uniqueKeys(kind, entity)) this.unique.set(`${kind}\0${k}\0${value}`, entity.id);
    const s = statusOf(entity);
    if (s !== undefined) t.byStatus.set(s, (t.byStatus.get(s) ?? 0) + 1);
  }

  /** The sorted keys of entities of `t` whose `field` is `value`, made on first use. */
  private indexOf(t: KindTable, field: string, value: string): SortedIdIndex {
    let byValue = t.indexes.get(field);
    if (byValue === undefined) {
      byValue = new Map();
      t.indexes.set(field, byValue);
    }
    let idx = byValue.get(value);
    if (idx === undefined) {
      idx = new SortedIdIndex();
      byValue.set(value, idx);
    }
    return idx;
  }

  private appendAudit(change: Change): AuditEvent[] {
    const out: AuditEvent[] = [];
    const log = this.audit;
    // The connector's own sealer writes records that fit the columns; any other is checked per record.
    const sealedHere = isOwnSealer(change.seal);
    for (const draft of change.audit) {
      const n = log.length;
      const event = change.seal(draft, log.head());
      const seq = event.seq;
      if (n > 0 && event.timestamp < log.timestampAt(n - 1)) this.auditMonotonic = false;
      if (this.auditSeqById === undefined && n > 0 && !(event.id > log.idAt(n - 1))) {
        this.auditSeqById = new Map();
        for (let i = 0; i < n; i++) this.auditSeqById.set(log.idAt(i), i + 1);
      }
      // The log keeps its own copy: the caller's draft (its details) stays the caller's to change.
      log.push(event, sealedHere);
      this.auditSeqById?.set(event.id, seq);
      const indexes = this.auditIndexes;
      indexAudit(indexes.eventType, event.eventType, seq);
      indexAudit(indexes.entityType, event.entityType, seq);
      indexAudit(indexes.entityId, event.entityId, seq);
      if (event.actorId !== undefined) indexAudit(indexes.actorId, event.actorId, seq);
      if (change.quiet !== true) out.push(log.at(n));
    }
    return out;
  }

  /** The seq of the record with id `id`, if any. */
  private seqOfId(id: string): number | undefined {
    if (this.auditSeqById !== undefined) return this.auditSeqById.get(id);
    const log = this.audit;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log.idAt(mid) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < log.length && log.idAt(lo) === id ? lo + 1 : undefined;
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    const lists: ArrayLike<number>[] = [];
    for (const field of ['eventType', 'entityType', 'entityId', 'actorId'] as const) {
      const value = q[field];
      if (value === undefined) continue;
      const list = this.auditIndexes[field].get(value);
      if (list === undefined) return [];
      lists.push(list instanceof IntColumn ? list.view() : list);
    }
    let minSeq = 1;
    if (q.after !== undefined) {
      const s = this.seqOfId(q.after);
      if (s === undefined) return [];
      minSeq = s + 1;
    }
    if (q.from !== undefined && this.auditMonotonic) {
      minSeq = Math.max(minSeq, this.firstSeqAtOrAfter(q.from));
    }
    const log = this.audit;
    // Checked by position, member by member: only the records that match are built.
    const matches = (i: number): boolean => {
      if (q.eventType !== undefined && log.eventTypeAt(i) !== q.eventType) return false;
      if (q.entityType !== undefined && log.entityTypeAt(i) !== q.entityType) return false;
      if (q.entityId !== undefined && log.entityIdAt(i) !== q.entityId) return false;
      if (q.actorId !== undefined && log.actorIdAt(i) !== q.actorId) return false;
      if (q.from === undefined && q.to === undefined) return true;
      const ts = log.timestampAt(i);
      return (q.from === undefined || ts >= q.from) && (q.to === undefined || ts <= q.to);
    };
    const out: AuditEvent[] = [];
    const pastEnd = (i: number) => this.auditMonotonic && q.to !== undefined && log.timestampAt(i) > q.to;
    if (lists.length === 0) {
      for (let i = minSeq - 1; i < log.length && out.length < q.limit; i++) {
        if (pastEnd(i)) break;
        if (matches(i)) out.push(log.at(i));
      }
      return out;
    }
    lists.sort((a, b) => a.length - b.length);
    const driver = lists[0] as ArrayLike<number>;
    for (let j = lowerBoundNum(driver, minSeq); j < driver.length && out.length < q.limit; j++) {
      const i = (driver[j] as number) - 1;
      if (i >= log.length) break; // a record removed by a tamper test
      if (pastEnd(i)) break;
      if (matches(i)) out.push(log.at(i));
    }
    return out;
  }

  private firstSeqAtOrAfter(ts: string): number {
    const log = this.audit;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log.timestampAt(mid) < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  async readAudit(fromSeq: number, limit: number): Promise<AuditEvent[]> {
    const log = this.audit;
    const out: AuditEvent[] = [];
    for (let i = Math.max(0, fromSeq - 1); i < log.length && out.length < limit; i++) out.push(log.at(i));
    return out;
  }

  peekAudit(fromSeq: number, limit: number): AuditEvent[] {
    const log = this.audit;
    const out: AuditEvent[] = [];
    for (let i = Math.max(0, fromSeq - 1); i < log.length && out.length < limit; i++) out.push(log.at(i, true));
    return out;
  }

  async auditHead(): Promise<AuditHead | null> {
    return this.audit.head();
  }

  async countAudit(eventType?: string): Promise<number> {
    if (eventType === undefined) return this.audit.length;
    // A record's position in its event type's list is its count: the list's length is the count.
    return this.auditIndexes.eventType.get(eventType)?.length ?? 0;
  }

  async clear(change: Change): Promise<AuditEvent[]> {
    this.reset();
    for (const w of change.writes) this.put(w.kind, clone(w.entity));
    return this.appendAudit(change);
  }

  async close(): Promise<void> {}

  /**
   * Direct access to the stored audit records, for tamper-detection tests only. Changing them
   * breaks the chain on purpose.
   * @internal
   */
  unsafeAuditRecords(): AuditEvent[] {
    return this.audit.unsafeRecords();
  }
}

/** value -> seqs of the records with that value, in order. */
type AuditIndex = Map<string, number[] | IntColumn>;

function newAuditIndexes(): Record<'eventType' | 'entityType' | 'entityId' | 'actorId', AuditIndex> {
  return { eventType: new Map(), entityType: new Map(), entityId: new Map(), actorId: new Map() };
}

/** Appends `seq` to the list of `value`. */
function indexAudit(byValue: AuditIndex, value: string, seq: number): void {
  const list = byValue.get(value);
  if (list === undefined) byValue.set(value, [seq]);
  else if (list instanceof IntColumn) list.push(seq);
  // push() would grow a short list to 17 slots; most lists (one per entity) stay short. Longer
  // ones move to a Uint32Array column: 4 bytes a seq.
  else if (list.length < TIGHT_LIST) byValue.set(value, list.concat(seq));
  else {
    const column = new IntColumn();
    for (const v of list) column.push(v);
    column.push(seq);
    byValue.set(value, column);
  }
}

function hasEntry(entries: Array<[string, string]>, field: string, value: string): boolean {
  for (const [f, v] of entries) if (f === field && v === value) return true;
  return false;
}

function lowerBoundNum(list: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
