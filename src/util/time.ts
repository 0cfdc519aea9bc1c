/**
 * `new Date(ms).toISOString()`, remembered for the last two instants asked for: calls within one
 * millisecond (a cycle of calls takes microseconds) and their lease deadlines reuse the text instead of
 * formatting it again. Throws the RangeError of `toISOString` for an instant a Date cannot hold.
 */
let aMs = Number.NaN;
let aIso = '';
let bMs = Number.NaN;
let bIso = '';
let nextSlotIsA = true;

export function isoAt(ms: number): string {
  if (ms === aMs) return aIso;
  if (ms === bMs) return bIso;
  const iso = new Date(ms).toISOString();
  if (nextSlotIsA) {
    aMs = ms;
    aIso = iso;
  } else {
    bMs = ms;
    bIso = iso;
  }
  nextSlotIsA = !nextSlotIsA;
  return iso;
}

/** {@link isoAt} of a Date. */
export function isoOf(d: Date): string {
  return isoAt(d.getTime());
}
