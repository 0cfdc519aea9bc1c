import { readFileSync } from 'node:fs';
import { barrier, emit, env, main, openConnector, pool, Tally } from './common.js';

/**
 * Fires `OC_CALLS` concurrent executeAction calls at each proposal of `OC_IDS_FILE` (JSON array),
 * `OC_WINDOW` proposals at a time, after the start barrier. Reports every outcome by code and the
 * executions this process won.
 */
main(async () => {
  const ids = JSON.parse(readFileSync(env('OC_IDS_FILE'), 'utf8')) as string[];
  const calls = Number(env('OC_CALLS'));
  const window = Number(process.env.OC_WINDOW ?? ids.length);
  const connector = await openConnector();
  await connector.getPolicy(); // opens and migrates the store before the barrier
  await barrier();
  const tally = new Tally();
  const won: Array<{ proposalId: string; executionId: string }> = [];
  await pool(ids, window, async (id) => {
    await Promise.all(
      Array.from({ length: calls }, async () => {
        try {
          const r = await connector.executeAction({ proposal_id: id });
          if (r.success) {
            tally.add('ok');
            won.push({ proposalId: id, executionId: r.executionId });
          } else tally.add(`result:${r.error?.code}`, r.message);
        } catch (err) {
          tally.error(err);
        }
      }),
    );
  });
  await connector.close();
  emit({ type: 'done', pid: process.pid, counts: tally.counts, examples: tally.examples, won });
});
