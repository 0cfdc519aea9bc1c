import type BetterSqlite3 from 'better-sqlite3';
import type { AuditHead } from '../types.js';
import type { CurrentRow } from './sqlite-schema.js';

/** What the cache knows of one entity; `null`: known to be absent, `undefined`: not known. */
interface Known {
  data: string | null | undefined;
  row: CurrentRow | null | undefined;
}

/**
 * How many entities the cache keeps, and how many characters of JSON in all (the oldest go first):
 * the hot set is the few in flight. An entity of more than an eighth of that is not kept.
 */
const MAX_ENTITIES = 256;
const MAX_CHARS = 4 * 1024 * 1024;

/** The cache key of an entity. */
export const cacheKey = (kind: string, id: string): string => `${kind}\u0000${id}`;

/**
 * What one connection last read and wrote of the database: entities (their JSON and the row a commit
 * checks) and the end of the audit chain, so that the gate's reads and a commit's checks cost no
 * statement while nothing else writes.
 *
 * It is exact because SQLite's `data_version` changes whenever another connection (of this process
 * or another) commits, and never for this connection's own commits. `sync()` reads it, and drops
 * everything when it moved: at the start of every write transaction (which then holds the write
 * lock, so nothing else can commit until it ends) and before every read served from the cache. A
 * read that misses and goes to the database may see a commit newer than the version `sync()` read;
 * what it remembers is then newer than that version, and the next `sync()` sees the version move and
 * drops it. The store gives this cache only a connection it opened itself: through a caller's own
 * handle, writes of the caller would not move `data_version`.
 *
 * A write transaction stages what it writes; `committed()` keeps it once `COMMIT` returned,
 * `abandon()` forgets it on a rollback, and any failure clears everything.
 */
export class ReadCache {
  private version = -1;
  private readonly known = new Map<string, Known>();
  /** Characters of JSON in `known`. */
  private chars = 0;
  private chain: AuditHead | null | undefined;
  private staged: Array<[key: string, data: string, row: CurrentRow]> = [];
  private stagedChain: AuditHead | null | undefined;
  private stagedIndexed = false;

  constructor(private readonly dataVersion: BetterSqlite3.Statement<[], number>) {}

  /** Drops everything when another connection committed since the last look. */
  sync(): void {
    const v = this.dataVersion.get() as number;
    if (v !== this.version) {
      this.clear();
      this.version = v;
    }
  }

  /** Forgets everything (and what is staged). */
  clear(): void {
    this.known.clear();
    this.chars = 0;
    this.chain = undefined;
    this.abandon();
  }

  /** The entity's JSON (`null`: absent), or undefined when not known. */
  data(key: string): string | null | undefined {
    return this.known.get(key)?.data;
  }

  /** The entity's row as a commit checks it (`null`: absent), or undefined when not known. */
  row(key: string): CurrentRow | null | undefined {
    return this.known.get(key)?.row;
  }

  /** The end of the audit chain (`null`: empty), or undefined when not known. */
  chainEnd(): AuditHead | null | undefined {
    return this.chain;
  }

  /** Remembers an entity's JSON read from the committed state. */
  rememberData(key: string, data: string | null): void {
    const k = this.entry(key);
    this.setData(k, data);
    // An absent entity has no row either.
    if (data === null) k.row = null;
    this.trim();
  }

  /** Remembers an entity's row read from the committed state (inside a write, before it writes). */
  rememberRow(key: string, row: CurrentRow | null): void {
    const k = this.entry(key);
    k.row = row;
    if (row === null) this.setData(k, null);
    this.trim();
  }

  /** Stages an entity as the open write transaction leaves it. */
  stage(key: string, data: string, row: CurrentRow): void {
    this.staged.push([key, data, row]);
  }

  /** Stages the end of the chain as the open write transaction leaves it. */
  stageChainEnd(head: AuditHead | null): void {
    this.stagedChain = head;
  }

  /** The open write transaction wrote waiting index rows: every remembered `pending` flag is stale. */
  stageIndexed(): void {
    this.stagedIndexed = true;
  }

  /** `COMMIT` returned: keeps what was staged. */
  committed(): void {
    if (this.stagedIndexed) {
      this.known.clear();
      this.chars = 0;
    } else {
      for (const [key, data, row] of this.staged) {
        // Re-inserted, so that what was written last goes last.
        const old = this.known.get(key);
        if (old !== undefined) {
          this.setData(old, undefined);
          this.known.delete(key);
        }
        const k = this.entry(key);
        this.setData(k, data);
        k.row = row;
      }
      this.trim();
    }
    if (this.stagedChain !== undefined) this.chain = this.stagedChain;
    this.abandon();
  }

  /** The write transaction rolled back: forgets what was staged. */
  abandon(): void {
    if (this.staged.length > 0) this.staged = [];
    this.stagedChain = undefined;
    this.stagedIndexed = false;
  }

  private entry(key: string): Known {
    let k = this.known.get(key);
    if (k === undefined) {
      k = { data: undefined, row: undefined };
      this.known.set(key, k);
    }
    return k;
  }

  /** Sets an entity's JSON, counting its characters; one too large to keep stays unknown. */
  private setData(k: Known, data: string | null | undefined): void {
    if (typeof k.data === 'string') this.chars -= k.data.length;
    k.data = typeof data === 'string' && data.length > MAX_CHARS / 8 ? undefined : data;
    if (typeof k.data === 'string') this.chars += k.data.length;
  }

  /** Drops the oldest entities while there are too many, or too many characters of them. */
  private trim(): void {
    while (this.known.size > MAX_ENTITIES || this.chars > MAX_CHARS) {
      const [key, k] = this.known.entries().next().value as [string, Known];
      if (typeof k.data === 'string') this.chars -= k.data.length;
      this.known.delete(key);
    }
  }
}
