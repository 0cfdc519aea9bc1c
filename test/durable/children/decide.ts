import { createInterface } from 'node:readline';
import { emit, env, errorCode, main, openConnector, Tally } from './common.js';

/**
 * Sends `OC_DECISION` (approve | reject) as reviewer `OC_REVIEWER` on the proposal named by each
 * `go <proposalId>` line on stdin, at once, and answers `decided` with the outcome. The parent
 * writes the same line to two of these at the same moment: one round of a decision race.
 */
main(async () => {
  const decision = env('OC_DECISION') as 'approve' | 'reject';
  const reviewer = env('OC_REVIEWER');
  const connector = await openConnector();
  await connector.getPolicy();
  const tally = new Tally();
  const rl = createInterface({ input: process.stdin });
  emit({ type: 'ready', pid: process.pid });
  for await (const line of rl) {
    const [command, id] = line.trim().split(' ');
    if (command === 'end') break;
    if (command !== 'go' || id === undefined) continue;
    let outcome: string;
    try {
      outcome = `ok:${(await connector.reviewAction({ proposal_id: id, reviewer_id: reviewer, decision })).status}`;
      tally.add(outcome);
    } catch (err) {
      outcome = errorCode(err);
      tally.error(err);
    }
    emit({ type: 'decided', id, outcome });
  }
  await connector.close();
  emit({ type: 'done', pid: process.pid, counts: tally.counts, examples: tally.examples });
});
