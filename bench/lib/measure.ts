/**
 * Timing and heap helpers shared by every case. Latencies are taken per operation with
 * `performance.now()`; throughput is operations over wall time, so with concurrent callers it is
 * the aggregate rate, not the inverse of the latency.
 */

/** What one measurement gives. */
export interface Timing {
  /** Operations measured (warm-up excluded). */
  ops: number;
  /** Wall time of the measured operations, ms. */
  totalMs: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

/** How to run an operation under measurement. */
export interface MeasureOptions {
  /** Operations run first and thrown away (JIT, caches, connection pools). */
  warmup: number;
  /** Operations measured, unless `maxMs` runs out first. */
  ops: number;
  /** Stop measuring after this long (at least `minOps` are always run). @default Infinity */
  maxMs?: number;
  /** @default 1 */
  minOps?: number;
  /** Callers running operations at the same time, each awaiting its own. @default 1 */
  concurrency?: number;
  /**
   * Operations timed together as one sample (sequential only): for operations so short that reading
   * the clock would dominate. Latency percentiles are then of the per-operation mean of each batch.
   * @default 1
   */
  batch?: number;
  /**
   * The operation returns its own latency in ms, for cases that time only part of what they do
   * (set-up outside the measured span). Throughput is then derived from the timed parts only.
   * @default false
   */
  selfTimed?: boolean;
}

/** An operation; see {@link MeasureOptions.selfTimed} for what it returns. */
export type Operation = (i: number) => Promise<unknown> | unknown;

/** Runs `op` under `opts` and returns its throughput and latency percentiles. */
export async function measure(op: Operation, opts: MeasureOptions): Promise<Timing> {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const batch = Math.max(1, opts.batch ?? 1);
  let next = 0;
  const self = opts.selfTimed === true;
  if (opts.warmup > 0) await drive(op, () => (next < opts.warmup ? next++ : -1), concurrency, batch, self, undefined);
  const samples: number[] = [];
  const minOps = opts.minOps ?? 1;
  const deadline = performance.now() + (opts.maxMs ?? Number.POSITIVE_INFINITY);
  let measured = 0;
  const take = (): number => {
    if (measured >= opts.ops) return -1;
    if (measured >= minOps && performance.now() > deadline) return -1;
    measured++;
    return next++;
  };
  const started = performance.now();
  await drive(op, take, concurrency, batch, self, samples);
  const totalMs = performance.now() - started;
  const sorted = Float64Array.from(samples).sort();
  // With self-timed operations the wall time includes their untimed set-up: use the timed part only.
  const effectiveMs = self ? samples.reduce((a, b) => a + b, 0) * batch : totalMs;
  return {
    ops: measured,
    totalMs: effectiveMs,
    opsPerSec: measured / (effectiveMs / 1000),
    p50Us: percentile(sorted, 0.5) * 1000,
    p99Us: percentile(sorted, 0.99) * 1000,
  };
}

/**
 * Measures several operations taking turns: `rounds` rounds in which each runs for its share of
 * `ops` and `maxMs`, so that a drift of the machine (another process's disk writes, a slow fsync
 * minute) falls on all of them alike. Used for a case and its floor. Returns one timing per operation.
 */
export async function measureInterleaved(
  ops: Operation[],
  opts: MeasureOptions & { rounds: number },
): Promise<Timing[]> {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const acc = ops.map(() => ({ samples: [] as number[], ms: 0, count: 0, next: 0 }));
  for (const [k, op] of ops.entries()) {
    const a = acc[k] as (typeof acc)[number];
    if (opts.warmup > 0)
      await drive(op, () => (a.next < opts.warmup ? a.next++ : -1), concurrency, 1, false, undefined);
  }
  const perRoundOps = Math.max(1, Math.ceil(opts.ops / opts.rounds));
  const perRoundMs = (opts.maxMs ?? Number.POSITIVE_INFINITY) / opts.rounds;
  const minOps = Math.max(1, Math.ceil((opts.minOps ?? 1) / opts.rounds));
  for (let r = 0; r < opts.rounds; r++) {
    for (const [k, op] of ops.entries()) {
      const a = acc[k] as (typeof acc)[number];
      let measured = 0;
      const deadline = performance.now() + perRoundMs;
      const take = (): number => {
        if (measured >= perRoundOps) return -1;
        if (measured >= minOps && performance.now() > deadline) return -1;
        measured++;
        return a.next++;
      };
      const started = performance.now();
      await drive(op, take, concurrency, 1, false, a.samples);
      a.ms += performance.now() - started;
      a.count += measured;
    }
  }
  return acc.map((a) => {
    const sorted = Float64Array.from(a.samples).sort();
    return {
      ops: a.count,
      totalMs: a.ms,
      opsPerSec: a.count / (a.ms / 1000),
      p50Us: percentile(sorted, 0.5) * 1000,
      p99Us: percentile(sorted, 0.99) * 1000,
    };
  });
}

/** Runs callers until `take` returns -1, collecting latency samples (ms). */
async function drive(
  op: Operation,
  take: () => number,
  concurrency: number,
  batch: number,
  selfTimed: boolean,
  samples: number[] | undefined,
): Promise<void> {
  const caller = async (): Promise<void> => {
    for (;;) {
      if (batch > 1) {
        const first = take();
        if (first < 0) return;
        const t0 = performance.now();
        await op(first);
        let n = 1;
        for (; n < batch; n++) {
          const i = take();
          if (i < 0) break;
          await op(i);
        }
        samples?.push((performance.now() - t0) / n);
        continue;
      }
      const i = take();
      if (i < 0) return;
      const t0 = performance.now();
      const r = await op(i);
      const t1 = performance.now();
      samples?.push(selfTimed ? (r as number) : t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
}

/** The q-quantile of sorted samples (nearest rank). */
export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

/** Runs a full garbage collection (the process must run with `--expose-gc`). */
export function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('bench workers need --expose-gc');
  // Twice: the first pass may leave garbage that finalizers and weak callbacks release.
  gc();
  gc();
}

/**
 * Memory in use after a full GC, bytes: the JS heap plus ArrayBuffer and Buffer contents, which live
 * outside it (the memory store keeps audit hashes and index columns in typed arrays; leaving them out
 * would flatter it).
 */
export function heapAfterGc(): number {
  fullGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
