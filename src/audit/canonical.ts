import { RecentShapes } from '../util/recent-shapes.js';

/** Characters that JSON.stringify escapes in a string (and surrogates, which it may). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * `JSON.stringify(s)` for a string, without its cost when nothing needs escaping (on Node 20 a
 * JSON.stringify call costs about as much as escaping a whole record by hand, so it is kept for the
 * strings that need it).
 */
export function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** True when `s` is written in JSON as itself between quotes (nothing to escape). */
export function isPlainString(s: string): boolean {
  return !NEEDS_ESCAPE.test(s);
}

/**
 * What an object of one key list (in `Object.keys` order) needs to be written: its keys in sorted
 * order, and for each key the text before its value: `"key":`, with a leading comma for any member
 * but the first, and with the value's opening quote for a string value (one concatenation fewer).
 * Found by walking a trie of key lists, one Map lookup per key, which costs less than sorting the
 * keys and checking each for characters to escape. The trie is bounded, so that data with ever new
 * keys cannot grow it without end; past the bound, an object's keys are sorted and quoted per object.
 */
interface Shape {
  sorted: string[];
  first: string[];
  next: string[];
  firstStr: string[];
  nextStr: string[];
}

interface ShapeNode {
  children: Map<string, ShapeNode>;
  shape?: Shape;
}

const shapes: ShapeNode = { children: new Map() };
let shapeNodes = 0;
const MAX_SHAPE_NODES = 4096;
const MAX_SHAPE_KEYS = 64;

function makeShape(keys: string[]): Shape {
  const sorted = keys.slice().sort();
  const first = sorted.map((k) => `${quote(k)}:`);
  return {
    sorted,
    first,
    next: first.map((l) => `,${l}`),
    firstStr: first.map((l) => `${l}"`),
    nextStr: first.map((l) => `,${l}"`),
  };
}

const recent = new RecentShapes<Shape>();

/** The shape of a key list (remembered per length, else from {@link lookUpShape}). */
function shapeOf(keys: string[]): Shape {
  return recent.get(keys, lookUpShape);
}

/** The shape of a key list: from the trie, or made for this object alone once the trie is full. */
function lookUpShape(keys: string[]): Shape {
  const n = keys.length;
  if (n > MAX_SHAPE_KEYS) return makeShape(keys);
  let node = shapes;
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string;
    let child = node.children.get(k);
    if (child === undefined) {
      if (shapeNodes >= MAX_SHAPE_NODES) return makeShape(keys);
      shapeNodes++;
      child = { children: new Map() };
      node.children.set(k, child);
    }
    node = child;
  }
  if (node.shape === undefined) node.shape = makeShape(keys);
  return node.shape;
}

/** The canonical JSON of a plain-data object of shape `s`. */
function writeMembers(obj: Record<string, unknown>, s: Shape): string {
  const sorted = s.sorted;
  let out = '{';
  for (let i = 0; i < sorted.length; i++) {
    const v = obj[sorted[i] as string];
    if (v === undefined || typeof v === 'function') continue;
    // Each piece is joined before it is appended, so the result is a rope of few, large parts.
    if (typeof v === 'string' && !NEEDS_ESCAPE.test(v)) {
      out += `${(out.length > 1 ? s.nextStr[i] : s.firstStr[i]) as string}${v}"`;
    } else {
      out += ((out.length > 1 ? s.next[i] : s.first[i]) as string) + canonicalJson(v);
    }
  }
  return `${out}}`;
}

/**
 * Canonical JSON: object keys sorted, `undefined` members dropped, no whitespace.
 * Two equal values always give the same string, which is what hashing needs.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      // ToString, as JSON.stringify writes a finite number (-0 as "0"), without a JSON.stringify call.
      return Number.isFinite(value) ? `${value}` : 'null';
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
    const n = value.length;
    if (n === 0) return '[]';
    let out = '[';
    for (let i = 0; i < n; i++) {
      const v: unknown = value[i];
      out += (i > 0 ? ',' : '') + (v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v));
    }
    return `${out}]`;
  }
  const keys = Object.keys(value);
  return keys.length === 0 ? '{}' : writeMembers(value as Record<string, unknown>, shapeOf(keys));
}
