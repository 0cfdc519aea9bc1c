import { join } from 'node:path';
import type { Store } from '../../src/stores/store.js';
import type { BenchContext } from './context.js';

/** The stores every store-level case runs on. */
export type StoreKind = 'memory' | 'sqlite-full' | 'sqlite-normal' | 'pglite' | 'postgres';

/** A store opened for a case, with what it takes to clean up after it. */
export interface OpenedStore {
  kind: StoreKind;
  store: Store;
  /** Runs raw SQL on the store's database (PGlite and PostgreSQL only). */
  sql?: (text: string, params?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }>;
  /** The PostgreSQL schema the store lives in (PGlite and PostgreSQL only). */
  schema?: string;
  /** The database file (SQLite only). */
  filename?: string;
  /** Called after the connector closed the store. */
  dispose(): Promise<void>;
  notes: string;
}

let counter = 0;
let pglite: Promise<import('@electric-sql/pglite').PGlite> | undefined;

/**
 * One in-process PGlite per worker (starting one takes seconds); every user works in a schema of its
 * own. Closed when the worker exits.
 */
export function sharedPglite(): Promise<import('@electric-sql/pglite').PGlite> {
  pglite ??= import('@electric-sql/pglite').then((m) => new m.PGlite());
  return pglite;
}
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/** Opens a fresh, empty store of `kind`. */
export async function openStore(kind: StoreKind, ctx: BenchContext): Promise<OpenedStore> {
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await import('../../src/stores/memory.js');
      return { kind, store: new MemoryStore(), dispose: async () => {}, notes: 'MemoryStore' };
    }
    case 'sqlite-full':
    case 'sqlite-normal': {
      const { SqliteStore } = await import('../../src/stores/sqlite.js');
      const synchronous = kind === 'sqlite-full' ? 'FULL' : 'NORMAL';
      const filename = join(ctx.tmpDir, `${uniqueName(kind)}.db`);
      return {
        kind,
        store: new SqliteStore({ filename, synchronous }) as Store,
        filename,
        dispose: async () => {},
        notes: `SqliteStore, file in ${ctx.tmpDir}, WAL, synchronous=${synchronous}`,
      };
    }
    case 'pglite': {
      const { PostgresStore } = await import('../../src/stores/postgres.js');
      const db = await sharedPglite();
      const schema = uniqueName('bench');
      return {
        kind,
        store: new PostgresStore({ pglite: db, schema }) as Store,
        sql: async (text, params) => (await db.query(text, params)) as { rows: Array<Record<string, unknown>> },
        schema,
        dispose: async () => {
          await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        },
        notes: 'PostgresStore on PGlite (in-process, in-memory)',
      };
    }
    case 'postgres': {
      const url = ctx.databaseUrl;
      if (url === undefined) throw new Error('DATABASE_URL is not set');
      const { PostgresStore } = await import('../../src/stores/postgres.js');
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const schema = uniqueName('bench');
      return {
        kind,
        store: new PostgresStore({ connectionString: url, schema }) as Store,
        sql: async (text, params) => (await admin.query(text, params)) as { rows: Array<Record<string, unknown>> },
        schema,
        dispose: async () => {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
          await admin.end();
        },
        notes: 'PostgresStore on the PostgreSQL server of DATABASE_URL (pg Pool)',
      };
    }
  }
}

/** The stores measured in this run: PostgreSQL only with DATABASE_URL. */
export function storeKinds(ctx: Pick<BenchContext, 'databaseUrl'>): StoreKind[] {
  const kinds: StoreKind[] = ['memory', 'sqlite-full', 'sqlite-normal', 'pglite'];
  if (ctx.databaseUrl !== undefined) kinds.push('postgres');
  return kinds;
}
