import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditDraft, AuditSealer } from '../stores/store.js';
import type { AuditEvent, AuditHead } from '../types.js';
import { canonicalJson } from './canonical.js';

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

/** The members of an audit record that its hash covers, in canonical (sorted) order. */
const BODY_KEYS = ['actorId', 'details', 'entityId', 'entityType', 'eventType', 'id', 'prevHash', 'seq', 'timestamp'];
const RECORD_KEYS = new Set([...BODY_KEYS, 'hash', 'signature']);

/**
 * `canonicalJson` of a record without `hash` and `signature`, written member by member when the
 * record holds only the known members (the same text, without sorting keys per record);
 * anything else takes the general path.
 */
function canonicalBody(e: Record<string, unknown>): string {
  if (Object.getPrototypeOf(e) === Object.prototype) {
    const keys = Object.keys(e);
    let known = true;
    for (const k of keys) {
      if (!RECORD_KEYS.has(k)) {
        known = false;
        break;
      }
    }
    if (known) return knownBody(e);
  }
  const { hash: _h, signature: _s, ...body } = e;
  return canonicalJson(body);
}

/** `canonicalJson` of a record whose own members are all known, without `hash` and `signature`. */
function knownBody(e: Record<string, unknown>): string {
  let out = '{';
  for (const k of BODY_KEYS) {
    const v = e[k];
    if (v === undefined || typeof v === 'function' || !Object.hasOwn(e, k)) continue;
    out += `${out.length > 1 ? ',' : ''}"${k}":${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The hash of a record: SHA-256 of its canonical JSON without `hash` and `signature` (so it covers `prevHash`). */
export function hashEvent(e: Omit<AuditEvent, 'hash' | 'signature'> & { hash?: string; signature?: string }): string {
  return sha256Hex(canonicalBody(e as unknown as Record<string, unknown>));
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

/** A sealer that chains drafts with SHA-256 and, with a key, signs each hash. */
export function createSealer(signingKey?: string): AuditSealer {
  return (draft: AuditDraft, prev: AuditHead | null): AuditEvent => {
    const { id, eventType, entityType, entityId, actorId, timestamp, details } = draft;
    const seq = prev ? prev.seq + 1 : 1;
    const prevHash = prev ? prev.hash : GENESIS_HASH;
    // Built whole, members in the order they always had; `hash` is filled in once the rest is hashed.
    const event: AuditEvent =
      actorId !== undefined
        ? { id, seq, eventType, entityType, entityId, actorId, timestamp, details, prevHash, hash: '' }
        : { id, seq, eventType, entityType, entityId, timestamp, details, prevHash, hash: '' };
    event.hash = sha256Hex(knownBody(event as unknown as Record<string, unknown>));
    if (signingKey !== undefined) event.signature = signHash(event.hash, signingKey);
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
  for (const e of events) {
    if (e.seq !== expectSeq) return { seq: expectSeq, reason: `expected seq ${expectSeq}, found ${e.seq}` };
    if (e.prevHash !== expectPrev) return { seq: e.seq, reason: 'prevHash does not match the previous record' };
    if (hashEvent(e) !== e.hash) return { seq: e.seq, reason: 'hash does not match the record' };
    if (signingKey !== undefined && !checkSignature(e.hash, e.signature, signingKey)) {
      return { seq: e.seq, reason: 'signature does not match the hash' };
    }
    expectSeq = e.seq + 1;
    expectPrev = e.hash;
  }
  return undefined;
}
