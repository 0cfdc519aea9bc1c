/**
 * Helpers shared by the example scenarios: one plain line per step, expected refusals, short params,
 * a manual clock, and the audit table `run-all.ts` prints after each scenario.
 */
import {
  type ActionProposal,
  type AuditEvent,
  type ErrorCode,
  isOrchestrationError,
  type OrchestrationConnector,
  type OrchestrationError,
} from '../src/index.js';

/** Where a scenario writes its account, one line at a time. */
export type Log = (line: string) => void;

/** A logger that prints nothing (for tests). */
export const silent: Log = () => {};

/** What every scenario returns: its connector, still open, so the caller can read and verify its audit trail. */
export interface ScenarioResult {
  connector: OrchestrationConnector;
}

const WHO_WIDTH = 16;

/** One step: who did what, and the outcome. */
export function step(log: Log, who: string, what: string, outcome: string): void {
  log(`  ${who.padEnd(WHO_WIDTH)} ${what} -> ${outcome}`);
}

/** A line of context under the steps (what a reader should notice). */
export function note(log: Log, text: string): void {
  log(`  ${' '.repeat(WHO_WIDTH)} ${text}`);
}

/** The first sentence of an error message (the rest says what to do, which the demo does next anyway). */
function firstSentence(message: string): string {
  const end = message.search(/\.(\s|$)/);
  return end === -1 ? message : message.slice(0, end + 1);
}

/**
 * Runs a call that must be refused with `code`, logs the refusal and returns the error.
 * Anything else (success, another code, another error) throws: the scenario no longer shows what it claims.
 */
export async function refused(
  log: Log,
  who: string,
  what: string,
  code: ErrorCode,
  call: () => Promise<unknown>,
): Promise<OrchestrationError> {
  try {
    await call();
  } catch (err) {
    if (isOrchestrationError(err, code)) {
      step(log, who, what, `refused ${code}: ${firstSentence(err.message)}`);
      return err;
    }
    throw err;
  }
  throw new Error(`Expected "${who} ${what}" to be refused with ${code}, but it succeeded.`);
}

/** Throws when a scenario's expectation does not hold, so the demo cannot silently rot. */
export function expect(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`Scenario expectation failed: ${what}`);
}

/** Short, single-line JSON of params or results, cut at `max` characters. */
export function short(value: unknown, max = 90): string {
  const json = JSON.stringify(value) ?? 'undefined';
  return json.length <= max ? json : `${json.slice(0, max - 3)}...`;
}

/** `approvals/required` of an action proposal: distinct approvals (or edits) of its current params. */
export function approvals(a: ActionProposal): string {
  const who = new Set(
    a.reviews
      .filter((r) => (r.decision === 'approve' || r.decision === 'edit') && r.paramsHash === a.paramsHash)
      .map((r) => r.reviewerId),
  );
  return `${who.size}/${a.approvalsRequired}`;
}

/** The status of an action proposal with its approval count, e.g. `pending (1/2)`. */
export function actionState(a: ActionProposal): string {
  if (a.approvalsRequired === 0 && a.status === 'approved') return 'approved (needs no approval)';
  return a.status === 'pending' || a.status === 'approved' ? `${a.status} (${approvals(a)})` : a.status;
}

/** A clock the scenario moves by hand, for approval TTLs and date-range queries without sleeping. */
export function manualClock(startIso: string): { clock: () => Date; advance: (ms: number) => void } {
  let now = Date.parse(startIso);
  return {
    clock: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every audit event of a connector, in seq order (paged). */
export async function allAuditEvents(connector: OrchestrationConnector): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await connector.queryAuditEvents({ limit: 1000, ...(after !== undefined ? { after } : {}) });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]?.id;
  }
}

/**
 * A compact table of audit events: seq, eventType, entity, actor. `rename` shortens ids for display
 * (applied before the columns are sized).
 */
export function auditTable(events: readonly AuditEvent[], rename: (id: string) => string = (id) => id): string[] {
  const rows = events.map((e) => [
    String(e.seq),
    e.eventType,
    e.entityId.startsWith(`${e.entityType}_`) || e.entityType === e.entityId
      ? rename(e.entityId)
      : `${e.entityType} ${rename(e.entityId)}`,
    e.actorId === undefined ? '-' : rename(e.actorId),
  ]);
  const header = ['seq', 'eventType', 'entity', 'actor'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padStart(widths[0] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
