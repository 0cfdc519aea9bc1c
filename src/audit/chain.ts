import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditDraft, AuditSealer } from '../stores/store.js';
import type { AuditEvent, AuditHead } from '../types.js';
import { sameKeys } from '../util/recent-shapes.js';
import { canonicalJson, isPlainString, quote } from './canonical.js';

/** `prevHash` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

// One-shot `crypto.hash` (Node >= 20.12) skips the Hash object that createHash allocates per call.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** SHA-256 (hex) of a string. */
const sha256Hex: (text: string) => string =
  typeof oneShot === 'function'
    ? (text) => oneShot('sha256', text, 'hex')
    : (text) => createHash('sha256').update(text).digest('hex');

/** SHA-256 (hex) of the canonical JSON of `value`. */
export function sha256Canonical(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** `"key":<canonical JSON of v>` after `out`, with its comma; nothing for a member JSON drops. */
function member(out: string, key: string, v: unknown): string {
  if (v === undefined || typeof v === 'function') return out;
  return `${out}${out.length > 1 ? ',' : ''}"${key}":${typeof v === 'string' ? quote(v) : canonicalJson(v)}`;
}

/**
 * The last string found plain (nothing to escape) per member that often repeats from one record to
 * the next (actorId, entityId, entityType, eventType): an equal string is plain too, and comparing
 * costs less than scanning (most often it is the very same string, compared by reference).
 */
const lastPlain = ['', '', '', ''];

/** True when `v` is a string with nothing to escape; `slot` is its member's `lastPlain`. */
function plainRepeated(v: unknown, slot: number): v is string {
  if (typeof v !== 'string') return false;
  if (v === lastPlain[slot]) return true;
  if (!isPlainString(v)) return false;
  lastPlain[slot] = v;
  return true;
}

const plain = (v: unknown): v is string => typeof v === 'string' && isPlainString(v);

/**
 * The canonical JSON of a record body (the members the hash covers), in sorted member order: the
 * same text as `canonicalJson` of the record without `hash` and `signature`. A record of the usual
 * types (plain strings, a finite seq, an object of details) is written by one expression, a rope of
 * few parts that is cheap to flatten for hashing; anything else member by member.
 * `hexPrev` says that `prevHash` is already known to be a hash this module wrote (64 hex digits),
 * which needs no scan.
 */
function bodyText(
  actorId: unknown,
  details: unknown,
  entityId: unknown,
  entityType: unknown,
  eventType: unknown,
  id: unknown,
  prevHash: unknown,
  seq: unknown,
  timestamp: unknown,
  hexPrev: boolean,
): string {
  if (
    typeof details === 'object' &&
    typeof seq === 'number' &&
    Number.isFinite(seq) &&
    (actorId === undefined || plainRepeated(actorId, 0)) &&
    plainRepeated(entityId, 1) &&
    plainRepeated(entityType, 2) &&
    plainRepeated(eventType, 3) &&
    plain(id) &&
    (hexPrev || plain(prevHash)) &&
    plain(timestamp)
  ) {
    const rest = `,"entityId":"${entityId}","entityType":"${entityType}","eventType":"${eventType}","id":"${id}","prevHash":"${prevHash as string}","seq":${seq},"timestamp":"${timestamp}"}`;
    return actorId === undefined
      ? `{"details":${canonicalJson(details)}${rest}`
      : `{"actorId":"${actorId as string}","details":${canonicalJson(details)}${rest}`;
  }
  let out = member('{', 'actorId', actorId);
  out = member(out, 'details', details);
  out = member(out, 'entityId', entityId);
  out = member(out, 'entityType', entityType);
  out = member(out, 'eventType', eventType);
  out = member(out, 'id', id);
  out = member(out, 'prevHash', prevHash);
  out = member(out, 'seq', seq);
  out = member(out, 'timestamp', timestamp);
  return `${out}}`;
}

// Bits of the body members (the members the hash covers) found among a record's own enumerable keys.
const ACTOR = 1;
const DETAILS = 2;
const ENTITY_ID = 4;
const ENTITY_TYPE = 8;
const EVENT_TYPE = 16;
const ID = 32;
const PREV = 64;
const SEQ = 128;
const TIMESTAMP = 256;

/**
 * The member `key` of a record, as the hash reads it: an own member only (one that is not
 * enumerable too), so that nothing inherited is hashed. `listed` says it is an own enumerable key.
 */
function own(e: Record<string, unknown>, key: string, listed: boolean): unknown {
  return listed || Object.hasOwn(e, key) ? e[key] : undefined;
}

/**
 * The bits of the body members among `keys` (a record's own enumerable keys), or -1 when a key is
 * none of the record's members (such a record takes the general path).
 */
function bodyKeys(keys: string[]): number {
  let seen = 0;
  for (const k of keys) {
    switch (k) {
      case 'actorId':
        seen |= ACTOR;
        break;
      case 'details':
        seen |= DETAILS;
        break;
      case 'entityId':
        seen |= ENTITY_ID;
        break;
      case 'entityType':
        seen |= ENTITY_TYPE;
        break;
      case 'eventType':
        seen |= EVENT_TYPE;
        break;
      case 'id':
        seen |= ID;
        break;
      case 'prevHash':
        seen |= PREV;
        break;
      case 'seq':
        seen |= SEQ;
        break;
      case 'timestamp':
        seen |= TIMESTAMP;
        break;
      case 'hash':
      case 'signature':
        break;
      default:
        return -1;
    }
  }
  return seen;
}

/** The key list of the last record hashed, and its `bodyKeys`: records of a trail mostly share one. */
let lastKeys: string[] = [];
let lastSeen = -1;

/**
 * `canonicalJson` of a record without `hash` and `signature`, written member by member when the
 * record is a plain object holding only the known members (the same text, without sorting keys per
 * record); anything else takes the general path.
 */
function canonicalBody(e: Record<string, unknown>, hexPrev: boolean): string {
  if (Object.getPrototypeOf(e) === Object.prototype) {
    const keys = Object.keys(e);
    const seen = sameKeys(keys, lastKeys) ? lastSeen : bodyKeys(keys);
    lastKeys = keys;
    lastSeen = seen;
    if (seen >= 0) {
      return bodyText(
        own(e, 'actorId', (seen & ACTOR) !== 0),
        own(e, 'details', (seen & DETAILS) !== 0),
        own(e, 'entityId', (seen & ENTITY_ID) !== 0),
        own(e, 'entityType', (seen & ENTITY_TYPE) !== 0),
        own(e, 'eventType', (seen & EVENT_TYPE) !== 0),
        own(e, 'id', (seen & ID) !== 0),
        own(e, 'prevHash', (seen & PREV) !== 0),
        own(e, 'seq', (seen & SEQ) !== 0),
        own(e, 'timestamp', (seen & TIMESTAMP) !== 0),
        hexPrev && (seen & PREV) !== 0,
      );
    }
  }
  const { hash: _h, signature: _s, ...body } = e;
  return canonicalJson(body);
}

/** The hash of a record: SHA-256 of its canonical JSON without `hash` and `signature` (so it covers `prevHash`). */
export function hashEvent(e: Omit<AuditEvent, 'hash' | 'signature'> & { hash?: string; signature?: string }): string {
  return sha256Hex(canonicalBody(e as unknown as Record<string, unknown>, false));
}

/** HMAC-SHA-256 (hex) of a record hash. */
export function signHash(hash: string, key: string): string {
  return createHmac('sha256', key).update(hash).digest('hex');
}

function safeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** True when `signature` is the HMAC of `hash` under `key`. */
export function checkSignature(hash: string, signature: string | undefined, key: string): boolean {
  return typeof signature === 'string' && safeEqualHex(signHash(hash, key), signature);
}

/** The sealers {@link createSealer} made. */
const OWN_SEALERS = new WeakSet<AuditSealer>();

/**
 * True when `seal` is a sealer {@link createSealer} made, whose records always have its exact layout
 * (a store may then keep them without checking each member).
 */
export function isOwnSealer(seal: AuditSealer): boolean {
  return OWN_SEALERS.has(seal);
}

/** A sealer that chains drafts with SHA-256 and, with a key, signs each hash. */
export function createSealer(signingKey?: string): AuditSealer {
  const seal = sealer(signingKey);
  OWN_SEALERS.add(seal);
  return seal;
}

function sealer(signingKey: string | undefined): AuditSealer {
  // The last hash this sealer wrote: a `prev.hash` equal to it is 64 hex digits, written without a scan.
  let last = GENESIS_HASH;
  return (draft: AuditDraft, prev: AuditHead | null): AuditEvent => {
    const { id, eventType, entityType, entityId, actorId, timestamp, details } = draft;
    const seq = prev ? prev.seq + 1 : 1;
    const prevHash = prev ? prev.hash : GENESIS_HASH;
    // Built whole, members in the order they always had; `hash` is filled in once the rest is hashed.
    const event: AuditEvent =
      actorId !== undefined
        ? { id, seq, eventType, entityType, entityId, actorId, timestamp, details, prevHash, hash: '' }
        : { id, seq, eventType, entityType, entityId, timestamp, details, prevHash, hash: '' };
    const hash = sha256Hex(
      bodyText(actorId, details, entityId, entityType, eventType, id, prevHash, seq, timestamp, prevHash === last),
    );
    event.hash = hash;
    last = hash;
    if (signingKey !== undefined) event.signature = signHash(hash, signingKey);
    return event;
  };
}

/**
 * Checks records in seq order against their predecessor. Returns the seq of the first bad record,
 * and why, or undefined when all are good. `prev` is the record before `events[0]` (null at the start).
 */
export function findChainBreak(
  events: readonly AuditEvent[],
  prev: AuditHead | null,
  signingKey?: string,
): { seq: number; reason: string } | undefined {
  let expectSeq = prev ? prev.seq + 1 : 1;
  let expectPrev = prev ? prev.hash : GENESIS_HASH;
  // After the first record, `expectPrev` is a hash this module wrote (it matched hashEvent), so hex.
  let hexPrev = expectPrev === GENESIS_HASH;
  for (const e of events) {
    if (e.seq !== expectSeq) return { seq: expectSeq, reason: `expected seq ${expectSeq}, found ${e.seq}` };
    if (e.prevHash !== expectPrev) return { seq: e.seq, reason: 'prevHash does not match the previous record' };
    if (sha256Hex(canonicalBody(e as unknown as Record<string, unknown>, hexPrev)) !== e.hash) {
      return { seq: e.seq, reason: 'hash does not match the record' };
    }
    if (signingKey !== undefined && !checkSignature(e.hash, e.signature, signingKey)) {
      return { seq: e.seq, reason: 'signature does not match the hash' };
    }
    expectSeq = e.seq + 1;
    expectPrev = e.hash;
    hexPrev = true;
  }
  return undefined;
}
