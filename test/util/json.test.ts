import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonCopy } from '../../src/util/json.js';

const roundTrip = (v: unknown) => {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : JSON.parse(text);
};

describe('jsonCopy', () => {
  it('equals the JSON round trip for any JSON value, and is a copy', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const copy = jsonCopy(v);
        expect(copy).toStrictEqual(roundTrip(v));
        if (typeof v === 'object' && v !== null) expect(copy).not.toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('equals the JSON round trip for values JSON changes on the way', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const samples: unknown[] = [
      { at: new Date(0) },
      { missing: undefined, kept: 1 },
      [undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY],
      { n: Number.NaN, m: -0 },
      { own: { toJSON: () => 'custom' } },
      new Point(1, 2),
      Object.assign(Object.create(null), { a: 1 }),
      // biome-ignore lint/suspicious/noSparseArray: a sparse array is the point
      [1, , 3],
      { nested: { deeper: [{ at: new Date(1) }] } },
      'text',
      42,
      null,
    ];
    for (const v of samples) expect(jsonCopy(v)).toStrictEqual(roundTrip(v));
  });

  it('throws what JSON.stringify throws', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => jsonCopy(cycle)).toThrow(TypeError);
    expect(() => jsonCopy({ big: 1n })).toThrow(TypeError);
  });
});
