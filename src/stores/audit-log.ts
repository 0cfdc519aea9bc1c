import { GENESIS_HASH as GENESIS } from '../audit/chain.js';
import type { AuditEvent, AuditHead } from '../types.js';
import { copyData } from '../util/copy.js';

/** The members a record may have; one with any other member is kept as an object (see {@link AuditLog}). */
const RECORD_KEYS = new Set([
  'id',
  'seq',
  'eventType',
  'entityType',
  'entityId',
  'actorId',
  'timestamp',
  'details',
  'prevHash',
  'hash',
  'signature',
]);

/** Small integers in a growable Uint32Array: 4 bytes a value instead of an 8-byte array slot. */
export class IntColumn {
  private data = new Uint32Array(64);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  get(i: number): number {
    return this.data[i] as number;
  }

  /** The values as one array-like (a view, not a copy). */
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/** True for a lowercase hex SHA-256, the only form of hash the columns hold. */
function isHexHash(h: string): boolean {
  if (h.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = h.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * SHA-256 hashes as their 32 bytes in one growable buffer instead of a 64-character string each
 * (80 bytes and a pointer): read back as hex. The last one read is remembered, since a record's
 * `prevHash` is the hash read just before it when records are read in order.
 */
class HashColumn {
  private data = Buffer.alloc(32 * 64);
  length = 0;
  private cachedAt = -1;
  private cached = '';

  push(hex: string): void {
    if ((this.length + 1) * 32 > this.data.length) {
      const next = Buffer.alloc(this.data.length * 2);
      this.data.copy(next);
      this.data = next;
    }
    this.data.write(hex, this.length * 32, 32, 'hex');
    this.cachedAt = this.length;
    this.cached = hex;
    this.length++;
  }

  get(i: number): string {
    if (i === this.cachedAt) return this.cached;
    const hex = this.data.toString('hex', i * 32, i * 32 + 32);
    this.cachedAt = i;
    this.cached = hex;
    return hex;
  }
}

/** Strings from a small set (event and entity types) as codes into a dictionary. */
class CodeColumn {
  private readonly codes = new IntColumn();
  private readonly byValue = new Map<string, number>();
  private readonly values: string[] = [];

  push(v: string): void {
    let code = this.byValue.get(v);
    if (code === undefined) {
      code = this.values.length;
      this.values.push(v);
      this.byValue.set(v, code);
    }
    this.codes.push(code);
  }

  get(i: number): string {
    return this.values[this.codes.get(i)] as string;
  }
}

/**
 * The memory store's audit trail. Records are kept column by column (a slot per member, `seq` and
 * `prevHash` implied by the position) instead of one object each, which halves what a record costs
 * on the heap and what the garbage collector walks. Records read out are built fresh (copies).
 * A record the columns cannot hold exactly (a sealer that set an odd `seq`, `prevHash` or an extra
 * member) and {@link AuditLog.unsafeRecords} switch the log to plain objects for good.
 */
export class AuditLog {
  private ids: string[] = [];
  private eventTypes = new CodeColumn();
  private entityTypes = new CodeColumn();
  private entityIds: string[] = [];
  private actorIds: Array<string | undefined> = [];
  private timestamps: string[] = [];
  private details: Array<Record<string, unknown>> = [];
  private hashes = new HashColumn();
  private signatures: Array<string | undefined> | undefined;
  /** Set once the log holds plain objects (see the class comment). */
  private records: AuditEvent[] | undefined;

  get length(): number {
    return this.records !== undefined ? this.records.length : this.ids.length;
  }

  /** The chain head: what the next record is sealed after. */
  head(): AuditHead | null {
    const n = this.length;
    if (n === 0) return null;
    if (this.records !== undefined) {
      const last = this.records[n - 1] as AuditEvent;
      return last.signature === undefined
        ? { seq: last.seq, hash: last.hash }
        : { seq: last.seq, hash: last.hash, signature: last.signature };
    }
    const signature = this.signatures?.[n - 1];
    const hash = this.hashes.get(n - 1);
    return signature === undefined ? { seq: n, hash } : { seq: n, hash, signature };
  }

  /**
   * Appends a sealed record (the log keeps a copy of its details). `sealedHere` says that `e` comes
   * straight from a sealer of `createSealer` on this log's head, so it fits the columns as it is.
   */
  push(e: AuditEvent, sealedHere = false): void {
    if (this.records === undefined && !sealedHere && !this.fits(e)) this.materialise();
    if (this.records !== undefined) {
      this.records.push(copyData(e));
      return;
    }
    const i = this.ids.length;
    this.ids.push(e.id);
    this.eventTypes.push(e.eventType);
    this.entityTypes.push(e.entityType);
    this.entityIds.push(e.entityId);
    this.actorIds.push(e.actorId);
    this.timestamps.push(e.timestamp);
    this.details.push(copyData(e.details));
    this.hashes.push(e.hash);
    if (e.signature !== undefined) {
      this.signatures ??= new Array<string | undefined>(i).fill(undefined);
      this.signatures.push(e.signature);
    } else this.signatures?.push(undefined);
  }

  /** True when the columns can hold `e` exactly. */
  private fits(e: AuditEvent): boolean {
    const n = this.ids.length;
    if (e.seq !== n + 1 || e.prevHash !== (n === 0 ? GENESIS : this.hashes.get(n - 1))) return false;
    if (Object.getPrototypeOf(e) !== Object.prototype) return false;
    for (const k in e) if (!RECORD_KEYS.has(k)) return false;
    return (
      typeof e.id === 'string' &&
      typeof e.eventType === 'string' &&
      typeof e.entityType === 'string' &&
      typeof e.entityId === 'string' &&
      typeof e.timestamp === 'string' &&
      typeof e.hash === 'string' &&
      isHexHash(e.hash) &&
      typeof e.details === 'object' &&
      e.details !== null &&
      (e.actorId === undefined ? !Object.hasOwn(e, 'actorId') : typeof e.actorId === 'string') &&
      (e.signature === undefined ? !Object.hasOwn(e, 'signature') : typeof e.signature === 'string')
    );
  }

  /**
   * The record at position `i` (seq `i + 1`), built fresh: the caller may change it. With `shared`,
   * its `details` are the log's own, for a caller that only looks (verification).
   */
  at(i: number, shared = false): AuditEvent {
    if (this.records !== undefined) {
      const r = this.records[i] as AuditEvent;
      return shared ? r : copyData(r);
    }
    const actorId = this.actorIds[i];
    const signature = this.signatures?.[i];
    const id = this.ids[i] as string;
    const eventType = this.eventTypes.get(i) as AuditEvent['eventType'];
    const entityType = this.entityTypes.get(i) as AuditEvent['entityType'];
    const entityId = this.entityIds[i] as string;
    const timestamp = this.timestamps[i] as string;
    const details = shared
      ? (this.details[i] as Record<string, unknown>)
      : copyData(this.details[i] as Record<string, unknown>);
    const prevHash = i === 0 ? GENESIS : this.hashes.get(i - 1);
    const hash = this.hashes.get(i);
    // Members in the order a sealed record has them.
    const e: AuditEvent =
      actorId === undefined
        ? { id, seq: i + 1, eventType, entityType, entityId, timestamp, details, prevHash, hash }
        : { id, seq: i + 1, eventType, entityType, entityId, actorId, timestamp, details, prevHash, hash };
    if (signature !== undefined) e.signature = signature;
    return e;
  }

  idAt(i: number): string {
    return this.records !== undefined ? (this.records[i] as AuditEvent).id : (this.ids[i] as string);
  }

  timestampAt(i: number): string {
    return this.records !== undefined ? (this.records[i] as AuditEvent).timestamp : (this.timestamps[i] as string);
  }

  eventTypeAt(i: number): string {
    return this.records !== undefined ? (this.records[i] as AuditEvent).eventType : this.eventTypes.get(i);
  }

  entityTypeAt(i: number): string {
    return this.records !== undefined ? (this.records[i] as AuditEvent).entityType : this.entityTypes.get(i);
  }

  entityIdAt(i: number): string {
    return this.records !== undefined ? (this.records[i] as AuditEvent).entityId : (this.entityIds[i] as string);
  }

  actorIdAt(i: number): string | undefined {
    return this.records !== undefined ? (this.records[i] as AuditEvent).actorId : this.actorIds[i];
  }

  /**
   * The records as a mutable array of objects, which the log uses from then on: for tamper tests,
   * which change stored records on purpose.
   */
  unsafeRecords(): AuditEvent[] {
    this.materialise();
    return this.records as AuditEvent[];
  }

  private materialise(): void {
    if (this.records !== undefined) return;
    const records: AuditEvent[] = [];
    for (let i = 0; i < this.ids.length; i++) records.push(this.at(i));
    this.records = records;
    this.ids = [];
    this.eventTypes = new CodeColumn();
    this.entityTypes = new CodeColumn();
    this.entityIds = [];
    this.actorIds = [];
    this.timestamps = [];
    this.details = [];
    this.hashes = new HashColumn();
    this.signatures = undefined;
  }
}
