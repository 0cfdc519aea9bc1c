/**
 * Ids of one index value, kept sorted (ids sort by creation time, so inserts are almost always
 * appends). Removal is lazy: the id leaves `live` and stays in `ids` as a tombstone until a
 * compaction, so moving an entity between statuses costs O(1) and a page read stays O(page).
 */
export class SortedIdIndex {
  private ids: string[] = [];
  private readonly live = new Set<string>();

  get size(): number {
    return this.live.size;
  }

  has(id: string): boolean {
    return this.live.has(id);
  }

  add(id: string): void {
    if (this.live.has(id)) return;
    this.live.add(id);
    const n = this.ids.length;
    if (n === 0 || (this.ids[n - 1] as string) < id) {
      this.ids.push(id);
      return;
    }
    const pos = this.lowerBound(id);
    if (this.ids[pos] !== id) this.ids.splice(pos, 0, id); // else: a tombstone revived in place
  }

  delete(id: string): void {
    if (!this.live.delete(id)) return;
    const dead = this.ids.length - this.live.size;
    if (dead > 64 && dead > this.live.size) this.ids = this.ids.filter((x) => this.live.has(x));
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
    for (; i < this.ids.length && out.length < limit; i++) {
      const id = this.ids[i] as string;
      if (this.live.has(id) && (accept === undefined || accept(id))) out.push(id);
    }
    return out;
  }
}
