import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { findChainBreak } from '../../src/audit/chain.js';
import { SqliteStore } from '../../src/sqlite.js';
import {
  actionEntity,
  actorEntity,
  allAudit,
  changeOf,
  draftOf,
  expectOk,
  insertOf,
  updateOf,
} from '../../src/testing/fixtures.js';
import type { ActionProposal, Actor } from '../../src/types.js';
import { sqliteTestFiles } from '../helpers/sqlite-files.js';

const { open, freshFile } = sqliteTestFiles('oc-sqlite-cache-');

async function twoStores(): Promise<[SqliteStore, SqliteStore, string]> {
  const filename = freshFile('two');
  const a = new SqliteStore({ filename, synchronous: 'NORMAL', checkpoint: 'inline' });
  const b = new SqliteStore({ filename, synchronous: 'NORMAL', checkpoint: 'inline' });
  open.push(a, b);
  await a.init();
  await b.init();
  return [a, b, filename];
}

describe('SqliteStore read cache', () => {
  it('serves reads and commit checks only until another connection commits', async () => {
    const [a, b] = await twoStores();
    const p = actionEntity();
    expectOk(await a.commit(changeOf([insertOf('action', p)])));
    // A knows p (it wrote it); B changes it.
    expect((await a.get('action', p.id))?.version).toBe(1);
    const fromB = (await b.get('action', p.id)) as ActionProposal;
    expectOk(await b.commit(changeOf([updateOf('action', fromB, { status: 'approved' })])));
    // A sees B's version, on a single read, on a batched read, and in its commit checks.
    expect(await a.get('action', p.id)).toMatchObject({ version: 2, status: 'approved' });
    const [many] = await a.getMany([['action', p.id]]);
    expect(many).toMatchObject({ version: 2, status: 'approved' });
    const stale = await a.commit(changeOf([updateOf('action', { ...p }, { status: 'rejected' })]));
    expect(stale).toMatchObject({ ok: false, conflict: { reason: 'version', id: p.id } });
    expectOk(await a.commit(changeOf([updateOf('action', many as ActionProposal, { status: 'executing' })])));
    expect(await b.get('action', p.id)).toMatchObject({ version: 3, status: 'executing' });
  });

  it('sees entities another connection creates after it found them absent', async () => {
    const [a, b] = await twoStores();
    const actor = actorEntity();
    expect(
      await a.getMany([
        ['actor', actor.id],
        ['policy', 'policy'],
      ]),
    ).toEqual([undefined, undefined]);
    expectOk(await b.commit(changeOf([insertOf('actor', actor)])));
    const [seen] = await a.getMany([
      ['actor', actor.id],
      ['policy', 'policy'],
    ]);
    expect(seen).toMatchObject({ id: actor.id, version: 1 });
    // A commit of A that expects the actor absent conflicts; one that expects version 1 applies.
    expect(await a.commit(changeOf([insertOf('actor', actor)]))).toMatchObject({
      ok: false,
      conflict: { reason: 'exists' },
    });
    expectOk(await a.commit(changeOf([updateOf('actor', seen as Actor, { name: 'Renamed' })])));
  });

  it('keeps one gapless chain when two connections append in turns', async () => {
    const [a, b] = await twoStores();
    for (let i = 0; i < 20; i++) {
      const store = i % 3 === 0 ? b : a;
      expectOk(await store.commit(changeOf([], [draftOf(), draftOf()])));
    }
    for (const store of [a, b]) {
      const trail = await allAudit(store);
      expect(trail.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(findChainBreak(trail, null)).toBeUndefined();
      expect(await store.auditHead()).toMatchObject({ seq: 40, hash: trail[39]?.hash });
    }
  });

  it('forgets nothing it must not keep after a conflict rolls back', async () => {
    const [a] = await twoStores();
    const p = actionEntity();
    const q = actionEntity();
    expectOk(await a.commit(changeOf([insertOf('action', p)])));
    // q is written first, then p conflicts: the whole change rolls back, q included.
    const result = await a.commit(changeOf([insertOf('action', q), updateOf('action', p, { status: 'approved' }, 7)]));
    expect(result).toMatchObject({ ok: false, conflict: { reason: 'version' } });
    expect(await a.get('action', q.id)).toBeUndefined();
    expect(await a.get('action', p.id)).toMatchObject({ version: 1, status: 'pending' });
    expect(await a.auditHead()).toMatchObject({ seq: 1 });
    expectOk(await a.commit(changeOf([insertOf('action', q)])));
    expect(await a.auditHead()).toMatchObject({ seq: 2 });
  });

  it('reads entities it no longer keeps from the database', async () => {
    const [a, b] = await twoStores();
    const actors = Array.from({ length: 300 }, () => actorEntity());
    for (const actor of actors) expectOk(await a.commit(changeOf([insertOf('actor', actor)])));
    const first = actors[0] as Actor;
    expect(await a.get('actor', first.id)).toMatchObject({ id: first.id, version: 1 });
    expectOk(await a.commit(changeOf([updateOf('actor', first, { name: 'Again' })])));
    expect(await b.get('actor', first.id)).toMatchObject({ version: 2, name: 'Again' });
  });

  it('keeps at most 4 M characters of JSON, and no entity of more than an eighth of that', async () => {
    const [a, b] = await twoStores();
    type Internals = { cache: { chars: number; data(key: string): string | null | undefined } };
    const cache = (a as unknown as Internals).cache;
    const big = (i: number) => actorEntity({ name: `${i}`.padEnd(300_000, 'x') });
    const actors = Array.from({ length: 20 }, (_, i) => big(i));
    for (const actor of actors) expectOk(await a.commit(changeOf([insertOf('actor', actor)])));
    expect(cache.chars).toBeGreaterThan(3_000_000);
    expect(cache.chars).toBeLessThanOrEqual(4 * 1024 * 1024);
    // The oldest went first; the newest is kept.
    expect(cache.data(`actor\u0000${actors[0]?.id}`)).toBeUndefined();
    expect(cache.data(`actor\u0000${actors[19]?.id}`)).toContain('"name":"19x');
    const huge = actorEntity({ name: 'h'.padEnd(600_000, 'x') });
    expectOk(await a.commit(changeOf([insertOf('actor', huge)])));
    expect(cache.data(`actor\u0000${huge.id}`)).toBeUndefined();
    // Every read is still right, kept or not.
    for (const actor of [actors[0] as Actor, actors[19] as Actor, huge]) {
      expect((await a.get('actor', actor.id))?.name).toBe(actor.name);
      expectOk(await b.commit(changeOf([updateOf('actor', actor, { name: 'short' })])));
      expect(await a.get('actor', actor.id)).toMatchObject({ name: 'short', version: 2 });
    }
  });

  it('is not used on a database handle the caller owns (its own writes would not show)', async () => {
    const db = new Database(freshFile('owned'));
    open.push(db);
    const store = new SqliteStore({ database: db });
    open.unshift(store);
    await store.init();
    const actor = actorEntity();
    expectOk(await store.commit(changeOf([insertOf('actor', actor)])));
    expect(await store.get('actor', actor.id)).toMatchObject({ name: 'Test' });
    // The caller edits the row through the same connection.
    db.prepare("UPDATE oc_entities SET data = json_set(data, '$.name', 'Edited') WHERE id = ?").run(actor.id);
    expect(await store.get('actor', actor.id)).toMatchObject({ name: 'Edited' });
  });

  it('starts over after clear()', async () => {
    const [a, b] = await twoStores();
    const actor = actorEntity();
    expectOk(await a.commit(changeOf([insertOf('action', actionEntity()), insertOf('actor', actor)])));
    await a.clear(changeOf([], [draftOf()]));
    expect(await a.get('actor', actor.id)).toBeUndefined();
    expect(await a.auditHead()).toMatchObject({ seq: 1 });
    expectOk(await a.commit(changeOf([insertOf('actor', actor)])));
    const trail = await allAudit(b);
    expect(trail.map((e) => e.seq)).toEqual([1, 2]);
    expect(findChainBreak(trail, null)).toBeUndefined();
  });
});
