/**
 * Keys of one index value, kept sorted. The memory store's keys are `createdAt\0id` (see
 * `orderKey` in memory.ts), which sort by creation time, so inserts are almost always appends.
 * Methods name their argument `id`: any string key works. Removal is lazy: the id becomes a
 * tombstone in `dead` and stays in `ids` until a compaction, so moving an entity between statuses
 * costs O(1) (amortised) and a page read stays O(page). Only tombstones are kept in a Set: an index
 * costs one array slot per live id.
 */
export class SortedIdIndex {
  private ids: string[] = [];
  private readonly dead = new Set<string>();

  get size(): number {
    return this.ids.length - this.dead.size;
  }

  /** True when `id` is in `ids` (live or a tombstone). */
  private present(id: string): boolean {
    const n = this.ids.length;
    if (n === 0) return false;
    // Recent ids are the common case: check the end before searching.
    if ((this.ids[n - 1] as string) === id) return true;
    if ((this.ids[n - 1] as string) < id) return false;
    return this.ids[this.lowerBound(id)] === id;
  }

  has(id: string): boolean {
    return !this.dead.has(id) && this.present(id);
  }

  /** The stored string equal to `id` (live or a tombstone), so that callers can share one instance. */
  find(id: string): string | undefined {
    const n = this.ids.length;
    if (n === 0) return undefined;
    const last = this.ids[n - 1] as string;
    if (last === id) return last;
    const found = this.ids[this.lowerBound(id)];
    return found === id ? found : undefined;
  }

  add(id: string): void {
    if (this.dead.delete(id)) return; // a tombstone revived in place
    const n = this.ids.length;
    if (n === 0 || (this.ids[n - 1] as string) < id) {
      this.ids.push(id);
      return;
    }
    const pos = this.lowerBound(id);
    if (this.ids[pos] !== id) this.ids.splice(pos, 0, id);
  }

  delete(id: string): void {
    this.remove(id);
  }

  /** Deletes `id`; returns the stored string equal to it (so callers can share that instance), if live. */
  remove(id: string): string | undefined {
    if (this.dead.has(id)) return undefined;
    const stored = this.find(id);
    if (stored === undefined) return undefined;
    this.dead.add(stored);
    const live = this.ids.length - this.dead.size;
    if (this.dead.size > 64 && this.dead.size > live) {
      this.ids = this.ids.filter((x) => !this.dead.has(x));
      this.dead.clear();
    }
    return stored;
  }

  /** First index whose id is >= `id`. */
  private lowerBound(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ids[mid] as string) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Live ids greater than `after`, in order, that pass `accept`, at most `limit`. */
  page(after: string | undefined, limit: number, accept?: (id: string) => boolean): string[] {
    const out: string[] = [];
    let i = after === undefined ? 0 : this.lowerBound(after);
    if (after !== undefined && this.ids[i] === after) i++;
    const dead = this.dead.size > 0 ? this.dead : undefined;
    for (; i < this.ids.length && out.length < limit; i++) {
      const id = this.ids[i] as string;
      if ((dead === undefined || !dead.has(id)) && (accept === undefined || accept(id))) out.push(id);
    }
    return out;
  }
}
