import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../../src/execution/lease-keeper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LeaseKeeper (one timer for every running execution)', () => {
  it('renews each kept lease every third of its length, each on its own period', async () => {
    const renewals: string[] = [];
    const keeper = new LeaseKeeper(async (_id, executionId) => {
      renewals.push(executionId);
    });
    const fast = keeper.keep('action_a', 'exec_fast', 60); // every 20 ms
    const slow = keeper.keep('action_b', 'exec_slow', 300); // every 100 ms
    await sleep(250);
    await fast.stop();
    await slow.stop();
    const fastCount = renewals.filter((e) => e === 'exec_fast').length;
    const slowCount = renewals.filter((e) => e === 'exec_slow').length;
    expect(fastCount).toBeGreaterThanOrEqual(4);
    expect(slowCount).toBeGreaterThanOrEqual(1);
    expect(slowCount).toBeLessThan(fastCount);
  });

  it('stops renewing a stopped lease, and stop waits for a renewal under way', async () => {
    const seen: string[] = [];
    let release: () => void = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const keeper = new LeaseKeeper(async (_id, executionId) => {
      seen.push(executionId);
      await blocked;
    });
    const kept = keeper.keep('action_a', 'exec_1', 30); // first renewal after 10 ms; it waits for `release`
    while (seen.length === 0) await sleep(5);
    let stopped = false;
    const renewing = kept.stop();
    expect(renewing).toBeInstanceOf(Promise);
    const stopping = (renewing as Promise<void>).then(() => {
      stopped = true;
    });
    await sleep(30);
    expect(stopped).toBe(false); // the renewal under way is not finished
    release();
    await stopping;
    expect(stopped).toBe(true);
    const count = seen.length;
    await sleep(60);
    expect(seen.length).toBe(count);
  });

  it('stop of a lease never renewed has nothing to wait for', () => {
    const keeper = new LeaseKeeper(async () => {});
    expect(keeper.keep('action_a', 'exec_1', 30_000).stop()).toBeUndefined();
  });

  it('a failed renewal is tried again at the next period', async () => {
    let calls = 0;
    const keeper = new LeaseKeeper(async () => {
      calls++;
      throw new Error('database away');
    });
    const kept = keeper.keep('action_a', 'exec_1', 45); // every 15 ms
    await sleep(100);
    await kept.stop();
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('a lease kept after the others stopped is still renewed', async () => {
    const seen: string[] = [];
    const keeper = new LeaseKeeper(async (_id, executionId) => {
      seen.push(executionId);
    });
    await keeper.keep('action_a', 'exec_1', 30).stop();
    await sleep(30); // the timer set for exec_1 fires with nothing to renew
    const later = keeper.keep('action_b', 'exec_2', 30);
    await sleep(60);
    await later.stop();
    expect(seen).not.toContain('exec_1');
    expect(seen.filter((e) => e === 'exec_2').length).toBeGreaterThanOrEqual(2);
  });
});
