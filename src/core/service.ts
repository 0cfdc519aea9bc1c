import type { z } from 'zod';
import type { Kernel } from '../kernel.js';
import type { EntityKind } from '../stores/store.js';

/** Page size when a query gives no `limit`. */
export const DEFAULT_LIMIT = 100;

/** A parsed method input. */
export type In<S extends z.ZodType> = z.output<S>;

/** What the actor, workflow, proposal and audit services share. Internal. */
export class Service {
  constructor(readonly k: Kernel) {}

  protected nowIso(): string {
    return this.k.now().toISOString();
  }

  query<K extends EntityKind>(kind: K, filters: Array<[string, string]>, limit?: number, after?: string) {
    return this.k.guardStore(() =>
      this.k.store.query(kind, { filters, limit: limit ?? DEFAULT_LIMIT, ...(after !== undefined ? { after } : {}) }),
    );
  }

  async requireActors(ids: Iterable<string>, what: string): Promise<void> {
    for (const id of new Set(ids)) {
      await this.k.load(
        'actor',
        id,
        `${what} must name existing actors: create it with createActor({ id: '${id}', ... }).`,
      );
    }
  }
}
