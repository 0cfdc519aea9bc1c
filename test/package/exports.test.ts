import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
});
