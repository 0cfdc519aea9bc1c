import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrchestrationError } from '../../src/errors.js';
import { jsonCopy, MAX_DEPTH, toJsonData } from '../../src/util/json.js';

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

describe('toJsonData', () => {
  const bytesOf = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');

  it('equals the JSON round trip for any JSON value, as a copy, and keeps to the byte limit exactly', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: -2, max: 2 }), (v, slack) => {
        const limit = Math.max(0, bytesOf(v) + slack);
        if (slack < 0) {
          expect(() => toJsonData(v, limit, 'Params', 'INVALID_PARAMS')).toThrow(/more than the limit/);
          return;
        }
        const copy = toJsonData(v, limit, 'Params', 'INVALID_PARAMS');
        expect(copy).toStrictEqual(roundTrip(v));
        if (typeof v === 'object' && v !== null) expect(copy).not.toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('counts bytes, not characters, at the limit', () => {
    const v = { s: 'é€😀' }; // 2 + 3 + 4 bytes in UTF-8, 4 UTF-16 units
    expect(toJsonData(v, bytesOf(v), 'Params')).toEqual(v);
    expect(() => toJsonData(v, bytesOf(v) - 1, 'Params')).toThrow(OrchestrationError);
  });

  it('takes nesting down to MAX_DEPTH levels and refuses one more with INVALID_INPUT', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : { a: nest(n - 1) });
    expect(toJsonData(nest(MAX_DEPTH), 1e6, 'Params')).toEqual(nest(MAX_DEPTH));
    expect(() => toJsonData(nest(MAX_DEPTH + 1), 1e6, 'Params')).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('gives the round trip for values JSON changes, and refuses what is not data with the given code', () => {
    expect(toJsonData({ at: new Date(0), gone: undefined, n: Number.NaN, m: -0 }, 1e6, 'Params')).toStrictEqual(
      roundTrip({ at: new Date(0), gone: undefined, n: Number.NaN, m: -0 }),
    );
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const bad of [cycle, { big: 1n }, { f: () => 1 }, revoked, { nested: revoked }]) {
      expect(() => toJsonData(bad, 1e6, 'Params', 'INVALID_PARAMS')).toThrow(
        expect.objectContaining({ code: 'INVALID_PARAMS' }),
      );
    }
  });
});

describe('toJsonData and jsonCopy with getters', () => {
  it('keep what they checked: a getter that answers differently the next time slips nothing in', () => {
    for (const copy of [(v: unknown) => toJsonData(v, 1e6, 'Params'), jsonCopy]) {
      let reads = 0;
      const shifty = {
        get value(): unknown {
          reads++;
          return reads === 1 ? 1 : () => 'not data';
        },
      };
      const out = copy(shifty) as Record<string, unknown>;
      expect(typeof out.value === 'function').toBe(false);
      expect(JSON.parse(JSON.stringify(out))).toStrictEqual(out);
    }
  });
});
