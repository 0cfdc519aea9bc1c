import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('the built package', () => {
  beforeAll(() => {
    if (!existsSync(resolve(root, 'dist/index.js'))) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
  }, 120_000);

  it('loads by name with require() and runs a gated call, without loading the optional peers', () => {
    const out = node([
      '-e',
      `const oc = require('orchestration-connector');
       const c = new oc.OrchestrationConnector({ tools: { ping: { readOnly: true, handler: () => 'pong' } } });
       (async () => {
         await c.createActor({ id: 'a', name: 'A', role: 'bot' });
         const p = await c.proposeAction({ actor_id: 'a', tool: 'ping', reason: 'test' });
         const r = await c.executeAction({ proposal_id: p.id });
         const loaded = Object.keys(require.cache).filter((k) => /better-sqlite3|[\\\\/]pg[\\\\/]|modelcontextprotocol/.test(k));
         console.log(JSON.stringify({ result: r.result, ok: r.success, loaded, isError: new oc.OrchestrationError('NOT_FOUND', 'x') instanceof Error }));
       })();`,
    ]);
    expect(JSON.parse(out)).toEqual({ result: 'pong', ok: true, loaded: [], isError: true });
  });

  it('loads by name with import', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `const oc = await import('orchestration-connector');
       const c = new oc.OrchestrationConnector();
       const a = await c.createActor({ name: 'A', role: 'bot' });
       console.log(JSON.stringify({ prefix: a.id.split('_')[0], schema: typeof oc.createActorInput.parse, store: typeof oc.MemoryStore }));`,
    ]);
    expect(JSON.parse(out)).toEqual({ prefix: 'actor', schema: 'function', store: 'function' });
  });

  it('exposes every subpath entry to import and require', () => {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    const esm = node([
      '--input-type=module',
      '-e',
      `const names = ${JSON.stringify(entries)};
       const out = {};
       for (const n of names) out[n] = Object.keys(await import('orchestration-connector' + n.slice(1))).length > 0;
       console.log(JSON.stringify(out));`,
    ]);
    const cjs = node([
      '-e',
      `const names = ${JSON.stringify(entries)};
       const out = {};
       for (const n of names) out[n] = Object.keys(require('orchestration-connector' + n.slice(1))).length > 0;
       console.log(JSON.stringify(out));`,
    ]);
    const all = Object.fromEntries(entries.map((e) => [e, true]));
    expect(JSON.parse(esm)).toEqual(all);
    expect(JSON.parse(cjs)).toEqual(all);
  });
  it('runs SqliteStore with background checkpoints from the CommonJS and the ESM build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oc-pkg-sqlite-'));
    try {
      const body = (file: string) => `
         const store = new SqliteStore({ filename: ${JSON.stringify(file)}, synchronous: 'NORMAL' });
         const c = new OrchestrationConnector({ store });
         for (let i = 0; i < 80; i++) await c.createActor({ name: 'A' + i, role: 'bot' });
         const worker = typeof store.checkpointer;
         const v = await c.verifyAuditTrail();
         await c.close();
         console.log(JSON.stringify({ worker, valid: v.valid, count: v.count }));`;
      const cjs = node([
        '-e',
        `const { OrchestrationConnector } = require('orchestration-connector');
         const { SqliteStore } = require('orchestration-connector/sqlite');
         (async () => { ${body(join(dir, 'cjs.db'))} })();`,
      ]);
      const esm = node([
        '--input-type=module',
        '-e',
        `const { OrchestrationConnector } = await import('orchestration-connector');
         const { SqliteStore } = await import('orchestration-connector/sqlite');
         ${body(join(dir, 'esm.db'))}`,
      ]);
      for (const out of [cjs, esm]) expect(JSON.parse(out)).toEqual({ worker: 'object', valid: true, count: 80 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts the checkpoint worker from a script and a working directory that cannot resolve better-sqlite3', () => {
    // The worker must find the driver from the library's own files, not from where the application runs.
    const dir = mkdtempSync(join(tmpdir(), 'oc-pkg-elsewhere-'));
    try {
      const body = `
         const store = new SqliteStore({ filename: 'x.db', synchronous: 'NORMAL' });
         const c = new OrchestrationConnector({ store });
         for (let i = 0; i < 80; i++) await c.createActor({ name: 'A' + i, role: 'bot' });
         const worker = typeof store.checkpointer;
         await c.close();
         console.log(JSON.stringify({ worker }));`;
      const dist = (file: string) => resolve(root, 'dist', file);
      writeFileSync(
        join(dir, 'app.cjs'),
        `const { OrchestrationConnector } = require(${JSON.stringify(dist('index.cjs'))});
         const { SqliteStore } = require(${JSON.stringify(dist('sqlite.cjs'))});
         (async () => { ${body} })();`,
      );
      const url = (file: string) => JSON.stringify(pathToFileURL(dist(file)).href);
      writeFileSync(
        join(dir, 'app.mjs'),
        `const { OrchestrationConnector } = await import(${url('index.js')});
         const { SqliteStore } = await import(${url('sqlite.js')});
         ${body}`,
      );
      for (const app of ['app.cjs', 'app.mjs']) {
        const out = execFileSync(process.execPath, [app], { cwd: dir, encoding: 'utf8' });
        expect(JSON.parse(out), app).toEqual({ worker: 'object' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
