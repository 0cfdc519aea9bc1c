import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyData } from '../../src/util/copy.js';

/** True when `a` and `b` share no object at any depth. */
function disjoint(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null) return true;
  if (a === b) return false;
  const keys = Object.keys(a);
  return keys.every((k) => disjoint((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

describe('copyData', () => {
  it('equals structuredClone for any JSON value, and shares no object with it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const copy = copyData(v);
        expect(copy).toStrictEqual(structuredClone(v));
        expect(disjoint(copy, v)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('copies objects of the same key count but other keys or order exactly (the shape cache is keyed by the keys)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.integer()).map((d) => Object.assign({}, d)),
          { minLength: 2, maxLength: 30 },
        ),
        (objects) => {
          for (const o of objects) {
            const copy = copyData(o);
            expect(copy).toStrictEqual(o);
            expect(Object.keys(copy)).toStrictEqual(Object.keys(o));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps an own __proto__ member a member, and hands odd values to structuredClone', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
    const copy = copyData(parsed);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const odd = { at: new Date(5), list: new Map([[1, 2]]) };
    expect(copyData(odd)).toStrictEqual(structuredClone(odd));
  });
});
