import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoAt, isoOf } from '../../src/util/time.js';

describe('isoAt', () => {
  it('equals toISOString for any instant, asked in any order and again', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -8.64e15, max: 8.64e15 }), { minLength: 1, maxLength: 20 }), (list) => {
        for (const ms of [...list, ...list.reverse(), ...list]) {
          expect(isoAt(ms)).toBe(new Date(ms).toISOString());
          expect(isoOf(new Date(ms))).toBe(new Date(ms).toISOString());
        }
      }),
      { numRuns: 500 },
    );
  });

  it('throws the RangeError of toISOString for an instant a Date cannot hold', () => {
    for (const bad of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY]) {
      expect(() => isoAt(bad)).toThrow(RangeError);
    }
  });
});
