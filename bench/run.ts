/**
 * `npm run bench` (`tsx bench/run.ts`): runs every case group in a worker process of its own, one
 * after the other, compares the results with their floors and peers, checks the targets, prints
 * the tables and writes `bench/results/latest.json` (`--quick`: `bench/results/quick.json`).
 *
 * Options:
 *   --quick            fewer operations and sizes (about a minute)
 *   --only a,b         run only the groups whose name contains one of these
 *   --skip-peers       do not install or run the peers
 *   --profile          write a CPU profile of each worker to bench/results/profiles/
 *   --out FILE         where to write the JSON
 *   --budget SEC       stop starting groups after this long (default 570, quick 55; a first run's
 *                      install of the peers comes on top); a group still running at the end of
 *                      the budget is stopped, keeping what it reported
 * Environment: DATABASE_URL adds the PostgreSQL server to the stores.
 */
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GROUPS, type GroupSpec } from './cases/index.js';
import { compare, resultsTable, targetsTable } from './lib/report.js';
import { type BenchReport, type CaseResult, SCHEMA } from './lib/results.js';
import { evaluateTargets } from './lib/targets.js';
import type { WorkerMessage } from './worker.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const peersDir = join(benchDir, 'peers');

interface Options {
  quick: boolean;
  only: string[] | undefined;
  skipPeers: boolean;
  profile: boolean;
  out: string;
  budgetSec: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, only: undefined, skipPeers: false, profile: false, out: '', budgetSec: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--skip-peers') o.skipPeers = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--out') o.out = argv[++i] ?? '';
    else if (a === '--budget') o.budgetSec = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else {
      console.error(`Unknown option ${a}. See --help.`);
      process.exit(2);
    }
  }
  o.out ||= join(benchDir, 'results', o.quick ? 'quick.json' : 'latest.json');
  if (!(o.budgetSec > 0)) o.budgetSec = o.quick ? 55 : 570;
  return o;
}

/** Installs bench/peers when its node_modules is missing. Returns why peers cannot run, if so. */
function ensurePeers(): string | undefined {
  if (
    existsSync(join(peersDir, 'node_modules', '@langchain', 'langgraph')) &&
    existsSync(join(peersDir, 'node_modules', '@openai', 'agents'))
  )
    return undefined;
  console.log('Installing the peers into bench/peers (npm install --prefix bench/peers) ...');
  const r = spawnSync('npm', ['install', '--prefix', peersDir, '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    timeout: 300_000,
  });
  if (r.status !== 0) {
    return `npm install --prefix bench/peers failed (${r.error?.message ?? `exit ${r.status}`}); the peers are skipped. Run it by hand to see why.`;
  }
  return undefined;
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function versionOf(dir: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return undefined;
  }
}

interface GroupOutcome {
  results: CaseResult[];
  /** Not set: the group did not start. */
  started: boolean;
  ms: number;
  error?: string;
}

/**
 * Runs groups one after the other in one worker; resolves with what each reported, also when one
 * failed or the worker was stopped at `limitMs`.
 */
function runWorker(
  specs: GroupSpec[],
  o: Options,
  tmpDir: string,
  databaseUrl: string | undefined,
  limitMs: number,
): Promise<Map<string, GroupOutcome>> {
  const execArgv = ['--expose-gc', '--max-old-space-size=16384', '--import', 'tsx'];
  if (o.profile) {
    const dir = join(benchDir, 'results', 'profiles');
    mkdirSync(dir, { recursive: true });
    const name = specs.length === 1 ? (specs[0] as GroupSpec).name : 'quick';
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`);
  }
  const options = JSON.stringify({ quick: o.quick, tmpDir, ...(databaseUrl ? { databaseUrl } : {}) });
  const outcomes = new Map<string, GroupOutcome>(specs.map((g) => [g.name, { results: [], started: false, ms: 0 }]));
  return new Promise((resolve) => {
    let current: { name: string; t0: number } | undefined;
    let stopped = false;
    const child = fork(join(benchDir, 'worker.ts'), [specs.map((g) => g.name).join(','), options], {
      cwd: root,
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      stopped = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('message', (m: WorkerMessage) => {
      const out = outcomes.get(m.group);
      if (out === undefined) return;
      if (m.type === 'start') {
        out.started = true;
        current = { name: m.group, t0: Date.now() };
        process.stderr.write(`▸ ${m.group}\n`);
      } else if (m.type === 'result') out.results.push(m.result);
      else {
        out.ms = Date.now() - (current?.t0 ?? Date.now());
        current = undefined;
        if (m.error !== undefined) {
          out.error = m.error;
          process.stderr.write(`  ! ${m.group}: ${m.error.split('\n').slice(0, 3).join(' | ')}\n`);
        }
        process.stderr.write(`  ${m.group} done in ${(out.ms / 1000).toFixed(1)} s\n`);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (current !== undefined) {
        const out = outcomes.get(current.name) as GroupOutcome;
        out.ms = Date.now() - current.t0;
        out.error = stopped
          ? `stopped after ${Math.round(out.ms / 1000)} s (its time limit, or the end of the run's budget); the results it had reported are kept`
          : `worker exited with code ${code}`;
        process.stderr.write(`  ! ${current.name}: ${out.error}\n`);
      }
      resolve(outcomes);
    });
  });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const problems: BenchReport['problems'] = [];
  const selected = GROUPS.filter(
    (g) => (o.only === undefined || o.only.some((s) => g.name.includes(s))) && !(o.quick && g.fullOnly),
  );

  let peersProblem: string | undefined = o.skipPeers ? 'skipped (--skip-peers)' : undefined;
  if (peersProblem === undefined && selected.some((g) => g.needs === 'peers')) peersProblem = ensurePeers();

  // The budget starts after the one-time install of the peers.
  const budgetStart = Date.now();
  const tmpDir = mkdtempSync(join(tmpdir(), 'oc-bench-'));
  const loadStart = loadavg();
  console.log(
    `orchestration-connector bench (${o.quick ? 'quick' : 'full'}): ${selected.length} groups, node ${process.version}, ` +
      `${cpus().length} cores, load ${loadStart.map((l) => l.toFixed(1)).join(' ')}` +
      (databaseUrl ? ', PostgreSQL from DATABASE_URL' : ', no DATABASE_URL (PostgreSQL server skipped)'),
  );
  const raw: CaseResult[] = [];
  try {
    const runnable: GroupSpec[] = [];
    for (const spec of selected) {
      if (spec.needs === 'database' && databaseUrl === undefined) {
        problems.push({ group: spec.name, message: 'skipped: DATABASE_URL is not set' });
      } else if (spec.needs === 'peers' && peersProblem !== undefined) {
        problems.push({ group: spec.name, message: `skipped: ${peersProblem}` });
      } else runnable.push(spec);
    }
    const budgetSkip = (name: string) =>
      problems.push({
        group: name,
        message: `skipped: the run's time budget of ${o.budgetSec} s was used up (raise it with --budget)`,
      });
    const collect = (outcomes: Map<string, GroupOutcome>) => {
      for (const [name, out] of outcomes) {
        raw.push(...out.results);
        if (!out.started) budgetSkip(name);
        else if (out.error !== undefined) problems.push({ group: name, message: out.error });
      }
    };
    const remaining = () => o.budgetSec * 1000 - (Date.now() - budgetStart);
    if (o.quick) {
      // One worker for everything: in a quick run, starting a process per group would cost more than the cases.
      if (runnable.length > 0) collect(await runWorker(runnable, o, tmpDir, databaseUrl, remaining()));
    } else {
      const beside: Array<Promise<void>> = [];
      for (const spec of runnable) {
        if (remaining() < 3000) {
          budgetSkip(spec.name);
          continue;
        }
        const limitMs = Math.min(spec.timeoutSec * 1000, remaining());
        const run = runWorker([spec], o, tmpDir, databaseUrl, limitMs).then(collect);
        if (spec.background) beside.push(run);
        else await run;
      }
      await Promise.all(beside);
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const results = compare(raw);
  const targets = evaluateTargets(results);
  const report: BenchReport = {
    schema: SCHEMA,
    startedAt: new Date(started).toISOString(),
    durationSec: Math.round((Date.now() - started) / 100) / 10,
    mode: o.quick ? 'quick' : 'full',
    environment: {
      node: process.version,
      v8: process.versions.v8,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      totalMemBytes: totalmem(),
      freeMemBytes: freemem(),
      loadAverageStart: loadStart,
      loadAverageEnd: loadavg(),
      commit: git(['rev-parse', 'HEAD']),
      dirty: (git(['status', '--porcelain', '--', 'src']) ?? '') !== '',
      package: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
      postgres: databaseUrl !== undefined,
      peers: Object.fromEntries(
        ['@langchain/langgraph', '@langchain/langgraph-checkpoint-sqlite', '@langchain/core', '@openai/agents'].map(
          (p) => [p, versionOf(peersDir, p) ?? null],
        ),
      ),
      drivers: Object.fromEntries(
        ['better-sqlite3', 'pg', '@electric-sql/pglite', 'zod'].map((p) => [p, versionOf(root, p) ?? null]),
      ),
    },
    results,
    targets,
    problems,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);

  console.log(`\n${resultsTable(results)}\n`);
  console.log(`${targetsTable(targets)}\n`);
  for (const t of targets) console.log(`  ${t.status.toUpperCase().padEnd(7)} ${t.id}: ${t.detail}`);
  if (problems.length > 0) {
    console.log('\nNot measured:');
    for (const p of problems) console.log(`  ${p.group}: ${p.message.split('\n')[0]}`);
  }
  const passed = targets.filter((t) => t.status === 'pass').length;
  const missed = targets.filter((t) => t.status === 'miss').length;
  console.log(
    `\n${passed} targets pass, ${missed} miss, ${targets.length - passed - missed} skipped. ` +
      `Wrote ${relative(process.cwd(), o.out)} in ${report.durationSec} s.` +
      (loadStart[0] !== undefined && loadStart[0] > cpus().length
        ? ` Note: the load average was ${loadStart[0].toFixed(1)} on ${cpus().length} cores at the start; figures are noisy.`
        : ''),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
