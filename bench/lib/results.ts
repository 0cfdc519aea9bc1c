/**
 * The records a bench run produces and `bench/results/latest.json` holds. The shape is versioned by
 * `SCHEMA`: a field is never renamed or given another meaning without a new version.
 */

/** Schema id written into every results file. */
export const SCHEMA = 'orchestration-connector/bench@1';

/** One measured case. */
export interface BenchResult {
  /** What was measured, e.g. `cycle.sequential`, `floor.raw-sqlite`, `query.pending-page`. */
  case: string;
  /** Where: `memory`, `sqlite-full`, `sqlite-normal`, `pglite`, `postgres`, a peer's setup, or `none`. */
  store: string;
  /** The parameter that varies within a case (`size=1000000`, `clients=4`), or `''`. */
  variant: string;
  /** What one operation is: `cycle`, `call`, `batch`, `query`, `event`, `item`. */
  unit: string;
  /** Operations measured (warm-up excluded). */
  ops: number;
  /** Operations per second (aggregate over all callers). */
  opsPerSec: number | null;
  /** Median latency of one operation, µs. */
  p50Us: number | null;
  /** 99th percentile latency of one operation, µs. */
  p99Us: number | null;
  /**
   * Heap retained per operation after a full GC, bytes: what stays allocated per stored cycle or
   * item (for the `heap.*` cases, per stored executed proposal with its audit records).
   */
  heapBytes: number | null;
  /** Key (`case|store|variant`) of the physical floor this case is compared with. */
  floor: string | null;
  /** `opsPerSec / floor.opsPerSec` (1 = as fast as the floor). */
  ratioToFloor: number | null;
  /** `opsPerSec / peer.opsPerSec` per peer key (`case|store|variant`): above 1 = faster than the peer. */
  ratioToPeers: Record<string, number> | null;
  /** Anything a reader needs to interpret the figure. */
  notes: string;
}

/** A result as a case reports it; the runner fills in the comparisons. */
export type CaseResult = Omit<BenchResult, 'floor' | 'ratioToFloor' | 'ratioToPeers' | 'heapBytes' | 'notes'> & {
  heapBytes?: number | null;
  notes?: string;
};

/** A target of the issue, with its status in this run. */
export interface TargetStatus {
  id: string;
  /** The target as stated. */
  description: string;
  /** The measured figure, in `unit`. */
  measured: number | null;
  unit: string;
  /** The threshold, in `unit`. */
  threshold: number;
  /** `pass`, `miss`, or `skipped` (the case did not run, e.g. no DATABASE_URL, or peers missing). */
  status: 'pass' | 'miss' | 'skipped';
  /** What the figure is made of, and what bounds it. */
  detail: string;
}

/** The whole results file. */
export interface BenchReport {
  schema: typeof SCHEMA;
  /** ISO time the run started. */
  startedAt: string;
  /** Seconds the run took. */
  durationSec: number;
  mode: 'full' | 'quick';
  environment: Record<string, unknown>;
  results: BenchResult[];
  targets: TargetStatus[];
  /** Groups that failed or were skipped, with the reason. */
  problems: Array<{ group: string; message: string }>;
}

/** The key that floors and peers are referred to by. */
export function keyOf(r: Pick<BenchResult, 'case' | 'store' | 'variant'>): string {
  return `${r.case}|${r.store}|${r.variant}`;
}

/** A CaseResult from a timing. */
export function fromTiming(
  base: { case: string; store: string; variant?: string; unit: string; notes?: string; heapBytes?: number | null },
  t: { ops: number; opsPerSec: number; p50Us: number; p99Us: number },
): CaseResult {
  return {
    case: base.case,
    store: base.store,
    variant: base.variant ?? '',
    unit: base.unit,
    ops: t.ops,
    opsPerSec: t.opsPerSec,
    p50Us: t.p50Us,
    p99Us: t.p99Us,
    heapBytes: base.heapBytes ?? null,
    ...(base.notes !== undefined ? { notes: base.notes } : {}),
  };
}
