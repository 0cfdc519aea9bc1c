/**
 * Runs case groups (argv: group names separated by commas, options as JSON) one after the other and
 * sends their results to the runner over IPC. Started by bench/run.ts with --expose-gc: a full run
 * gives each group a worker of its own, a quick run one worker for all. Not meant to be run by hand.
 */
import { GROUPS } from './cases/index.js';
import type { BenchContext, Group } from './lib/context.js';
import type { CaseResult } from './lib/results.js';

/** What a worker tells the runner. */
export type WorkerMessage =
  | { type: 'start'; group: string }
  | { type: 'result'; group: string; result: CaseResult }
  | { type: 'end'; group: string; error?: string };

const send = (m: WorkerMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) {
      console.log(JSON.stringify(m));
      resolve();
    } else process.send(m, undefined, undefined, () => resolve());
  });

const [names, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson ?? '{}') as { quick: boolean; tmpDir: string; databaseUrl?: string };

async function runOne(name: string): Promise<void> {
  const spec = GROUPS.find((g) => g.name === name);
  if (spec === undefined) throw new Error(`unknown group ${name}`);
  const mod = (await import(`./cases/${spec.module}.js`)) as Record<string, Group>;
  const group = mod[spec.export];
  if (group === undefined) throw new Error(`bench/cases/${spec.module}.ts has no export ${spec.export}`);
  const pending: Promise<void>[] = [];
  const ctx: BenchContext = {
    quick: options.quick,
    tmpDir: options.tmpDir,
    databaseUrl: options.databaseUrl,
    report: (result) => {
      pending.push(send({ type: 'result', group: name, result }));
    },
    log: (message) => process.stderr.write(`  · ${message}\n`),
  };
  try {
    await group(ctx);
  } finally {
    await Promise.all(pending);
  }
}

async function main(): Promise<void> {
  for (const name of (names ?? '').split(',').filter(Boolean)) {
    await send({ type: 'start', group: name });
    try {
      await runOne(name);
      await send({ type: 'end', group: name });
    } catch (err) {
      // One group failing does not stop the next.
      await send({ type: 'end', group: name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
