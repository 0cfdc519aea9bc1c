import { createHash } from 'node:crypto';
import { OrchestrationError } from '../errors.js';

/** A NOTIFY message as `pg` delivers it. */
export interface PgNotificationLike {
  channel: string;
  payload?: string;
}

/**
 * A statement `pg` prepares once per connection under `name`, then only binds and runs: the store
 * names the statements it sends on every call (entity reads, commits).
 */
export interface PgQueryConfig {
  name: string;
  text: string;
  values?: unknown[];
}

/**
 * The smallest part of a `pg` pool client the store uses. A `PoolClient` of `pg` 8 satisfies it.
 */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  query(config: PgQueryConfig): Promise<{ rows: unknown[]; rowCount: number | null }>;
  /** Returns the client to its pool; with an error (or `true`) the pool destroys it. */
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'notification', listener: (message: PgNotificationLike) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'notification', listener: (message: PgNotificationLike) => void): unknown;
}

/** The smallest part of a `pg` `Pool` the store uses. A `Pool` of `pg` 8 satisfies it. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  query(config: PgQueryConfig): Promise<{ rows: unknown[]; rowCount: number | null }>;
  end(): Promise<void>;
}

/** Result of a PGlite query, as far as the store reads it. */
export interface PGliteResultLike {
  rows: unknown[];
  affectedRows?: number;
  rowCount?: number;
}

/** The part of a PGlite transaction the store uses. */
export interface PGliteTransactionLike {
  query(text: string, params?: unknown[]): Promise<PGliteResultLike>;
}

/** The part of a `PGlite` (or `PGliteWorker`) instance the store uses. */
export interface PGliteLike extends PGliteTransactionLike {
  transaction<T>(callback: (tx: PGliteTransactionLike) => Promise<T>): Promise<T>;
  listen?(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  readonly dataDir?: string;
}

/** A result row. */
export type Row = Record<string, unknown>;

/** What a statement returned: rows, and the rows it changed (INSERT/UPDATE/DELETE). */
export interface SqlResult {
  rows: Row[];
  rowCount: number;
}

/** Runs one statement. */
export interface Sql {
  /** `prepared`: a statement sent on every call, worth preparing once per connection (with `pg`). */
  query(text: string, params?: unknown[], prepared?: boolean): Promise<SqlResult>;
}

/** The same SQL on a `pg` pool or on PGlite. */
export interface SqlRunner extends Sql {
  /**
   * Runs one statement as a transaction of its own (one round trip). When the connection is lost
   * while it runs, the error says that it may or may not have committed.
   */
  commitStatement(text: string, params: unknown[]): Promise<SqlResult>;
  /** Runs `fn` in a transaction: COMMIT when it returns, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** LISTENs on `channel` until the returned function is called. `onLost`: the connection died. */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onLost: (err: Error) => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Thrown inside {@link SqlRunner.transaction} to roll back and hand `value` to the caller. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** COMMIT was sent but the connection died before its answer: the transaction may have committed. */
class CommitOutcomeUnknown extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

const IDLE_IN_TRANSACTION_TIMEOUT = '60s';
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53200', '53300']);
const RETRYABLE_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const CONNECTION_MESSAGES =
  /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server closed the connection/i;

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `err` means the connection is gone (the client must be destroyed, not reused). */
export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined) {
    return code.startsWith('08') || code.startsWith('57P') || RETRYABLE_NODE_CODES.has(code);
  }
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message);
}

/**
 * The error a store method throws for `err`: an {@link OrchestrationError} passes through, anything
 * else becomes `STORE_ERROR` with `details.retryable` (and `details.outcomeUnknown` when a COMMIT
 * may or may not have been applied). Raw driver errors never leave the store; they stay as `cause`.
 * `advice` replaces the default sentence that says what to do.
 */
export function toStoreError(operation: string, err: unknown, advice?: string): OrchestrationError {
  if (err instanceof OrchestrationError) return err;
  const outcomeUnknown = err instanceof CommitOutcomeUnknown;
  const original = outcomeUnknown ? err.original : err;
  const code = codeOf(original);
  const retryable =
    outcomeUnknown || isConnectionError(original) || (code !== undefined && RETRYABLE_SQLSTATES.has(code));
  const reason = original instanceof Error ? original.message : String(original);
  const what =
    advice ??
    (outcomeUnknown
      ? 'The connection was lost during COMMIT, so the change may or may not be stored: read the entity before retrying.'
      : retryable
        ? 'The connection was lost or the server aborted the transaction; nothing was written. Retry the call.'
        : 'Check that the database is reachable and that the store schema was not changed by hand.');
  return new OrchestrationError(
    'STORE_ERROR',
    `PostgreSQL store: ${operation} failed: ${reason}${code ? ` (${code})` : ''}. ${what}`,
    {
      retryable,
      operation,
      ...(code !== undefined ? { causeCode: code } : {}),
      ...(outcomeUnknown ? { outcomeUnknown } : {}),
    },
    { cause: original },
  );
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const statementNames = new Map<string, string>();

/** `text` as `pg` sends it: under a name derived from the text when it is to be prepared. */
function statement(text: string, params: unknown[] | undefined, prepared: boolean | undefined): PgQueryConfig {
  if (prepared !== true) return { name: '', text, values: params ?? [] };
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `oc_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size < 1000) statementNames.set(text, name);
  }
  return { name, text, values: params ?? [] };
}

/** Runs a statement on a `pg` pool or client, prepared when asked. */
function send(
  target: Pick<PgClientLike, 'query'>,
  text: string,
  params: unknown[] | undefined,
  prepared: boolean | undefined,
) {
  return prepared === true ? target.query(statement(text, params, prepared)) : target.query(text, params);
}

/** Runs SQL on a `pg` pool. Transaction clients whose connection died are released as broken. */
export class PgRunner implements SqlRunner {
  constructor(
    private readonly pool: PgPoolLike,
    private readonly ownsPool: boolean,
  ) {}

  async query(text: string, params?: unknown[], prepared?: boolean): Promise<SqlResult> {
    const r = await send(this.pool, text, params, prepared);
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
  }

  async commitStatement(text: string, params: unknown[]): Promise<SqlResult> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on('error', onError);
    try {
      const r = await send(client, text, params, true);
      return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
    } catch (err) {
      // An error the server answered (it has a severity) means the statement was rolled back; a
      // connection that died while it ran leaves the outcome unknown.
      const answered = typeof (err as { severity?: unknown } | null)?.severity === 'string';
      if (broken === undefined && isConnectionError(err)) broken = asError(err);
      if (broken !== undefined && !answered) throw new CommitOutcomeUnknown(err);
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // Without a listener, a connection lost between two statements would be an uncaught 'error' event.
    const onError = (err: Error) => {
      broken ??= err;
    };
    client.on('error', onError);
    const tx: Sql = {
      query: async (text, params, prepared) => {
        const r = await send(client, text, params, prepared);
        return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
      },
    };
    let committing = false;
    try {
      // A client that stalls inside a transaction (network partition) must not hold the audit head
      // lock for ever: the server ends such a session, and the other writers go on.
      await client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = '${IDLE_IN_TRANSACTION_TIMEOUT}'`);
      const value = await fn(tx);
      committing = true;
      await client.query('COMMIT');
      return value;
    } catch (err) {
      if (broken === undefined && isConnectionError(err)) broken = asError(err);
      if (!committing && broken === undefined) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = asError(rollbackErr);
        }
      }
      if (committing && broken !== undefined) throw new CommitOutcomeUnknown(err);
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async listen(channel: string, onPayload: (payload: string) => void, onLost: (err: Error) => void) {
    const client = await this.pool.connect();
    let done = false;
    const onNotification = (msg: PgNotificationLike) => {
      if (msg.channel === channel && msg.payload !== undefined) onPayload(msg.payload);
    };
    const finish = (err: Error | boolean) => {
      if (done) return false;
      done = true;
      client.removeListener('notification', onNotification);
      client.removeListener('error', onError);
      client.release(err);
      return true;
    };
    const onError = (err: Error) => {
      if (finish(err)) onLost(err);
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    try {
      await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      finish(asError(err));
      throw err;
    }
    // Destroy rather than return it: a pool must never hand out a connection that still LISTENs.
    return async () => void finish(true);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

/** Runs SQL on PGlite, which serialises queries and transactions on its single connection. */
export class PgliteRunner implements SqlRunner {
  constructor(private readonly db: PGliteLike) {}

  private static result(r: PGliteResultLike): SqlResult {
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? r.affectedRows ?? 0 };
  }

  async query(text: string, params?: unknown[]): Promise<SqlResult> {
    return PgliteRunner.result(await this.db.query(text, params));
  }

  async commitStatement(text: string, params: unknown[]): Promise<SqlResult> {
    return PgliteRunner.result(await this.db.query(text, params));
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      fn({ query: async (text, params) => PgliteRunner.result(await tx.query(text, params)) }),
    );
  }

  async listen(channel: string, onPayload: (payload: string) => void) {
    if (this.db.listen === undefined) throw new Error('this PGlite instance does not support LISTEN');
    // PGlite sends `LISTEN <channel>` as given: quote it, as for pg, so that case is kept.
    const stop = await this.db.listen(quoteIdent(channel), onPayload);
    return async () => {
      await stop();
    };
  }

  async close(): Promise<void> {}
}
