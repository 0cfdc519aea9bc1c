import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OrchestrationConnector } from '../../src/connector.js';
import type { Executor } from '../../src/execution/executor.js';
import type { Store } from '../../src/stores/store.js';
import type { ActionProposal, AuditEvent } from '../../src/types.js';
import { effectTool } from './children/common.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

/** A JSON line a child wrote. */
export type Message = { type: string } & Record<string, unknown>;

/** One store shared by the test process and its children: a SQLite file or a PostgreSQL schema. */
export interface Target {
  name: 'sqlite' | 'postgres';
  dir: string;
  /** The counting tool's side file (see `effectTool`). */
  sideFile: string;
  /** Environment that makes a child open the same store. */
  env: Record<string, string>;
  /** A new store instance on the same database (the caller closes it, through its connector). */
  store(options?: { busyTimeoutMs?: number }): Promise<Store>;
  /** A new connector on the same database with the counting tool. */
  connector(options?: { clock?: () => Date; executor?: Executor }): Promise<OrchestrationConnector>;
  /** PostgreSQL only: the connection string the children use. */
  url?: string;
  cleanup(): Promise<void>;
}

/** Which stores the durable suite runs on: SQLite always, PostgreSQL when DATABASE_URL is set. */
export function targetNames(): Array<'sqlite' | 'postgres'> {
  return process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

function unique(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A fresh store: a temp directory with a SQLite file, or a fresh schema in DATABASE_URL's database
 * (`ownDatabase`: a fresh database, for tests that kill every connection of their database).
 */
export async function makeTarget(
  name: 'sqlite' | 'postgres',
  options: { ownDatabase?: boolean } = {},
): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'oc-durable-'));
  const sideFile = join(dir, 'effects.log');
  writeFileSync(sideFile, '');
  const opened: OrchestrationConnector[] = [];
  const withConnector = async (
    store: Store,
    o: { clock?: () => Date; executor?: Executor } = {},
  ): Promise<OrchestrationConnector> => {
    const c = new OrchestrationConnector({
      store,
      executor: o.executor ?? effectTool(sideFile),
      ...(o.clock ? { clock: o.clock } : {}),
    });
    opened.push(c);
    return c;
  };
  const closeAll = async () => {
    for (const child of running) child.kill();
    for (const c of opened.splice(0)) await c.close().catch(() => undefined);
  };
  if (name === 'sqlite') {
    const file = join(dir, 'store.db');
    const store = async (o: { busyTimeoutMs?: number } = {}) => {
      const { SqliteStore } = await import('../../src/stores/sqlite.js');
      return new SqliteStore({ filename: file, ...o }) as Store;
    };
    return {
      name,
      dir,
      sideFile,
      env: { OC_STORE: 'sqlite', OC_SQLITE_FILE: file, OC_SIDE_FILE: sideFile },
      store,
      connector: async (o) => withConnector(await store(), o),
      cleanup: async () => {
        await closeAll();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set');
  const schema = unique('oc_durable');
  let url = base;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (options.ownDatabase) {
    const db = unique('oc_durable_db');
    await adminQuery(base, `CREATE DATABASE ${db}`);
    const u = new URL(base);
    u.pathname = `/${db}`;
    url = u.toString();
    dropDatabase = () => adminQuery(base, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
  const store = async () => {
    const { PostgresStore } = await import('../../src/stores/postgres.js');
    return new PostgresStore({ connectionString: url, schema, onError: () => undefined }) as Store;
  };
  return {
    name,
    dir,
    sideFile,
    url,
    env: { OC_STORE: 'postgres', OC_PG_URL: url, OC_PG_SCHEMA: schema, OC_SIDE_FILE: sideFile },
    store,
    connector: async (o) => withConnector(await store(), o),
    cleanup: async () => {
      await closeAll();
      if (dropDatabase) await dropDatabase().catch(() => undefined);
      else await adminQuery(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Children still running: a failed test's cleanup kills them. */
const running = new Set<Child>();

/** A child process of the suite (`test/durable/children/<script>.ts`), talking JSON lines. */
export class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly messages: Message[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly script: string,
    env: Record<string, string>,
  ) {
    const file = join(here, 'children', `${script}.ts`);
    if (!existsSync(file)) throw new Error(`no child script ${file}`);
    this.proc = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      try {
        this.messages.push(JSON.parse(line) as Message);
      } catch {
        this.messages.push({ type: 'text', line });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  /** The first message of `type` (that matches `where`); fails when the child exits (or reports `fatal`) first. */
  async waitFor(type: string, timeoutMs = 60_000, where: (m: Message) => boolean = () => true): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find((x) => x.type === type && where(x));
      if (m) return m;
      const fatal = this.messages.find((x) => x.type === 'fatal');
      if (fatal || this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(
          `child ${this.script} ended before '${type}': ${JSON.stringify(fatal ?? { exit: this.proc.exitCode, signal: this.proc.signalCode })}\n${this.stderr}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`child ${this.script}: no '${type}' within ${timeoutMs} ms\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(line: string): void {
    this.proc.stdin.write(`${line}\n`);
  }

  /** Waits for the child's `done` message and a clean exit. */
  async done(timeoutMs = 120_000): Promise<Message> {
    const m = await this.waitFor('done', timeoutMs);
    const { code, signal } = await this.exited;
    if (code !== 0) throw new Error(`child ${this.script} exited with ${code ?? signal}\n${this.stderr}`);
    return m;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Starts `n` children, waits until every one is ready, then releases them together. */
export async function startTogether(
  n: number,
  script: string,
  env: (i: number) => Record<string, string>,
): Promise<Child[]> {
  const children = Array.from({ length: n }, (_, i) => new Child(script, env(i)));
  try {
    await Promise.all(children.map((c) => c.waitFor('ready')));
  } catch (err) {
    for (const c of children) c.kill();
    throw err;
  }
  for (const c of children) c.send('go');
  return children;
}

/** One line of the side file: a run of the counting tool. */
export interface Effect {
  proposalId: string;
  executionId: string;
  pid: number;
}

export function readEffects(sideFile: string): Effect[] {
  return readFileSync(sideFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [proposalId = '', executionId = '', pid = ''] = l.split(' ');
      return { proposalId, executionId, pid: Number(pid) };
    });
}

/** Runs of the counting tool per proposal. */
export function effectsByProposal(sideFile: string): Map<string, Effect[]> {
  const out = new Map<string, Effect[]>();
  for (const e of readEffects(sideFile)) {
    const list = out.get(e.proposalId) ?? [];
    list.push(e);
    out.set(e.proposalId, list);
  }
  return out;
}

/** An agent, a reviewer, and `n` proposals of the counting tool, approved (or left pending). */
export async function seedProposals(
  c: OrchestrationConnector,
  n: number,
  options: { approve?: boolean; reviewers?: string[] } = {},
): Promise<string[]> {
  const reviewers = options.reviewers ?? ['reviewer'];
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  for (const id of reviewers) await c.createActor({ id, name: id, role: 'reviewer' });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await c.proposeAction({ actor_id: 'agent', tool: 'effect', params: { n: i }, reason: `run ${i}` });
    if (options.approve !== false) {
      await c.reviewAction({ proposal_id: a.id, reviewer_id: reviewers[0] as string, decision: 'approve' });
    }
    ids.push(a.id);
  }
  return ids;
}

/** Every action proposal of the store, oldest first. */
export async function allActions(c: OrchestrationConnector): Promise<ActionProposal[]> {
  const out: ActionProposal[] = [];
  for (;;) {
    const last = out[out.length - 1];
    const page = await c.queryActionProposals({ limit: 1000, ...(last ? { after: last.id } : {}) });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** Every audit event of the store, in seq order. */
export async function allAuditEvents(c: OrchestrationConnector): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for (;;) {
    const last = out[out.length - 1];
    const page = await c.queryAuditEvents({ limit: 1000, ...(last ? { after: last.id } : {}) });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** Writes `value` as JSON into the target's directory and returns the path (for large child inputs). */
export function writeJson(t: Target, name: string, value: unknown): string {
  const file = join(t.dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

/** Sums the `counts` objects of several children. */
export function sumCounts(messages: Message[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of messages) {
    for (const [k, v] of Object.entries((m.counts ?? {}) as Record<string, number>)) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
