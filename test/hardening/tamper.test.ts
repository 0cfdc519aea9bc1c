import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer, hashEvent, signHash } from '../../src/audit/chain.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { AuditDraft, Store } from '../../src/stores/store.js';
import type { AuditEvent, AuditEventType, AuditHead } from '../../src/types.js';
import { newId } from '../../src/util/ids.js';
import { storesUnderTest } from '../helpers/stores.js';

const KEY = 'tamper-test-signing-key-0123456789';
const N = 10_000;
const BATCH = 500;

/**
 * Direct access to the stored audit records, as someone with database access has it: the same
 * rows the store reads, changed behind its back.
 */
interface RawTrail {
  store: Store;
  read(seq: number): Promise<AuditEvent>;
  /** Replaces the record stored at `seq` (the row keeps its place). */
  write(seq: number, event: AuditEvent): Promise<void>;
  /** Deletes the record at `seq`; later records keep their seq. */
  remove(seq: number): Promise<void>;
  /** Puts a removed record back at its seq. */
  putBack(event: AuditEvent): Promise<void>;
  /** Inserts `event` at `seq`, moving every later row one place up (their data unchanged). */
  insertAt(seq: number, event: AuditEvent): Promise<void>;
  /** Undoes {@link insertAt}. */
  removeAt(seq: number): Promise<void>;
  /** Deletes every record from `seq` on and returns them. */
  truncateFrom(seq: number): Promise<AuditEvent[]>;
  close(): Promise<void>;
}

type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** SQL tampering, shared by SQLite and PostgreSQL: `t` is the audit table, `p(n)` the n-th placeholder. */
function sqlTrail(
  store: Store,
  q: Query,
  t: string,
  p: (n: number) => string,
  json: string,
  close: () => Promise<void>,
) {
  const row = (e: AuditEvent) => [
    e.seq,
    e.id,
    e.eventType,
    e.entityType,
    e.entityId,
    e.actorId ?? null,
    e.timestamp,
    JSON.stringify(e),
  ];
  const insert = (seq: number, e: AuditEvent) => {
    const values = row(e);
    values[0] = seq;
    return q(
      `INSERT INTO ${t} (seq, id, event_type, entity_type, entity_id, actor_id, "timestamp", data)
       VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}${json})`,
      values,
    );
  };
  // Shifting a primary key by one in place would collide row by row: go through negative numbers.
  const shift = async (from: number, by: number) => {
    await q(`UPDATE ${t} SET seq = -(seq + ${p(1)}) WHERE seq >= ${p(2)}`, [by, from]);
    await q(`UPDATE ${t} SET seq = -seq WHERE seq < 0`);
  };
  const raw: RawTrail = {
    store,
    read: async (seq) => {
      const rows = await q(`SELECT data AS data FROM ${t} WHERE seq = ${p(1)}`, [seq]);
      const data = rows[0]?.data;
      return (typeof data === 'string' ? JSON.parse(data) : data) as AuditEvent;
    },
    write: async (seq, e) => {
      await q(`UPDATE ${t} SET data = ${p(1)}${json} WHERE seq = ${p(2)}`, [JSON.stringify(e), seq]);
    },
    remove: async (seq) => {
      await q(`DELETE FROM ${t} WHERE seq = ${p(1)}`, [seq]);
    },
    putBack: async (e) => {
      await insert(e.seq, e);
    },
    insertAt: async (seq, e) => {
      await shift(seq, 1);
      await insert(seq, e);
    },
    removeAt: async (seq) => {
      await q(`DELETE FROM ${t} WHERE seq = ${p(1)}`, [seq]);
      await shift(seq + 1, -1);
    },
    truncateFrom: async (seq) => {
      const rows = await q(`SELECT data AS data FROM ${t} WHERE seq >= ${p(1)} ORDER BY seq`, [seq]);
      await q(`DELETE FROM ${t} WHERE seq >= ${p(1)}`, [seq]);
      return rows.map((r) => (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as AuditEvent);
    },
    close,
  };
  return raw;
}

/** Opens a store of kind `name` together with raw access to its audit records. */
async function openRaw(name: string): Promise<RawTrail> {
  if (name === 'memory') {
    const store = new MemoryStore();
    const records = store.unsafeAuditRecords();
    return {
      store,
      read: async (seq) => structuredClone(records[seq - 1] as AuditEvent),
      write: async (seq, e) => {
        records[seq - 1] = e;
      },
      remove: async (seq) => {
        records.splice(seq - 1, 1);
      },
      putBack: async (e) => {
        records.splice(e.seq - 1, 0, e);
      },
      insertAt: async (seq, e) => {
        records.splice(seq - 1, 0, e);
      },
      removeAt: async (seq) => {
        records.splice(seq - 1, 1);
      },
      truncateFrom: async (seq) => records.splice(seq - 1),
      close: async () => {},
    };
  }
  if (name === 'sqlite') {
    const { SqliteStore } = await import('../../src/stores/sqlite.js');
    const dir = mkdtempSync(join(tmpdir(), 'oc-tamper-'));
    const file = join(dir, 'audit.db');
    const store = new SqliteStore({ filename: file, synchronous: 'NORMAL' });
    await store.init();
    const db = new Database(file); // a second connection: what anyone with the file can do
    db.pragma('busy_timeout = 5000');
    const q: Query = async (sql, params = []) => {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...params) as Array<Record<string, unknown>>;
      stmt.run(...params);
      return [];
    };
    return sqlTrail(
      store,
      q,
      'oc_audit',
      () => '?',
      '',
      async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    );
  }
  const { PostgresStore } = await import('../../src/stores/postgres.js');
  const schema = `tamper_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  if (name === 'pglite') {
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = new PGlite();
    const store = new PostgresStore({ pglite, schema });
    await store.init();
    const q: Query = async (sql, params) => (await pglite.query<Record<string, unknown>>(sql, params)).rows;
    return sqlTrail(
      store,
      q,
      `${schema}.oc_audit`,
      (n) => `$${n}`,
      '::jsonb',
      async () => {
        await pglite.close();
      },
    );
  }
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  const store = new PostgresStore({ pool, schema });
  await store.init();
  const q: Query = async (sql, params) => (await pool.query(sql, params)).rows;
  return sqlTrail(
    store,
    q,
    `${schema}.oc_audit`,
    (n) => `$${n}`,
    '::jsonb',
    async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  );
}

const TYPES: AuditEventType[] = ['action_proposed', 'proposal_reviewed', 'action_approved', 'action_executed'];

function draft(n: number): AuditDraft {
  return {
    id: newId('evt'),
    eventType: TYPES[n % TYPES.length] as AuditEventType,
    entityType: 'action',
    entityId: `action_${n}`,
    actorId: `agent_${n % 7}`,
    timestamp: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    details: { n, note: `record number ${n}`, nested: { list: [n, 'x', null], flag: n % 2 === 0 } },
  };
}

/** Commits `count` records straight through the store, sealed (and signed) as the connector seals them. */
async function buildTrail(store: Store, count: number): Promise<void> {
  const seal = createSealer(KEY);
  for (let from = 0; from < count; from += BATCH) {
    const drafts = Array.from({ length: Math.min(BATCH, count - from) }, (_, i) => draft(from + i));
    const r = await store.commit({ writes: [], audit: drafts, seal });
    if (!r.ok) throw new Error('could not build the trail');
  }
}

/** `text` with the lowest bit of one character flipped. */
function flipChar(text: string, at: number): string {
  const i = Math.min(Math.max(0, at), text.length - 1);
  return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 1) + text.slice(i + 1);
}

const FIELDS = [
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
] as const;
type Field = (typeof FIELDS)[number];

/** A copy of `e` with one bit of `field` flipped (`at` picks the character or bit). */
function flipBit(e: AuditEvent, field: Field, at: number): AuditEvent {
  const out = structuredClone(e);
  switch (field) {
    case 'seq':
      out.seq = e.seq ^ (1 << (at % 14));
      break;
    case 'details':
      (out.details as { note: string }).note = flipChar((e.details as { note: string }).note, at);
      break;
    default:
      (out as unknown as Record<string, string>)[field] = flipChar(String(e[field]), at % String(e[field]).length);
  }
  return out;
}

/**
 * A seq in [2, 4900] picked by `n`. Verification reads the trail in pages of 5000 and stops at the
 * first bad record, so tampering in the first page keeps these tests quick; the later cases cover the tail.
 */
const middleSeq = (n: number) => 2 + ((n * 7919) % 4899);

for (const { name } of storesUnderTest()) {
  describe(`tamper evidence - ${name} store, ${N.toLocaleString('en')} records`, () => {
    let raw: RawTrail;
    /** Checks signatures: the configuration the guarantees are made for. */
    let signed: OrchestrationConnector;
    /** The bare hash chain, without a key. */
    let bare: OrchestrationConnector;
    let head: AuditHead;

    beforeAll(async () => {
      raw = await openRaw(name);
      await buildTrail(raw.store, N);
      signed = new OrchestrationConnector({ store: raw.store, audit: { signingKey: KEY } });
      bare = new OrchestrationConnector({ store: raw.store });
      head = await signed.getAuditHead();
    }, 120_000);

    afterAll(async () => {
      await signed?.close();
      await bare?.close();
      await raw?.close();
    });

    /** The whole trail verifies, signatures and saved head included. */
    async function expectIntact(): Promise<void> {
      expect(await signed.verifyAuditTrail({ head })).toEqual({ valid: true, count: N });
    }

    it('verifies the untouched trail; getAuditHead gives seq, hash and the HMAC of the hash', async () => {
      expect(head).toEqual({
        seq: N,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        signature: signHash(head.hash, KEY),
      });
      await expectIntact();
      expect(await bare.verifyAuditTrail({ head })).toEqual({ valid: true, count: N });
    });

    it('a flipped bit in any field is caught at its seq', async () => {
      for (const [n, field] of FIELDS.entries()) {
        const seq = middleSeq(n + 1);
        const original = await raw.read(seq);
        await raw.write(seq, flipBit(original, field, n * 5 + 3));
        const r = await signed.verifyAuditTrail();
        expect({ field, ...r }).toMatchObject({ field, valid: false, firstInvalidSeq: seq });
        await raw.write(seq, original);
      }
    }, 120_000);

    if (name === 'memory') {
      it('a flipped bit anywhere (random field, record and bit) is caught at its seq', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...FIELDS),
            fc.integer({ min: 1, max: N }), // anywhere, the first and the last record too
            fc.nat(),
            async (field, seq, at) => {
              const original = await raw.read(seq);
              await raw.write(seq, flipBit(original, field, at));
              try {
                expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: seq });
              } finally {
                await raw.write(seq, original);
              }
            },
          ),
          { numRuns: 10 },
        );
      });
    }

    it('a reordered pair is caught at the first of the two', async () => {
      const k = middleSeq(101);
      const [a, b] = [await raw.read(k), await raw.read(k + 1)];
      await raw.write(k, b);
      await raw.write(k + 1, a);
      expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k });
      expect(await bare.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k });
      await raw.write(k, a);
      await raw.write(k + 1, b);
    });

    it('a deleted middle record is caught at its seq', async () => {
      const k = middleSeq(202);
      const gone = await raw.read(k);
      await raw.remove(k);
      expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k });
      expect(await bare.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k });
      await raw.putBack(gone);
    });

    it('an inserted forged record is caught at its seq by its signature', async () => {
      const k = middleSeq(303);
      const before = await raw.read(k);
      // The forger chains the record correctly; without the key the signature cannot be right.
      const body = { ...draft(k), seq: k + 1, prevHash: before.hash, details: { forged: true } };
      const hash = hashEvent(body);
      const forged: AuditEvent = { ...body, hash, signature: signHash(hash, 'a-guessed-key-that-is-not-it') };
      await raw.insertAt(k + 1, forged);
      expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k + 1 });
      // The bare chain accepts the forgery itself and trips over the record after it.
      expect(await bare.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k + 2 });
      await raw.removeAt(k + 1);
    });

    it('a forged record with every later hash recomputed: the bare chain misses it, the signature and the saved head catch it', async () => {
      const k = N - 300;
      const originals: AuditEvent[] = [];
      let prev = (await raw.read(k - 1)).hash;
      for (let seq = k; seq <= N; seq++) {
        const e = await raw.read(seq);
        originals.push(e);
        const body = {
          ...e,
          prevHash: prev,
          ...(seq === k ? { details: { ...e.details, note: 'approved by the CFO' } } : {}),
        };
        delete (body as Partial<AuditEvent>).hash;
        const hash = hashEvent(body);
        // Old signatures are kept (the forger cannot make new ones); dropping them is caught the same way.
        await raw.write(seq, { ...body, hash } as AuditEvent);
        prev = hash;
      }
      // The chain alone is consistent again: verification without a key or a saved head is fooled.
      expect(await bare.verifyAuditTrail()).toEqual({ valid: true, count: N });
      // The signature of the forged record no longer matches its hash.
      expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: k });
      // The head saved outside the store no longer matches the last record.
      expect(await bare.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: N });
      for (const e of originals) await raw.write(e.seq, e);
    }, 120_000);

    it('a truncated tail: the chain alone misses it, the saved head catches it', async () => {
      const cut = await raw.truncateFrom(N - 9);
      expect(await bare.verifyAuditTrail()).toEqual({ valid: true, count: N - 10 });
      expect(await signed.verifyAuditTrail()).toEqual({ valid: true, count: N - 10 });
      expect(await signed.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: N - 9 });
      expect(await bare.verifyAuditTrail({ head })).toMatchObject({ valid: false, firstInvalidSeq: N - 9 });
      for (const e of cut) await raw.putBack(e);
    });

    it('an appended forged record is caught by its signature (a saved head accepts later records by design)', async () => {
      const last = await raw.read(N);
      const body = { ...draft(N), seq: N + 1, prevHash: last.hash };
      const forged: AuditEvent = { ...body, hash: hashEvent(body) };
      await raw.putBack(forged);
      expect(await signed.verifyAuditTrail()).toMatchObject({ valid: false, firstInvalidSeq: N + 1 });
      expect(await bare.verifyAuditTrail({ head })).toEqual({ valid: true, count: N + 1 });
      await raw.truncateFrom(N + 1);
    });

    it('every tampering above was undone exactly: the trail verifies again against the saved head', async () => {
      await expectIntact();
    });

    it('a saved head with a forged signature or hash is refused', async () => {
      expect(await signed.verifyAuditTrail({ head: { ...head, signature: 'f'.repeat(64) } })).toMatchObject({
        valid: false,
        firstInvalidSeq: N,
      });
      expect(await signed.verifyAuditTrail({ head: { seq: N, hash: 'e'.repeat(64) } })).toMatchObject({
        valid: false,
        firstInvalidSeq: N,
      });
    });
  });
}
