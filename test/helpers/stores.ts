import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/stores/memory.js';
import type { Store } from '../../src/stores/store.js';

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
