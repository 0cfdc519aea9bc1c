import { OrchestrationError } from '../errors.js';
import type * as s from '../schemas.js';
import type { Actor } from '../types.js';
import { newId } from '../util/ids.js';

import { type In, Service } from './service.js';

/** Actors: create, update, read, query. Internal: the connector validates inputs and delegates here. */
export class Actors extends Service {
  async createActor(i: In<typeof s.createActorInput>): Promise<Actor> {
    const now = this.nowIso();
    const actor: Actor = {
      id: i.id ?? newId('actor'),
      name: i.name,
      role: i.role,
      capabilities: [...new Set(i.capabilities ?? [])],
      status: i.status ?? 'active',
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    const r = await this.k.commit({
      writes: [{ kind: 'actor', entity: actor }],
      drafts: [
        this.k.draft(
          {
            type: 'actor_created',
            details: { name: actor.name, role: actor.role, capabilities: actor.capabilities, status: actor.status },
          },
          'actor',
          actor.id,
          actor.id,
          now,
        ),
      ],
    });
    if (!r.ok) {
      throw new OrchestrationError(
        'CONFLICT',
        `Actor '${actor.id}' already exists. Use updateActor, or pick another id.`,
        { id: actor.id },
      );
    }
    return actor;
  }

  async updateActor(i: In<typeof s.updateActorInput>): Promise<Actor> {
    return this.k.mutate('actor', i.id, `Create it with createActor({ id: '${i.id}', ... }).`, (a) => {
      const now = this.nowIso();
      const next: Actor = { ...a, updatedAt: now, version: a.version + 1 };
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const key of ['name', 'role', 'capabilities', 'status'] as const) {
        const v = key === 'capabilities' && i.capabilities ? [...new Set(i.capabilities)] : i[key];
        if (v !== undefined && JSON.stringify(v) !== JSON.stringify(a[key])) {
          changes[key] = { from: a[key], to: v };
          (next as unknown as Record<string, unknown>)[key] = v;
        }
      }
      return {
        mutation: {
          writes: [{ kind: 'actor', entity: next, expectedVersion: a.version }],
          drafts: [this.k.draft({ type: 'actor_updated', details: { changes } }, 'actor', a.id, a.id, now)],
        },
        result: next,
      };
    });
  }

  async getActor(i: In<typeof s.getByIdInput>): Promise<Actor> {
    return this.k.load('actor', i.id, `Create it with createActor({ id: '${i.id}', ... }).`);
  }

  async queryActors(i: In<typeof s.queryActorsInput>): Promise<Actor[]> {
    const filters: Array<[string, string]> = [];
    if (i.status) filters.push(['status', i.status]);
    if (i.role) filters.push(['role', i.role]);
    for (const c of new Set(i.capabilities ?? [])) filters.push(['capability', c]);
    return this.query('actor', filters, i.limit, i.after);
  }
}
