import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { createSealer, findChainBreak, GENESIS_HASH, hashEvent, sha256Canonical } from '../../src/audit/chain.js';
import type { AuditDraft } from '../../src/stores/store.js';
import type { AuditEvent } from '../../src/types.js';
import { FUZZ_RUNS, FUZZ_SEED } from './hostile.js';

/**
 * The canonical JSON that every stored hash was made with, written the plain way (sort every key
 * list, JSON.stringify every string and number): the fast paths of src/audit must give the same text
 * for every value, or trails sealed before them would no longer verify.
 */
function reference(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object':
      break;
    default:
      return JSON.stringify(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const v = value[i];
      out += v === undefined || typeof v === 'function' ? 'null' : reference(v);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    parts.push(`${JSON.stringify(k)}:${reference(v)}`);
  }
  return `{${parts.join(',')}}`;
}

const referenceHash = (e: Record<string, unknown>) => {
  const { hash: _h, signature: _s, ...body } = e;
  return createHash('sha256').update(reference(body)).digest('hex');
};

const opts = { numRuns: Math.min(FUZZ_RUNS, 3000), ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) };

/** Strings with every kind of character JSON treats specially. */
const tricky = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '',
    '"',
    '\\',
    '\n',
    '\u0000',
    '\u001f',
    '\u007f',
    'é',
    '日本',
    '\ud83d\ude00',
    '\ud800',
    '\udfff',
    'a"b',
  ),
);
/** Keys that sort differently from the order objects keep them in. */
const key = fc.oneof(
  tricky,
  fc.constantFrom('0', '1', '2', '9', '10', '-1', '1.5', '__proto__', 'constructor', 'toJSON', 'a', 'B', 'b', '_'),
);
const leaf = fc.oneof(
  tricky,
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e21, 1e-7, 2 ** 53),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 6 }).map((entries) => {
    const o: Record<string, unknown> = {};
    // Own members even for `__proto__`, as JSON.parse makes them.
    for (const [k, v] of entries)
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }),
}));

describe('canonicalJson', () => {
  it('gives the text of the plain reference for every value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      opts,
    );
  });

  it('gives one text whatever the order of the keys, however often a key list comes back', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 8 }),
        fc.array(leaf, { minLength: 8, maxLength: 8 }),
        (keys, vals) => {
          const a: Record<string, unknown> = {};
          const b: Record<string, unknown> = {};
          for (const [i, k] of keys.entries()) Object.defineProperty(a, k, { value: vals[i], enumerable: true });
          for (const k of [...keys].reverse()) Object.defineProperty(b, k, { value: a[k], enumerable: true });
          for (let round = 0; round < 3; round++) {
            expect(canonicalJson(a)).toBe(reference(a));
            expect(canonicalJson(b)).toBe(canonicalJson(a));
          }
        },
      ),
      opts,
    );
  });

  it('pins known texts and hashes', () => {
    expect(canonicalJson({ b: 1, a: [true, null, undefined, 'x"y'], c: undefined, 10: -0, 9: 1e21 })).toBe(
      '{"10":0,"9":1e+21,"a":[true,null,null,"x\\"y"],"b":1}',
    );
    expect(canonicalJson({ z: { y: '\n', x: '\ud800' } })).toBe('{"z":{"x":"\\ud800","y":"\\n"}}');
    expect(sha256Canonical({ service: 'web', replicas: 1 })).toBe(
      createHash('sha256').update('{"replicas":1,"service":"web"}').digest('hex'),
    );
  });

  it('writes data past the bound of remembered key lists the same way', () => {
    for (let i = 0; i < 6000; i++) {
      const o = { [`k${i}`]: i, [`j${i}`]: `v${i}`, a: { [`n${i}`]: [i] } };
      expect(canonicalJson(o)).toBe(reference(o));
    }
  });
});

const str = fc.oneof(fc.string({ maxLength: 30 }), tricky);
const details = fc.dictionary(key, value, { maxKeys: 5 });
const draft: fc.Arbitrary<AuditDraft> = fc.record(
  {
    id: str,
    eventType: str as fc.Arbitrary<AuditDraft['eventType']>,
    entityType: str as fc.Arbitrary<AuditDraft['entityType']>,
    entityId: str,
    actorId: str,
    timestamp: str,
    details,
  },
  { requiredKeys: ['id', 'eventType', 'entityType', 'entityId', 'timestamp', 'details'] },
);

describe('record hashes', () => {
  it('seal, hash and verify records as the reference hashes them', () => {
    fc.assert(
      fc.property(fc.array(draft, { minLength: 1, maxLength: 6 }), fc.boolean(), (drafts, signed) => {
        const seal = createSealer(signed ? 'key' : undefined);
        const events: AuditEvent[] = [];
        let prev: { seq: number; hash: string } | null = null;
        for (const d of drafts) {
          const e = seal(d, prev);
          expect(e.hash).toBe(referenceHash(e as unknown as Record<string, unknown>));
          expect(hashEvent(e)).toBe(e.hash);
          events.push(e);
          prev = { seq: e.seq, hash: e.hash };
        }
        expect(findChainBreak(events, null, signed ? 'key' : undefined)).toBeUndefined();
        // A copy (as a store hands it back) verifies too; a changed member does not.
        const copies = events.map((e) => structuredClone(e));
        expect(findChainBreak(copies, null)).toBeUndefined();
        const last = copies[copies.length - 1] as AuditEvent;
        last.details = { ...last.details, tampered: true };
        expect(findChainBreak(copies, null)?.seq).toBe(last.seq);
      }),
      opts,
    );
  });

  it('hashes records of any members as the reference does', () => {
    const record = fc.dictionary(
      fc.constantFrom(
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
        'extra',
      ),
      value,
    );
    fc.assert(
      fc.property(record, (r) => {
        expect(hashEvent(r as unknown as AuditEvent)).toBe(referenceHash(r));
      }),
      opts,
    );
  });

  it('hashes the own members only, enumerable or not, as before', () => {
    const e = {
      id: 'a',
      seq: 1,
      eventType: 'x',
      entityType: 'y',
      entityId: 'z',
      timestamp: 't',
      prevHash: GENESIS_HASH,
    };
    Object.defineProperty(e, 'details', { value: { n: 1 }, enumerable: false });
    expect(hashEvent(e as unknown as AuditEvent)).toBe(sha256Canonical({ ...e, details: { n: 1 } }));
    const inherited = Object.create({ actorId: 'ghost' }) as Record<string, unknown>;
    Object.assign(inherited, e);
    expect(hashEvent(inherited as unknown as AuditEvent)).toBe(referenceHash({ ...inherited }));
  });

  it('checks a chain that starts after a record whose hash needs escaping', () => {
    const seal = createSealer();
    const odd = { seq: 4, hash: 'not "hex"' };
    const a = seal(
      { id: 'a', eventType: 'e', entityType: 't', entityId: 'x', timestamp: 's', details: {} } as unknown as AuditDraft,
      odd,
    );
    expect(a.hash).toBe(referenceHash(a as unknown as Record<string, unknown>));
    expect(findChainBreak([a], odd)).toBeUndefined();
  });
});
