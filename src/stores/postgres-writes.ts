import type { AuditEvent, AuditHead } from '../types.js';
import { indexEntries, uniqueKeys } from './indexing.js';
import { decodeJson, encodeJson, encodeText } from './postgres-codec.js';
import { type Change, type CommitConflict, createdAtOf } from './store.js';

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7000;

/** SQLSTATE of `oc_commit` when a write's condition fails (DETAIL `write:reason[:key]`). */
export const CONFLICT_SQLSTATE = 'OC409';
/** SQLSTATE of `oc_commit` when the audit head is not the one the records were sealed after (DETAIL `seq:hash`). */
export const STALE_HEAD_SQLSTATE = 'OC412';

/** The statement that applies a commit (see `oc_commit` in postgres-schema.ts), in schema `s` (quoted). */
export function commitSql(s: string): string {
  const params = Array.from({ length: 24 }, (_, i) => `$${i + 1}`).join(', ');
  return `SELECT ${s}.oc_commit(${params})`;
}

/** Changes sealed after a head, ready to be sent in one `oc_commit` call. */
export interface SealedBatch {
  params: unknown[];
  /** The sealed records of each change, in order. */
  events: AuditEvent[][];
  /** The head after the last record, or the head the batch was sealed after when it has none. */
  last: AuditHead | null;
}

/**
 * Seals the drafts of `changes` one after another after `head` and lays out every write, index row,
 * unique key, NOTIFY payload and record as the array parameters of `oc_commit`. The index rows and
 * unique keys of each write follow those of the write before, as `oc_commit` requires.
 */
export function sealBatch(changes: Change[], head: AuditHead | null, channel: string): SealedBatch {
  const kind: string[] = [];
  const id: string[] = [];
  const expected: Array<number | null> = [];
  const version: number[] = [];
  const created: string[] = [];
  const data: string[] = [];
  const ixW: number[] = [];
  const ixField: string[] = [];
  const ixValue: string[] = [];
  const uqW: number[] = [];
  const uqKey: string[] = [];
  const uqValue: string[] = [];
  const payloads = new Set<string>();
  let n = 0;
  const aId: string[] = [];
  const aEvent: string[] = [];
  const aEtype: string[] = [];
  const aEid: string[] = [];
  const aActor: Array<string | null> = [];
  const aTs: string[] = [];
  const aData: string[] = [];
  const events: AuditEvent[][] = [];
  let prev = head;
  for (const change of changes) {
    for (const w of change.writes) {
      n++;
      const encodedId = encodeText(w.entity.id);
      kind.push(w.kind);
      id.push(encodedId);
      expected.push(w.expectedVersion ?? null);
      version.push(w.entity.version);
      created.push(encodeText(createdAtOf(w.entity)));
      data.push(encodeJson(w.entity));
      // Each entry once: oc_commit inserts the entries of a new entity without looking for repeats.
      const entries = indexEntries(w.kind, w.entity);
      const seen = entries.length > 1 ? new Set<string>() : undefined;
      for (const [f, v] of entries) {
        if (seen !== undefined) {
          const key = `${f}\u001f${v}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        ixW.push(n);
        ixField.push(f);
        ixValue.push(encodeText(v));
      }
      for (const [k, v] of uniqueKeys(w.kind, w.entity)) {
        uqW.push(n);
        uqKey.push(encodeText(k));
        uqValue.push(encodeText(v));
      }
      const payload = `${w.kind}:${encodedId}`;
      if (Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES) payloads.add(payload);
    }
    const sealed: AuditEvent[] = [];
    for (const draft of change.audit) {
      const e = change.seal(draft, prev);
      prev = { seq: e.seq, hash: e.hash };
      sealed.push(e);
      aId.push(encodeText(e.id));
      aEvent.push(encodeText(e.eventType));
      aEtype.push(encodeText(e.entityType));
      aEid.push(encodeText(e.entityId));
      aActor.push(e.actorId === undefined ? null : encodeText(e.actorId));
      aTs.push(encodeText(e.timestamp));
      aData.push(encodeJson(e));
    }
    events.push(sealed);
  }
  const params = [
    kind,
    id,
    expected,
    version,
    created,
    data,
    ixW,
    ixField,
    ixValue,
    uqW,
    uqKey,
    uqValue,
    channel,
    [...payloads],
    head?.seq ?? 0,
    head?.hash ?? null,
    aId,
    aEvent,
    aEtype,
    aEid,
    aActor,
    aTs,
    aData,
    prev?.hash ?? null,
  ];
  return { params, events, last: prev };
}

/**
 * The records of a committed change as a read would return them (not objects shared with the
 * caller's drafts), or none when the caller said it does not need them.
 */
export function storedEvents(change: Change, sealed: AuditEvent[]): AuditEvent[] {
  if (change.quiet === true) return [];
  return sealed.map((e) => decodeJson<AuditEvent>(encodeJson(e)));
}

function fieldOf(err: unknown, name: 'code' | 'detail'): string | undefined {
  const v = (err as Record<string, unknown> | null)?.[name];
  return typeof v === 'string' ? v : undefined;
}

/** The failed condition an `oc_commit` error reports, with the index of its change; else undefined. */
export function conflictOf(err: unknown, changes: Change[]) {
  if (fieldOf(err, 'code') !== CONFLICT_SQLSTATE) return undefined;
  const detail = fieldOf(err, 'detail') ?? '';
  const [n, reason] = detail.split(':', 2);
  let index = Number(n) - 1;
  let c = 0;
  while (c < changes.length && index >= (changes[c] as Change).writes.length) {
    index -= (changes[c] as Change).writes.length;
    c++;
  }
  const w = changes[c]?.writes[index];
  if (w === undefined) return undefined;
  const conflict: CommitConflict = { kind: w.kind, id: w.entity.id, reason: reason as CommitConflict['reason'] };
  if (reason === 'unique') {
    // The key as the entity has it (the DETAIL holds it encoded).
    const rest = detail.slice(`${n}:unique:`.length);
    conflict.key = uniqueKeys(w.kind, w.entity).find(([k]) => encodeText(k) === rest)?.[0] ?? rest;
  }
  return { change: c, conflict };
}

/** The head an `oc_commit` error reports as the current one, when the records were sealed after another. */
export function staleHeadOf(err: unknown): AuditHead | null | undefined {
  if (fieldOf(err, 'code') !== STALE_HEAD_SQLSTATE) return undefined;
  const detail = fieldOf(err, 'detail') ?? '';
  const colon = detail.indexOf(':');
  const seq = Number(detail.slice(0, colon));
  return seq === 0 ? null : { seq, hash: detail.slice(colon + 1) };
}
