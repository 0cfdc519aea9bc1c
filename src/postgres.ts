/**
 * `orchestration-connector/postgres`: the PostgreSQL store. Needs the optional peer `pg` when
 * given a `connectionString`, or works on a PGlite instance you pass in.
 * @module
 */

export type { PostgresStoreOptions } from './stores/postgres.js';
export { PostgresStore } from './stores/postgres.js';
export type {
  PGliteLike,
  PGliteResultLike,
  PGliteTransactionLike,
  PgClientLike,
  PgNotificationLike,
  PgPoolLike,
} from './stores/postgres-runner.js';
