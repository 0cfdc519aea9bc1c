import { barrier, emit, env, main, openConnector, pool, Tally } from './common.js';

/**
 * Makes `OC_CHANGES` audited changes after the start barrier, `OC_IN_FLIGHT` at a time: it creates
 * actors `<OC_PREFIX>-<n>` and updates each right after creating it (two records per actor).
 */
main(async () => {
  const prefix = env('OC_PREFIX');
  const changes = Number(env('OC_CHANGES'));
  const connector = await openConnector();
  await connector.getPolicy();
  await barrier();
  const tally = new Tally();
  const actors = Array.from({ length: changes / 2 }, (_, n) => `${prefix}-${n}`);
  await pool(actors, Number(process.env.OC_IN_FLIGHT ?? 8), async (id) => {
    try {
      await connector.createActor({ id, name: id, role: 'writer' });
      tally.add('ok');
      await connector.updateActor({ id, status: 'busy' });
      tally.add('ok');
    } catch (err) {
      tally.error(err);
    }
  });
  await connector.close();
  emit({ type: 'done', pid: process.pid, counts: tally.counts, examples: tally.examples });
});
