/**
 * Physical floors: the least work a cycle can be. Each is measured by the cycle's group, in turns
 * with the cycle itself (see `measureInterleaved`), so that both see the same machine.
 * - memory: a hand-written cycle with a Map insert, the status checks, and one SHA-256 per audit
 *   record (5), chained, and the handler call;
 * - SQLite: raw better-sqlite3 with the same 4 commits per cycle (`BEGIN IMMEDIATE`, one row written,
 *   the audit head read and its records appended, `COMMIT`), same WAL and `synchronous` setting;
 * - PostgreSQL and PGlite: the same 4 commits, each one statement (one round trip): the conditional
 *   row write, the head row locked, the records hashed in SQL and appended, the head moved.
 */
import * as crypto from 'node:crypto';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { sharedPglite, uniqueName } from '../lib/stores.js';
import { noopHandler } from './cycle.js';

const GENESIS = '0'.repeat(64);
const cryptoHash = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha256 = cryptoHash
  ? (s: string) => cryptoHash('sha256', s, 'hex')
  : (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** A floor, ready to measure: `opFor(n)` is the operation for `n` concurrent callers. */
export interface Floor {
  case: string;
  notes: string;
  opFor(callers: number): (i: number) => Promise<void>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------ memory

/** The minimal in-memory cycle: what any approval gate with a hash-chained trail must do. */
function minimalCycle(): (i: number) => Promise<void> {
  interface Row {
    id: string;
    status: string;
    params: Record<string, unknown>;
  }
  const rows = new Map<string, Row>();
  const trail: Array<{ seq: number; type: string; id: string; hash: string }> = [];
  let seq = 0;
  let head = GENESIS;
  const append = (type: string, id: string) => {
    seq++;
    head = sha256(`${head}|${seq}|${type}|${id}`);
    trail.push({ seq, type, id, hash: head });
  };
  return async (i: number) => {
    const id = `a${i}`;
    const row: Row = { id, status: 'pending', params: { n: i } };
    rows.set(id, row);
    append('proposed', id);
    const a = rows.get(id) as Row;
    if (a.status !== 'pending') throw new Error('not pending');
    a.status = 'approved';
    append('reviewed', id);
    append('approved', id);
    if (a.status !== 'approved') throw new Error('not approved');
    a.status = 'executing';
    append('executing', id);
    await noopHandler(a.params);
    a.status = 'executed';
    append('executed', id);
  };
}

/** The minimal in-memory cycle. */
export function memoryFloor(): Floor {
  const cycle = minimalCycle();
  return {
    case: 'floor.minimal-cycle',
    notes: 'Map insert, status checks, 5 chained SHA-256, handler call',
    opFor: () => cycle,
    close: async () => {},
  };
}

// ------------------------------------------------------------------ SQLite

/** Bytes of the store's rows: an entity row and an audit record row, on average (see `storeRowBytes`). */
export interface RowBytes {
  entity: number;
  audit: number;
}

/**
 * Raw better-sqlite3 with the store's journal mode and `synchronous`. With `rows`, the same SQL writes
 * rows of the store's own size (`floor.raw-sqlite-sized`, shown for comparison; the target's floor
 * writes ~30-byte rows): the action table is then keyed by an integer row id, as the store's entity
 * table is, so that its rows of ~1 KB stay on their leaf page (a WITHOUT ROWID table spills rows over
 * ~1,000 bytes to overflow pages, which the store's tables do not).
 */
export async function sqliteFloor(synchronous: 'FULL' | 'NORMAL', ctx: BenchContext, rows?: RowBytes): Promise<Floor> {
  const Database = (await import('better-sqlite3')).default;
  const sized = rows !== undefined;
  const db = new Database(join(ctx.tmpDir, `floor-${synchronous}${sized ? '-sized' : ''}-${process.pid}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(`
    CREATE TABLE action (id ${sized ? 'INTEGER' : 'TEXT'} PRIMARY KEY, status TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL)${sized ? '' : ' WITHOUT ROWID'};
    CREATE TABLE audit (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL);
  `);
  // Padding that brings each row (its text columns) to the store's size: about 40 characters of an
  // action row and 110 of an audit row (its id, 64 for the hash, the data's own members) are not padding.
  const pad = (bytes: number, used: number) => 'x'.repeat(Math.max(0, Math.round(bytes) - used));
  const entityPad = rows === undefined ? '' : pad(rows.entity, 40);
  const auditPad = rows === undefined ? '' : pad(rows.audit, 110);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const insert = db.prepare('INSERT INTO action (id, status, version, data) VALUES (?, ?, 1, ?)');
  // Sized: the row's data is rewritten too, as the store rewrites an entity's JSON.
  const update = db.prepare(
    `UPDATE action SET status = ?${sized ? ', data = ?' : ''}, version = version + 1 WHERE id = ? AND version = ?`,
  );
  const headStmt = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  const addAudit = db.prepare('INSERT INTO audit (seq, id, hash, data) VALUES (?, ?, ?, ?)');
  const appendAll = (id: string, types: string[]) => {
    const h = headStmt.get() as { seq: number; hash: string } | undefined;
    let seq = h?.seq ?? 0;
    let hash = h?.hash ?? GENESIS;
    for (const type of types) {
      seq++;
      const data = `{"type":"${type}","id":"${id}"${auditPad}}`;
      hash = sha256(hash + data);
      addAudit.run(seq, `e${seq}`, hash, data);
    }
  };
  const tx = (fn: () => void) => {
    begin.run();
    try {
      fn();
      commit.run();
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  };
  const move = (id: string | number, status: string, version: number, types: string[]) =>
    tx(() => {
      const args = sized ? [status, `{"status":"${status}"${entityPad}}`, id, version] : [status, id, version];
      if (update.run(...args).changes !== 1) throw new Error('conflict');
      appendAll(String(id), types);
    });
  let next = 0;
  const cycle = async (i: number) => {
    const n = next++;
    const id: string | number = sized ? n : `a${n}`;
    tx(() => {
      insert.run(id, 'pending', `{"n":${i}${entityPad}}`);
      appendAll(String(id), ['proposed']);
    });
    move(id, 'approved', 1, ['reviewed', 'approved']);
    move(id, 'executing', 2, ['executing']);
    await noopHandler({ n: i });
    move(id, 'executed', 3, ['executed']);
  };
  return {
    case: sized ? 'floor.raw-sqlite-sized' : 'floor.raw-sqlite',
    notes:
      `raw better-sqlite3, WAL, synchronous=${synchronous}, 4 commits and 5 chained records per cycle` +
      (rows === undefined
        ? ', rows of ~30 bytes'
        : `, rows of the store's size (entity ${Math.round(rows.entity)} B, audit record ${Math.round(rows.audit)} B)`),
    opFor: () => cycle,
    close: async () => {
      db.close();
    },
  };
}

// ------------------------------------------------------------------ PostgreSQL and PGlite

type Query = (text: string, params: unknown[]) => Promise<{ rows: unknown[] }>;

/**
 * One commit as one statement: the head row is locked, the row written (conditionally), `k` records
 * chained with sha256() in SQL and appended, and the head moved. Returns a row only when it applied.
 */
function commitSql(s: string, kind: 'insert' | 'update', k: number): string {
  const write =
    kind === 'insert'
      ? `INSERT INTO ${s}.action (id, status, version, data) VALUES ($1, $2, 1, $3::jsonb) RETURNING id`
      : `UPDATE ${s}.action SET status = $2, version = version + 1 WHERE id = $1 AND version = $3::int RETURNING id`;
  const steps: string[] = [];
  for (let j = 1; j <= k; j++) {
    const prev = j === 1 ? 'h' : `e${j - 1}`;
    const from = j === 1 ? 'h, w' : prev;
    steps.push(
      `e${j} AS (SELECT ${prev}.seq + 1 AS seq, ${prev}.hash AS prev, encode(sha256(convert_to(${prev}.hash || $${3 + j}, 'UTF8')), 'hex') AS hash, $${3 + j}::text AS data FROM ${from})`,
    );
  }
  const all = Array.from({ length: k }, (_, j) => `SELECT * FROM e${j + 1}`).join(' UNION ALL ');
  return `WITH h AS (SELECT seq, hash FROM ${s}.head WHERE singleton FOR UPDATE),
    w AS (${write}),
    ${steps.join(',\n    ')},
    i AS (INSERT INTO ${s}.audit (seq, id, prev_hash, hash, data)
          SELECT seq, 'e' || seq, prev, hash, data::jsonb FROM (${all}) x RETURNING seq, hash)
    UPDATE ${s}.head SET seq = m.seq, hash = m.hash
      FROM (SELECT seq, hash FROM i ORDER BY seq DESC LIMIT 1) m WHERE singleton RETURNING head.seq`;
}

async function setUpPgFloor(run: Query, s: string): Promise<void> {
  for (const stmt of [
    `CREATE SCHEMA ${s}`,
    `CREATE TABLE ${s}.action (id text COLLATE "C" PRIMARY KEY, status text NOT NULL, version int NOT NULL, data jsonb NOT NULL)`,
    `CREATE TABLE ${s}.audit (seq bigint PRIMARY KEY, id text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL, data jsonb NOT NULL)`,
    `CREATE TABLE ${s}.head (singleton boolean PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL)`,
    `INSERT INTO ${s}.head VALUES (true, 0, '${GENESIS}')`,
  ])
    await run(stmt, []);
}

/** A cycle on one connection: 4 one-statement commits and the handler call. */
function pgCycle(s: string, tag: string): (run: Query, i: number) => Promise<void> {
  const insert = commitSql(s, 'insert', 1);
  const update1 = commitSql(s, 'update', 1);
  const update2 = commitSql(s, 'update', 2);
  let next = 0;
  const rec = (type: string, id: string) => `{"type":"${type}","id":"${id}"}`;
  const must = async (p: Promise<{ rows: unknown[] }>) => {
    if ((await p).rows.length !== 1) throw new Error('conflict');
  };
  return async (run, i) => {
    const id = `${tag}_${next++}`;
    await must(run(insert, [id, 'pending', `{"n":${i}}`, rec('proposed', id)]));
    await must(run(update2, [id, 'approved', 1, rec('reviewed', id), rec('approved', id)]));
    await must(run(update1, [id, 'executing', 2, rec('executing', id)]));
    await noopHandler({ n: i });
    await must(run(update1, [id, 'executed', 3, rec('executed', id)]));
  };
}

/** The same commits on the worker's PGlite. */
export async function pgliteFloor(): Promise<Floor> {
  const db = await sharedPglite();
  const run: Query = (text, params) => db.query(text, params);
  const s = uniqueName('bench_floor');
  await setUpPgFloor(run, s);
  const cycle = pgCycle(s, 'a');
  return {
    case: 'floor.raw-pglite',
    notes: 'raw PGlite (in-memory), 4 one-statement commits with 5 records hashed in SQL per cycle',
    opFor: () => (i) => cycle(run, i),
    close: async () => {
      await run(`DROP SCHEMA ${s} CASCADE`, []);
    },
  };
}

/** The same commits on the PostgreSQL server, one connection per caller (up to 8). */
export async function postgresFloor(ctx: BenchContext): Promise<Floor> {
  const url = ctx.databaseUrl as string;
  const pg = (await import('pg')).default;
  const s = uniqueName('bench_floor');
  const clients = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const [admin] = clients as [InstanceType<typeof pg.Client>];
  await setUpPgFloor((t, p) => admin.query(t, p), s);
  let generation = 0;
  return {
    case: 'floor.raw-pg',
    notes: 'raw pg, one connection per caller, 4 one-statement commits with 5 records hashed in SQL per cycle',
    opFor: (n) => {
      generation++;
      const cycles = clients.slice(0, n).map((c, k) => {
        const cycle = pgCycle(s, `g${generation}_${k}`);
        const run: Query = (text, params) => c.query(text, params);
        return (i: number) => cycle(run, i);
      });
      const busy = new Set<number>();
      let turn = 0;
      return async (i: number) => {
        // Hand each operation to a connection that is not busy (there are as many as callers).
        let k = turn++ % n;
        while (busy.has(k)) k = (k + 1) % n;
        busy.add(k);
        try {
          await (cycles[k] as (i: number) => Promise<void>)(i);
        } finally {
          busy.delete(k);
        }
      };
    },
    close: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}
