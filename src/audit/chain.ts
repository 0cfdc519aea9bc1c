import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditDraft, AuditSealer } from '../stores/store.js';
import type { AuditEvent, AuditHead } from '../types.js';
import { canonicalJson } from './canonical.js';

/** `prevHash` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** SHA-256 (hex) of the canonical JSON of `value`. */
export function sha256Canonical(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** The hash of a record: SHA-256 of its canonical JSON without `hash` and `signature` (so it covers `prevHash`). */
export function hashEvent(e: Omit<AuditEvent, 'hash' | 'signature'> & { hash?: string; signature?: string }): string {
  const { hash: _h, signature: _s, ...body } = e;
  return sha256Canonical(body);
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
    const body: Omit<AuditEvent, 'hash' | 'signature'> = {
      id: draft.id,
      seq: prev ? prev.seq + 1 : 1,
      eventType: draft.eventType,
      entityType: draft.entityType,
      entityId: draft.entityId,
      ...(draft.actorId !== undefined ? { actorId: draft.actorId } : {}),
      timestamp: draft.timestamp,
      details: draft.details,
      prevHash: prev ? prev.hash : GENESIS_HASH,
    };
    const hash = sha256Canonical(body);
    const event: AuditEvent = { ...body, hash };
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
