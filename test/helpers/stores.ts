import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSealer } from '../../src/audit/chain.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { Store } from '../../src/stores/store.js';
import { draftOf } from '../../src/testing/fixtures.js';
import type { AuditEvent } from '../../src/types.js';

let sharedPglite: Promise<import('@electric-sql/pglite').PGlite> | undefined;

function uniqueSchema(): string {
  return `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A store under test: `make()` gives a fresh, empty store; `cleanup()` removes what it left behind. */
export interface StoreUnderTest {
  name: string;
  make: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/**
 * Every store the suites run on: memory, a SQLite file, PGlite (in-process PostgreSQL), and a real
 * PostgreSQL server when DATABASE_URL is set. `STORES=memory,sqlite` narrows the list.
 */
export function storesUnderTest(): StoreUnderTest[] {
  const dirs: string[] = [];
  const schemas: Array<() => Promise<void>> = [];
  const all: StoreUnderTest[] = [
    { name: 'memory', make: async () => new MemoryStore(), cleanup: async () => {} },
    {
      name: 'sqlite',
      make: async () => {
        const { SqliteStore } = await import('../../src/stores/sqlite.js');
        const dir = mkdtempSync(join(tmpdir(), 'oc-sqlite-'));
        dirs.push(dir);
        return new SqliteStore({ filename: join(dir, 'test.db') }) as Store;
      },
      cleanup: async () => {
        for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
      },
    },
    {
      name: 'pglite',
      make: async () => {
        // One in-process database per test file; each store gets a schema of its own (start-up is ~1 s).
        sharedPglite ??= import('@electric-sql/pglite').then((m) => new m.PGlite());
        const { PostgresStore } = await import('../../src/stores/postgres.js');
        return new PostgresStore({ pglite: await sharedPglite, schema: uniqueSchema() }) as Store;
      },
      cleanup: async () => {},
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) {
    all.push({
      name: 'postgres',
      make: async () => {
        const { PostgresStore } = await import('../../src/stores/postgres.js');
        const schema = uniqueSchema();
        schemas.push(async () => {
          const pg = await import('pg');
          const client = new pg.default.Client({ connectionString: url });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await client.end();
        });
        return new PostgresStore({ connectionString: url, schema }) as Store;
      },
      cleanup: async () => {
        for (const drop of schemas.splice(0)) await drop().catch(() => {});
      },
    });
  }
  const only = process.env.STORES?.split(',').map((s) => s.trim());
  return only ? all.filter((s) => only.includes(s.name)) : all;
}

/**
 * A sealed chain of `count` records of a few types, entities, actors and timestamps one second apart
 * (for databases of older schema versions that tests write by hand).
 */
export function sealedChain(count: number): AuditEvent[] {
  const seal = createSealer();
  const out: AuditEvent[] = [];
  for (let i = 0; i < count; i++) {
    const last = out[out.length - 1];
    out.push(
      seal(
        draftOf({
          eventType: i % 3 === 0 ? 'actor_created' : 'policy_updated',
          entityType: i % 3 === 0 ? 'actor' : 'policy',
          entityId: `e${i % 4}`,
          ...(i % 2 === 0 ? { actorId: `actor_${i % 5}` } : {}),
          timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
        }),
        last === undefined ? null : { seq: last.seq, hash: last.hash },
      ),
    );
  }
  return out;
}
