/**
 * `orchestration-connector/sqlite`: the SQLite store. Needs the optional peer `better-sqlite3`,
 * which only this entry loads.
 * @module
 */

export type { SqliteStoreOptions } from './stores/sqlite.js';
export { SqliteStore } from './stores/sqlite.js';
