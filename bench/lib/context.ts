import type { CaseResult } from './results.js';

/** What a case group gets from the worker that runs it. */
export interface BenchContext {
  /** `--quick`: fewer operations and sizes, to finish the whole run within a minute. */
  quick: boolean;
  /** Records a result. */
  report(r: CaseResult): void;
  /** A progress line on stderr. */
  log(message: string): void;
  /** A directory of this run for database files; removed at the end. */
  tmpDir: string;
  /** PostgreSQL server to measure, when DATABASE_URL is set. */
  databaseUrl: string | undefined;
}

/** A group of cases run in one worker process. */
export type Group = (ctx: BenchContext) => Promise<void>;

/** Picks the quick or the full figure. */
export function scale<T>(ctx: BenchContext, full: T, quick: T): T {
  return ctx.quick ? quick : full;
}
