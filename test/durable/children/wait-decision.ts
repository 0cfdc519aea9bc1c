import { describeError, effectTool, emit, env, main, openConnector, openStore } from './common.js';

/**
 * Waits for decisions on the proposals of `OC_WAITS` (comma-separated `proposalId=timeoutMs`) and
 * reports what each wait returned. It wraps the store's `watch` (when it has one) to
 * report whether the wait subscribed to change notifications and received one.
 */
main(async () => {
  const waitsFor = env('OC_WAITS')
    .split(',')
    .map((w) => w.split('=') as [string, string]);
  const store = await openStore();
  const notified = new Set<string>();
  let subscriptions = 0;
  const watch = store.watch?.bind(store);
  if (watch !== undefined) {
    store.watch = (listener) => {
      subscriptions++;
      return watch((kind, id) => {
        if (kind === 'action') notified.add(id);
        listener(kind, id);
      });
    };
  }
  const connector = await openConnector(effectTool(), store);
  await connector.getPolicy();
  const started = Date.now();
  const waits = waitsFor.map(([id, timeout]) =>
    connector.waitForDecision({ proposal_id: id, timeout_ms: Number(timeout) }).then(
      (a) => ({ id, status: a.status, reviewers: a.reviews.map((r) => r.reviewerId), ms: Date.now() - started }),
      (err) => ({ id, error: describeError(err), ms: Date.now() - started }),
    ),
  );
  emit({ type: 'waiting', pid: process.pid });
  const results = await Promise.all(waits);
  await connector.close();
  emit({
    type: 'done',
    pid: process.pid,
    results,
    watch: { available: watch !== undefined, subscriptions, notified: [...notified] },
  });
});
