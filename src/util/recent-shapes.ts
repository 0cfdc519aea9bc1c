/** True when two key lists hold the same keys in the same order. */
export function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What was last found for a key list, one slot per list length (modulo 16). Code that walks a few
 * object shapes over and over (an entity, its params, its reviews) then compares the keys, mostly
 * the same interned strings, instead of looking each one up again.
 */
export class RecentShapes<T> {
  private readonly slots: Array<{ keys: string[]; value: T } | undefined> = new Array(16).fill(undefined);

  /** The value remembered for `keys`, else `find(keys)`, remembered in its slot. */
  get(keys: string[], find: (keys: string[]) => T): T {
    const slot = keys.length & 15;
    const hit = this.slots[slot];
    if (hit !== undefined && sameKeys(hit.keys, keys)) return hit.value;
    const value = find(keys);
    this.slots[slot] = { keys, value };
    return value;
  }
}
