import { describe, expect, it } from 'vitest';
import { createSealer, findChainBreak, isOwnSealer } from '../../src/audit/chain.js';
import { AuditLog } from '../../src/stores/audit-log.js';
import type { AuditDraft } from '../../src/stores/store.js';
import type { AuditEvent } from '../../src/types.js';

const seal = createSealer();

function draft(n: number, extra: Partial<AuditDraft> = {}): AuditDraft {
  return {
    id: `evt_${String(n).padStart(8, '0')}`,
    eventType: n % 2 === 0 ? 'action_proposed' : 'action_approved',
    entityType: 'action',
    entityId: `action_${n % 7}`,
    ...(n % 3 === 0 ? {} : { actorId: `actor_${n % 4}` }),
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, n)).toISOString(),
    details: { n, nested: { list: [n, 'x', null, true] } },
    ...extra,
  };
}

/** Appends `count` sealed records, returning what the sealer made (the records as they should read back). */
function fill(log: AuditLog, count: number, from = 0, sealer = seal, sealedHere = false): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = from; i < from + count; i++) {
    const e = sealer(draft(i), log.head());
    log.push(e, sealedHere);
    out.push(structuredClone(e));
  }
  return out;
}

function all(log: AuditLog): AuditEvent[] {
  return Array.from({ length: log.length }, (_, i) => log.at(i));
}

describe('AuditLog (memory store audit columns)', () => {
  it("reads back exactly what the connector's own sealer made, unchecked, with and without signatures", () => {
    for (const sealer of [seal, createSealer('key')]) {
      expect(isOwnSealer(sealer)).toBe(true);
      const log = new AuditLog();
      const sealed = fill(log, 300, 0, sealer, true);
      expect(all(log)).toStrictEqual(sealed);
      expect(findChainBreak(all(log), null, sealer === seal ? undefined : 'key')).toBeUndefined();
    }
    const wrapped: typeof seal = (d, prev) => seal(d, prev);
    expect(isOwnSealer(wrapped)).toBe(false);
  });

  it('reads back exactly what was sealed, past several growths of its columns', () => {
    const log = new AuditLog();
    const sealed = fill(log, 700);
    expect(all(log)).toStrictEqual(sealed);
    expect(log.head()).toEqual({ seq: 700, hash: sealed[699]?.hash });
    expect(findChainBreak(all(log), null)).toBeUndefined();
    expect(log.idAt(5)).toBe(sealed[5]?.id);
    expect(log.timestampAt(5)).toBe(sealed[5]?.timestamp);
    expect(log.actorIdAt(3)).toBeUndefined();
    expect(log.actorIdAt(4)).toBe('actor_0');
  });

  it('keeps signatures, and hands out copies that do not reach the stored records', () => {
    const log = new AuditLog();
    const sealed = fill(log, 20, 0, createSealer('a-signing-key-of-some-length'));
    const read = log.at(4);
    expect(read).toStrictEqual(sealed[4]);
    (read.details.nested as { list: unknown[] }).list.push('mutated');
    read.hash = 'f'.repeat(64);
    expect(log.at(4)).toStrictEqual(sealed[4]);
    expect(log.head()).toEqual({ seq: 20, hash: sealed[19]?.hash, signature: sealed[19]?.signature });
  });

  it('keeps a copy of the details it is given', () => {
    const log = new AuditLog();
    const e = seal(draft(1), null);
    log.push(e);
    (e.details.nested as { list: unknown[] }).list.length = 0;
    expect((log.at(0).details.nested as { list: unknown[] }).list).toEqual([1, 'x', null, true]);
  });

  it('switches to plain objects for a record the columns cannot hold exactly, and loses nothing', () => {
    for (const odd of [
      (e: AuditEvent) => Object.assign(e, { extra: 'member' }), // an unknown member
      (e: AuditEvent) => Object.assign(e, { hash: e.hash.toUpperCase() }), // a hash not in lowercase hex
      (e: AuditEvent) => Object.assign(e, { actorId: undefined }), // an own member holding undefined
      (e: AuditEvent) => Object.assign(e, { seq: e.seq + 5 }), // a seq out of line
    ]) {
      const log = new AuditLog();
      const before = fill(log, 10);
      const e = odd(seal(draft(10), log.head()));
      log.push(e);
      const after = fill(log, 5, 11);
      expect(all(log)).toStrictEqual([...before, structuredClone(e), ...after]);
    }
  });

  it('unsafeRecords hands out the stored records themselves, for tamper tests', () => {
    const log = new AuditLog();
    fill(log, 5);
    const records = log.unsafeRecords();
    (records[2] as AuditEvent).details = { changed: true };
    expect(log.at(2).details).toEqual({ changed: true });
    expect(findChainBreak(all(log), null)?.seq).toBe(3);
    records.pop();
    expect(log.length).toBe(4);
  });
});
