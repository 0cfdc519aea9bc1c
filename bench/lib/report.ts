/**
 * Turns the cases' raw results into the report: comparisons with floors and peers, and the
 * terminal tables.
 */
import { type BenchResult, type CaseResult, keyOf, type TargetStatus } from './results.js';

/** Which floor each measured case is compared with (same variant). */
const FLOOR_OF: Record<string, { case: string; store: string }> = {
  'cycle|memory': { case: 'floor.minimal-cycle', store: 'memory' },
  'cycle|sqlite-full': { case: 'floor.raw-sqlite', store: 'sqlite-full' },
  'cycle|sqlite-normal': { case: 'floor.raw-sqlite', store: 'sqlite-normal' },
  'cycle|pglite': { case: 'floor.raw-pglite', store: 'pglite' },
  'cycle|postgres': { case: 'floor.raw-pg', store: 'postgres' },
  'peer.langgraph|memorysaver': { case: 'floor.minimal-cycle', store: 'memory' },
  'peer.langgraph|sqlitesaver': { case: 'floor.raw-sqlite', store: 'sqlite-full' },
  'peer.openai-agents|memory': { case: 'floor.minimal-cycle', store: 'memory' },
  'peer.openai-agents|serialised': { case: 'floor.minimal-cycle', store: 'memory' },
};

/** Fills in floors, ratios and defaults. */
export function compare(raw: CaseResult[]): BenchResult[] {
  const results: BenchResult[] = raw.map((r) => ({
    ...r,
    heapBytes: r.heapBytes ?? null,
    notes: r.notes ?? '',
    floor: null,
    ratioToFloor: null,
    ratioToPeers: null,
  }));
  const byKey = new Map(results.map((r) => [keyOf(r), r]));
  const peers = results.filter((r) => r.case.startsWith('peer.'));
  for (const r of results) {
    const f = FLOOR_OF[`${r.case}|${r.store}`];
    if (f !== undefined) {
      const floor = byKey.get(`${f.case}|${f.store}|${r.variant}`);
      if (floor !== undefined) {
        r.floor = keyOf(floor);
        r.ratioToFloor = ratio(r.opsPerSec, floor.opsPerSec);
      }
    }
    if (r.case === 'gate.execute-action') {
      const h = byKey.get('floor.handler|none|');
      if (h !== undefined) {
        r.floor = keyOf(h);
        r.ratioToFloor = ratio(r.opsPerSec, h.opsPerSec);
      }
    }
    if (r.case === 'cycle') {
      const same = peers.filter((p) => p.variant === r.variant);
      if (same.length > 0) {
        r.ratioToPeers = {};
        for (const p of same) {
          const x = ratio(r.opsPerSec, p.opsPerSec);
          if (x !== null) r.ratioToPeers[keyOf(p)] = x;
        }
      }
    }
  }
  return results;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

// ------------------------------------------------------------------ terminal tables

const num = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Significant digits that suit the size of a latency. */
const us = (n: number | null | undefined): string =>
  n === null || n === undefined ? '-' : num(n, Math.abs(n) < 10 ? 2 : Math.abs(n) < 100 ? 1 : 0);

const PEER_SHORT: Record<string, string> = {
  'peer.langgraph|memorysaver': 'LG-mem',
  'peer.langgraph|sqlitesaver': 'LG-sqlite',
  'peer.openai-agents|memory': 'OA-mem',
  'peer.openai-agents|serialised': 'OA-ser',
};

function table(header: string[], rows: string[][], rightFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= rightFrom ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The results table. */
export function resultsTable(results: BenchResult[]): string {
  const rows = results.map((r) => {
    const peers = r.ratioToPeers
      ? Object.entries(r.ratioToPeers)
          .map(([k, v]) => `${PEER_SHORT[k.split('|').slice(0, 2).join('|')] ?? k} ${num(v, v < 10 ? 1 : 0)}x`)
          .join(' ')
      : '';
    return [
      r.case,
      r.store,
      r.variant,
      num(r.opsPerSec),
      us(r.p50Us),
      us(r.p99Us),
      r.heapBytes === null ? '-' : num(r.heapBytes),
      r.ratioToFloor === null ? '-' : num(r.ratioToFloor, 2),
      peers,
    ];
  });
  return table(['case', 'store', 'variant', 'ops/s', 'p50 µs', 'p99 µs', 'heap B/op', 'x floor', 'x peers'], rows, 3);
}

/** The targets table. */
export function targetsTable(targets: TargetStatus[]): string {
  const mark = { pass: 'PASS', miss: 'MISS', skipped: 'SKIP' } as const;
  const rows = targets.map((t) => [
    mark[t.status],
    t.description,
    t.measured === null
      ? '-'
      : `${num(t.measured, t.unit === 'x' || t.unit === 'x floor' ? 2 : t.measured < 100 ? 1 : 0)}`,
    `${t.unit === 'x' || t.unit === 'x floor' ? '' : ''}${num(t.threshold, t.threshold < 10 ? 1 : 0)} ${t.unit}`,
  ]);
  return table(['status', 'target', 'measured', 'threshold'], rows, 2);
}
