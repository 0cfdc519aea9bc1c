import { auditCases } from './conformance-audit.js';
import { entityCases } from './conformance-entities.js';
import { queryCases } from './conformance-queries.js';
import type { ConformanceCase } from './fixtures.js';

export type { ConformanceCase } from './fixtures.js';
export { actorEntity, changeOf } from './fixtures.js';

/**
 * The store conformance cases: the whole {@link Store} contract (reads, conditional commits, unique
 * keys, indexed keyset-paged queries, counts, the audit chain and its queries, clear, concurrency).
 * They use `node:assert`, so any test runner can run them. Run every case on a fresh, initialised
 * store:
 *
 * ```ts
 * for (const c of storeConformanceCases()) {
 *   it(c.name, async () => c.run(await makeStore()));
 * }
 * ```
 *
 * @see {@link Store}
 */
export function storeConformanceCases(): ConformanceCase[] {
  return [...entityCases(), ...queryCases(), ...auditCases()];
}
