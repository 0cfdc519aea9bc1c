import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SqliteStore, type SqliteStoreOptions } from '../../src/sqlite.js';

/**
 * Database files of one test file in a temporary folder (removed after all its tests), and the stores
 * and handles its tests open, closed after each test. Call at the top level of the test file.
 */
export function sqliteTestFiles(prefix: string) {
  let dir = '';
  let n = 0;
  /** Closed after each test, first to last. */
  const open: Array<{ close(): unknown }> = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    open,
    /** The folder (set once the tests start). */
    dir: () => dir,
    /** A path in the folder that no test used yet. */
    freshFile: (name = 'store') => join(dir, `${name}-${++n}.db`),
    /** A store on `filename`, initialised, closed after the test. */
    async openStore(filename: string, options: Omit<SqliteStoreOptions, 'filename'> = {}): Promise<SqliteStore> {
      const store = new SqliteStore({ filename, ...options });
      open.push(store);
      await store.init();
      return store;
    },
  };
}
