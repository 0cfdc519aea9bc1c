import { decodeText } from './postgres-codec.js';
import { type SqlRunner, toStoreError } from './postgres-runner.js';
import type { EntityKind } from './store.js';

const KINDS = new Set<string>(['actor', 'workflow', 'proposal', 'action', 'policy']);
const MAX_RETRY_DELAY_MS = 5000;
const LOST =
  'The LISTEN connection of watch() is reopened by itself; changes committed until then are not reported, so keep polling.';

/** A listener of entity changes. */
export type ChangeListener = (kind: EntityKind, id: string) => void;

interface Connection {
  stop?: () => Promise<void>;
  timer?: ReturnType<typeof setTimeout>;
  attempt: number;
}

/**
 * The listeners of `watch()` and the one LISTEN connection they share: opened with the first
 * listener, reopened with backoff when lost, closed with the last.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private connection: Connection | undefined;

  constructor(
    private readonly open: () => Promise<SqlRunner>,
    private readonly channel: string,
    private readonly report: (error: Error) => void,
  ) {}

  add(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    if (this.connection === undefined) {
      this.connection = { attempt: 0 };
      void this.connect(this.connection);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.close();
    };
  }

  private async connect(conn: Connection): Promise<void> {
    try {
      const db = await this.open();
      const stop = await db.listen(
        this.channel,
        (payload) => this.dispatch(payload),
        (err) => {
          if (this.connection !== conn) return;
          conn.stop = undefined;
          this.report(toStoreError('watch', err, LOST));
          this.retry(conn);
        },
      );
      if (this.connection !== conn) return void (await stop());
      conn.stop = stop;
      conn.attempt = 0;
    } catch (err) {
      if (this.connection !== conn) return;
      this.report(toStoreError('watch', err, LOST));
      this.retry(conn);
    }
  }

  private retry(conn: Connection): void {
    const delay = Math.min(MAX_RETRY_DELAY_MS, 100 * 2 ** conn.attempt++);
    conn.timer = setTimeout(() => void this.connect(conn), delay);
    conn.timer.unref?.();
  }

  private dispatch(payload: string): void {
    const colon = payload.indexOf(':');
    const kind = payload.slice(0, colon);
    if (colon < 0 || !KINDS.has(kind)) return;
    const id = decodeText(payload.slice(colon + 1));
    for (const listener of [...this.listeners]) {
      try {
        listener(kind as EntityKind, id);
      } catch (err) {
        this.report(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Drops every listener and the connection. */
  async close(): Promise<void> {
    this.listeners.clear();
    const conn = this.connection;
    this.connection = undefined;
    if (conn === undefined) return;
    clearTimeout(conn.timer);
    try {
      await conn.stop?.();
    } catch (err) {
      this.report(toStoreError('unwatch', err));
    }
  }
}
