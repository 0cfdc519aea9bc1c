/** One running execution whose lease is kept alive. */
class Kept {
  /** `Date.now()` at which the next renewal is due. */
  dueAt: number;
  /** The renewal under way, if any; renewals of one execution never overlap. */
  inFlight: Promise<void> | undefined;

  constructor(
    private readonly keeper: LeaseKeeper,
    readonly id: string,
    readonly executionId: string,
    readonly leaseMs: number,
    /** Renewal period: a third of the lease. */
    readonly every: number,
  ) {
    this.dueAt = Date.now() + every;
  }

  /** Ends keeping this lease; returns the renewal under way to wait for, if any. */
  stop(): Promise<void> | undefined {
    this.keeper.release(this.executionId);
    return this.inFlight;
  }
}

/** Renews one lease: `(proposal id, execution id, lease length)`. */
export type Renew = (id: string, executionId: string, leaseMs: number) => Promise<void>;

/**
 * Keeps the leases of running executions alive: each is renewed every third of its length, so that
 * only a process that stopped (crashed, frozen) lets one run out. One timer serves every running
 * execution, set for the earliest renewal due: most executions end long before their first renewal,
 * and then cost a Map entry instead of an interval timer each.
 */
export class LeaseKeeper {
  private readonly running = new Map<string, Kept>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly renew: Renew) {}

  /**
   * Starts keeping the lease of `executionId`. `stop` ends it, and returns the renewal under way to
   * wait for, if any.
   */
  keep(id: string, executionId: string, leaseMs: number): { stop(): Promise<void> | undefined } {
    const kept = new Kept(this, id, executionId, leaseMs, Math.max(10, Math.floor(leaseMs / 3)));
    this.running.set(executionId, kept);
    this.schedule(kept.dueAt);
    return kept;
  }

  /** Stops renewing the lease of `executionId` (see `Kept.stop`). */
  release(executionId: string): void {
    this.running.delete(executionId);
  }

  private schedule(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const kept of this.running.values()) {
      if (kept.dueAt <= now) {
        kept.dueAt = now + kept.every;
        const before = kept.inFlight ?? Promise.resolve();
        kept.inFlight = before
          .then(() => this.renew(kept.id, kept.executionId, kept.leaseMs))
          .catch(() => {
            // a failed renewal is retried at the next tick; the lease itself is the safety net
          });
      }
      if (kept.dueAt < next) next = kept.dueAt;
    }
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }
}
