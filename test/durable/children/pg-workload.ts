import { readFileSync } from 'node:fs';
import { barrier, emit, env, main, openConnector, Tally } from './common.js';

/**
 * For each proposal of `OC_IDS_FILE` in turn (after the start barrier): approves it as
 * `OC_REVIEWER`, then fires `OC_CALLS` concurrent executeAction calls at it. Meant to run while
 * another client kills database connections: reports every outcome by code and the executions won.
 */
main(async () => {
  const ids = JSON.parse(readFileSync(env('OC_IDS_FILE'), 'utf8')) as string[];
  const calls = Number(env('OC_CALLS'));
  const reviewer = env('OC_REVIEWER');
  const connector = await openConnector();
  await connector.getPolicy();
  await barrier();
  const tally = new Tally();
  const won: Array<{ proposalId: string; executionId: string }> = [];
  for (const id of ids) {
    try {
      await connector.reviewAction({ proposal_id: id, reviewer_id: reviewer, decision: 'approve' });
      tally.add('review:ok');
    } catch (err) {
      tally.error(err);
    }
    await Promise.all(
      Array.from({ length: calls }, async () => {
        try {
          const r = await connector.executeAction({ proposal_id: id });
          if (r.success) {
            tally.add('execute:ok');
            won.push({ proposalId: id, executionId: r.executionId });
          } else tally.add(`result:${r.error?.code}`, r.message);
        } catch (err) {
          tally.error(err);
        }
      }),
    );
  }
  await connector.close();
  emit({ type: 'done', pid: process.pid, counts: tally.counts, examples: tally.examples, won });
});
