import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { OrchestrationConnector } from '../../../src/connector.js';
import { OrchestrationError } from '../../../src/errors.js';
import type { Executor } from '../../../src/execution/executor.js';
import { ToolRegistry } from '../../../src/execution/registry.js';
import type { Store } from '../../../src/stores/store.js';

/**
 * Shared by the child processes of the durable suite. The parent describes the store in the
 * environment (`OC_STORE=sqlite` + `OC_SQLITE_FILE`, or `OC_STORE=postgres` + `OC_PG_URL` +
 * `OC_PG_SCHEMA`) and reads JSON lines from stdout.
 */

/** Writes one JSON line to the parent. */
export function emit(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Required environment variable. */
export function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`child: ${name} is not set`);
  return v;
}

/** Opens the store the parent named. */
export async function openStore(): Promise<Store> {
  const kind = env('OC_STORE');
  if (kind === 'sqlite') {
    const { SqliteStore } = await import('../../../src/stores/sqlite.js');
    const sync = process.env.OC_SQLITE_SYNCHRONOUS;
    return new SqliteStore({
      filename: env('OC_SQLITE_FILE'),
      ...(sync === 'NORMAL' || sync === 'FULL' ? { synchronous: sync } : {}),
    });
  }
  if (kind === 'postgres') {
    const { PostgresStore } = await import('../../../src/stores/postgres.js');
    return new PostgresStore({
      connectionString: env('OC_PG_URL'),
      schema: env('OC_PG_SCHEMA'),
      onError: () => undefined, // LISTEN connections killed on purpose reconnect by themselves
    });
  }
  throw new Error(`child: unknown OC_STORE '${kind}'`);
}

/**
 * The tool whose side effects the tests count outside the store: every run appends
 * `proposalId executionId pid` to `OC_SIDE_FILE` (O_APPEND, one short write per line).
 */
export function effectTool(sideFile = env('OC_SIDE_FILE'), hooks: { beforeEffect?: () => void } = {}): ToolRegistry {
  return new ToolRegistry({
    effect: {
      description: 'Appends one line per run to a side file.',
      handler: (_params, ctx) => {
        hooks.beforeEffect?.();
        appendFileSync(sideFile, `${ctx.proposalId} ${ctx.executionId} ${process.pid}\n`);
        return { pid: process.pid };
      },
    },
  });
}

/** A connector on the parent's store with the counting tool (or `executor`). */
export async function openConnector(executor: Executor = effectTool(), store?: Store): Promise<OrchestrationConnector> {
  const connector = new OrchestrationConnector({ store: store ?? (await openStore()), executor });
  connector.on('error', (err) => emit({ type: 'background_error', error: describeError(err) }));
  return connector;
}

/** The code of an error as the caller sees it; anything not an OrchestrationError is `RAW:<name>:<code>`. */
export function errorCode(err: unknown): string {
  if (err instanceof OrchestrationError) {
    return err.code === 'STORE_ERROR' ? `STORE_ERROR${err.details.retryable === true ? ':retryable' : ''}` : err.code;
  }
  const e = err as { name?: unknown; code?: unknown };
  return `RAW:${String(e?.name)}:${String(e?.code)}`;
}

export function describeError(err: unknown): Record<string, unknown> {
  return {
    code: errorCode(err),
    message: err instanceof Error ? err.message : String(err),
    ...(err instanceof OrchestrationError ? { details: err.details } : {}),
  };
}

/** Counts outcomes by code and keeps one example message per code. */
export class Tally {
  readonly counts: Record<string, number> = {};
  readonly examples: Record<string, string> = {};

  add(code: string, message?: string): void {
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    if (message !== undefined && this.examples[code] === undefined) this.examples[code] = message.slice(0, 300);
  }

  error(err: unknown): void {
    this.add(errorCode(err), err instanceof Error ? err.message : String(err));
  }
}

/** Reports `ready` and resolves when the parent writes `go` on stdin (a start barrier across processes). */
export function barrier(extra: Record<string, unknown> = {}): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
    emit({ type: 'ready', pid: process.pid, ...extra });
  });
}

/** Kills this process with SIGKILL at once: no cleanup, no further statement runs. */
export function die(): never {
  process.kill(process.pid, 'SIGKILL');
  // The signal is delivered on return from kill(2); block in case the scheduler lets us go on.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** Runs the child's main, reports an unexpected failure and exits with the right status. */
export function main(fn: () => Promise<void>): void {
  fn().then(
    () => process.exit(0),
    (err) => {
      emit({ type: 'fatal', error: describeError(err), stack: err instanceof Error ? err.stack : undefined });
      process.exit(1);
    },
  );
}
