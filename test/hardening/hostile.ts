import fc from 'fast-check';
import type { z } from 'zod';
import { ErrorCodes, OrchestrationError } from '../../src/errors.js';
import type { Store } from '../../src/stores/store.js';

/**
 * Runs per fuzzed method: 10,000 in CI, 1,000 locally, `FUZZ_RUNS` to choose.
 * A failure is reported with its seed: `FUZZ_SEED=<seed> npx vitest run test/hardening/fuzz.test.ts -t <method>` replays it.
 */
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? (inCi ? 10_000 : 1_000));
export const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** The key names that prototype pollution goes through. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** An object with `entries` as own, enumerable properties (even `__proto__`), as JSON.parse makes them. */
export function own(
  entries: Array<[string, unknown]>,
  proto: object | null = Object.prototype,
): Record<string, unknown> {
  const o = Object.create(proto) as Record<string, unknown>;
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

function nest(depth: number): unknown {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
}

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  o.list = [o, { back: o }];
  return o;
}

const throwingGetter = Object.defineProperty({}, 'id', {
  enumerable: true,
  get() {
    throw new Error('getter boom');
  },
});
/** fast-check looks for its own symbols on generated values (to clone and print them); let it. */
const isFastCheckKey = (key: string | symbol) => typeof key === 'symbol' && key.description?.startsWith('fast-check/');
const FC_TO_STRING = Symbol.for('fast-check/toStringMethod');

/** A Proxy whose every trap throws `error(message)`, except for fast-check's own bookkeeping. */
function hostileProxy(label: string, message: string, error: new (m: string) => Error): object {
  const fail = () => {
    throw new error(message);
  };
  return new Proxy(
    {},
    {
      get: (_t, key) => (key === FC_TO_STRING ? () => label : isFastCheckKey(key) ? undefined : fail()),
      has: (_t, key) => (key === FC_TO_STRING ? true : isFastCheckKey(key) ? false : fail()),
      ownKeys: fail,
      getOwnPropertyDescriptor: fail,
      getPrototypeOf: fail,
      set: fail,
      defineProperty: fail,
      deleteProperty: fail,
    },
  );
}
const throwingProxy = hostileProxy('<throwing proxy>', 'proxy trap boom', Error);
/** Behaves like a revoked Proxy: every operation is a TypeError. */
const revoked = hostileProxy('<revoked proxy>', 'Cannot perform operation on a proxy that has been revoked', TypeError);
/** Throws something that itself throws when looked at. */
const throwsHostile = Object.defineProperty({}, 'id', {
  enumerable: true,
  get() {
    throw revoked;
  },
});
const throwingToJson = {
  toJSON() {
    throw new Error('toJSON boom');
  },
};

/** Payloads that would pollute `Object.prototype` if merged or assigned naively. */
export const POLLUTERS: unknown[] = [
  JSON.parse('{"__proto__": {"polluted": "yes"}}'),
  JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}'),
  JSON.parse('{"a": {"__proto__": {"polluted": "yes"}}, "prototype": {"polluted": "yes"}}'),
  JSON.parse('{"__proto__": {"__proto__": {"polluted": "yes"}}, "constructor": "x"}'),
  own([['__proto__', { polluted: 'yes' }]], null),
];

/** A megabyte and a bit: longer than any string limit. */
export const LONG_STRING = 'x'.repeat(1024 * 1024 + 1);

const SPECIAL_VALUES: unknown[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  -1,
  0,
  1.5,
  2 ** 53,
  -(2 ** 53),
  2 ** 31,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e21,
  10n ** 40n,
  -1n,
  0n,
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\u202e',
  '\ufeff',
  'null',
  'undefined',
  '__proto__',
  '{}',
  "'; DROP TABLE oc_audit; --",
  '%',
  '_',
  true,
  false,
  null,
  undefined,
  Symbol('s'),
  () => 1,
  new Date(Number.NaN),
  new Date(0),
  /re/g,
  new Map([['a', 1]]),
  new Set([1]),
  new Uint8Array(3),
  new Error('e'),
  Object.create(null),
  [],
  [[]],
  [undefined],
  Array(3),
  LONG_STRING,
  own([['k'.repeat(100_000), 1]]),
  Array.from({ length: 2_000 }, (_, i) => `item${i}`),
  nest(65),
  nest(10_000),
  circular(),
  (() => {
    const a: unknown[] = [];
    a.push(a);
    return a;
  })(),
  throwingGetter,
  throwsHostile,
  throwingProxy,
  revoked,
  throwingToJson,
  Object.freeze({ a: 1 }),
  new String('boxed'),
  new Number(1),
  ...POLLUTERS,
];

/** Keys of extra (unknown) members: the prototype keys, built-in names, odd and very long names. */
export const extraKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  fc.constantFrom('toString', 'valueOf', 'hasOwnProperty', 'then', 'length', '', ' ', '\u0000', 'k'.repeat(10_000)),
  fc.string({ maxLength: 12 }),
);

const anyKey = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 4, arbitrary: fc.string({ maxLength: 8 }) },
);

/** Any hostile value: arbitrary data of every JS type, and the special cases above. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_VALUES) },
  {
    weight: 3,
    arbitrary: fc.anything({
      key: anyKey,
      maxDepth: 3,
      maxKeys: 4,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    }),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((t) => JSON.parse(t) as unknown) },
);

/** Params-like records: plain data with prototype keys at any depth, or hostile values. */
export const hostileParams: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(anyKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom(...POLLUTERS) },
  { weight: 2, arbitrary: hostile },
);

/** Odd spellings of known ids: case, padding, invisible and control characters, homoglyphs, injections. */
export function oddSpellings(ids: readonly string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    out.push(
      id.toUpperCase(),
      ` ${id}`,
      `${id} `,
      `${id}\u0000`,
      `${id}\u200b`,
      `${id}\n`,
      id.normalize('NFKD').replace(/a/g, '\u0430'), // Cyrillic a
      id.slice(0, -1),
      `${id}x`,
      `${id}%`,
      `${id}' OR '1'='1`,
      encodeURIComponent(`${id}/`),
      `${id}\ud800`,
    );
  }
  out.push(
    '',
    ' ',
    '%',
    '_',
    '*',
    '../..',
    'NaN',
    '0',
    '-1',
    'x'.repeat(201),
    'x'.repeat(200),
    '\u0000',
    ...PROTO_KEYS,
  );
  return out;
}

type Def = { type: string; [k: string]: unknown };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** Where plausible string values come from, by field name. */
export interface Pools {
  /** Any id: they are all tried against every id field. */
  ids: string[];
  /** The ids that fit a field best (`actor_id` -> actor ids), by field name. */
  byField?: Record<string, string[]>;
  tools: string[];
  steps: string[];
  text: string[];
}

function stringFor(key: string | undefined, pools: Pools): fc.Arbitrary<string> {
  const fitting = key === undefined ? undefined : pools.byField?.[key];
  if (fitting !== undefined && fitting.length > 0) {
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...fitting) },
      { weight: 1, arbitrary: stringFor(undefined, { ...pools, byField: {} }) },
    );
  }
  const k = (key ?? '').toLowerCase();
  if (k === 'tool' || k === 'tool_name') return fc.constantFrom(...pools.tools);
  if (k === 'step') return fc.constantFrom(...pools.steps, ...pools.ids);
  if (k.endsWith('date'))
    return fc.constantFrom('2026-01-01', '2025-12-31T23:59:59Z', '2026-02-30', 'yesterday', '+275760-09-13T00:00:00Z');
  if (k.includes('hash') || k === 'signature')
    return fc.oneof(fc.constantFrom('0'.repeat(64), 'f'.repeat(64), 'F'.repeat(64)), fc.string({ maxLength: 70 }));
  if (k === 'eventtype') return fc.constantFrom('actor_created', 'action_proposed', 'nope', '__proto__');
  if (k === 'server') return fc.constantFrom('local', 'http://127.0.0.1:1/mcp', 'file:///etc/passwd', 'evil');
  if (
    k.endsWith('id') ||
    k.endsWith('_id') ||
    ['after', 'requester', 'reviewer', 'createdby', 'assignedactor', 'updated_by', 'actorid'].includes(k)
  )
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...pools.ids) },
      { weight: 1, arbitrary: fc.constantFrom(...oddSpellings(pools.ids.slice(0, 4))) },
    );
  return fc.oneof(fc.constantFrom(...pools.text), fc.string({ maxLength: 16 }));
}

/**
 * Inputs that match `schema` (mostly): valid shapes filled from the pools, so that fuzzing reaches
 * the code behind validation, not only the validation itself.
 */
export function validish(schema: unknown, pools: Pools, key?: string): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
      return validish(def.innerType, pools, key);
    case 'nullable':
      return fc.oneof(fc.constant(null), validish(def.innerType, pools, key));
    case 'object': {
      // Optional members appear one time in three, so that a valid combination is common.
      const members = Object.entries(def.shape as Record<string, unknown>).map(([k, v]) => {
        const member = validish(v, pools, k).map((value): [string, unknown] => [k, value]);
        return defOf(v).type === 'optional'
          ? fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: member })
          : member;
      });
      return fc
        .tuple(...members)
        .map((entries) => Object.fromEntries(entries.filter((e): e is [string, unknown] => e !== undefined)));
    }
    case 'string':
      return stringFor(key, pools);
    case 'number':
      return fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 100_000 }));
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as Record<string, string>));
    case 'array':
      return fc.array(validish(def.element, pools, key), { maxLength: 3 });
    case 'record':
      return hostileParams;
    case 'union':
      return fc.oneof(...(def.options as unknown[]).map((o) => validish(o, pools, key)));
    default:
      return hostile;
  }
}

type Mutation = { op: 'set'; key: string; value: unknown } | { op: 'delete'; key: string };

/**
 * Hostile inputs for a method with input `schema`: near-valid objects with fields replaced by
 * hostile values, fields missing, extra keys (prototype keys among them) added; and wholly hostile values.
 */
export function hostileInput(schema: z.ZodType, pools: Pools): fc.Arbitrary<unknown> {
  const shape = (defOf(schema).shape ?? {}) as Record<string, unknown>;
  const fields = Object.keys(shape);
  const fieldKey = fields.length > 0 ? fc.constantFrom(...fields) : extraKey;
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key: fieldKey, value: hostile }),
    fc.record({ op: fc.constant('set' as const), key: extraKey, value: hostile }),
    fc.record({ op: fc.constant('delete' as const), key: fieldKey }),
  );
  const mutated = fc
    .tuple(validish(schema, pools), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([base, ms]) => {
      const o = own(Object.entries(base as Record<string, unknown>));
      for (const m of ms) {
        if (m.op === 'delete') delete o[m.key];
        else Object.defineProperty(o, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      }
      return o;
    });
  return fc.oneof(
    { weight: 5, arbitrary: mutated },
    { weight: 3, arbitrary: validish(schema, pools) },
    { weight: 2, arbitrary: hostile },
  );
}

const PROTOTYPES: Array<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['Number.prototype', Number.prototype],
  ['Promise.prototype', Promise.prototype],
];

function protoSignature(): string[] {
  return PROTOTYPES.map(([name, p]) => `${name}:${Reflect.ownKeys(p).map(String).sort().join(',')}`);
}
const baseline = protoSignature();
const baselineCounts = PROTOTYPES.map(([, p]) => Reflect.ownKeys(p).length);
const objectProtoValues = new Map(Reflect.ownKeys(Object.prototype).map((k) => [k, Reflect.get(Object.prototype, k)]));

/**
 * Throws when a built-in prototype gained or lost a member (or, with `thorough`, when a member of
 * `Object.prototype` was replaced). The quick form is cheap enough to run after every call.
 */
export function assertNoPollution(context: string, thorough = false): void {
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || Object.hasOwn(Object.prototype, 'polluted')) {
    throw new Error(`${context}: Object.prototype was polluted`);
  }
  for (let i = 0; i < PROTOTYPES.length; i++) {
    if (Reflect.ownKeys((PROTOTYPES[i] as [string, object])[1]).length !== baselineCounts[i]) thorough = true;
  }
  if (!thorough) return;
  const now = protoSignature();
  for (let i = 0; i < now.length; i++) {
    if (now[i] !== baseline[i]) throw new Error(`${context}: a built-in prototype changed: ${now[i]}`);
  }
  for (const [k, v] of objectProtoValues) {
    if (k === '__proto__') continue; // an accessor: reading it gives null
    if (Reflect.get(Object.prototype, k) !== v)
      throw new Error(`${context}: Object.prototype.${String(k)} was replaced`);
  }
}

/** A cheap fingerprint of everything a call could change: counts by status and the audit head. */
export async function fingerprint(store: Store): Promise<string> {
  const parts = await Promise.all([
    store.auditHead(),
    store.countAudit(),
    store.count('actor'),
    store.count('workflow'),
    store.count('proposal'),
    store.count('action'),
    store.get('policy', 'policy'),
  ]);
  // Key order of counts by status is the database's (GROUP BY order): compare them sorted.
  return JSON.stringify(parts, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
  );
}

const CODES = new Set<string>(Object.values(ErrorCodes));

/** Throws unless `error` has a documented code and a short, readable message (as an MCP error result carries it). */
export function assertDocumentedError(error: { code?: unknown; message?: unknown } | undefined, context: string): void {
  if (typeof error?.code !== 'string' || !CODES.has(error.code)) {
    throw new Error(
      `${context}: undocumented error code ${String(error?.code)}: ${String(error?.message).slice(0, 300)}`,
    );
  }
  if (typeof error.message !== 'string' || error.message.length === 0 || error.message.length > 4000) {
    throw new Error(`${context}: error message of ${String(error.message).length} characters`);
  }
}

/** Throws unless `err` is an OrchestrationError with a documented code and a short, readable message. */
export function assertOrchestrationError(err: unknown, context: string): asserts err is OrchestrationError {
  if (!(err instanceof OrchestrationError)) {
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new Error(`${context}: a non-OrchestrationError escaped: ${what.slice(0, 500)}`, { cause: err });
  }
  assertDocumentedError(err, context);
  try {
    JSON.stringify(err.toJSON());
  } catch (e) {
    throw new Error(`${context}: error details are not JSON: ${String(e)}`);
  }
}

/** Rejects when `p` does not settle within `ms`: the call hung. */
export function settleWithin<T>(p: Promise<T>, ms: number, context: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`${context}: did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

export class HangError extends Error {}
