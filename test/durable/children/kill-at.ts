import type { Executor } from '../../../src/execution/executor.js';
import { die, effectTool, emit, env, main, openConnector } from './common.js';

/**
 * Executes proposal `OC_PROPOSAL_ID` and SIGKILLs itself at `OC_KILL_AT`:
 * - `after_claim`: the proposal is `executing` (its `action_executing` record is committed), the tool has not started;
 * - `in_handler`: inside the tool's handler, before its side effect;
 * - `after_handler`: the handler returned (side effect done), its result not stored yet;
 * - `after_audit`: the outcome and its `action_executed` record are committed.
 */
main(async () => {
  const killAt = env('OC_KILL_AT');
  const registry = effectTool(undefined, { beforeEffect: killAt === 'in_handler' ? die : undefined });
  const executor: Executor = {
    describe: (tool) => registry.describe(tool),
    execute: async (call, ctx) => {
      const value = await registry.execute(call, ctx);
      if (killAt === 'after_handler') die();
      return value;
    },
  };
  const connector = await openConnector(executor);
  if (killAt === 'after_claim') connector.on('action_executing', () => die());
  if (killAt === 'after_audit') connector.on('action_executed', () => die());
  const result = await connector.executeAction({ proposal_id: env('OC_PROPOSAL_ID') });
  emit({ type: 'done', survived: true, result });
});
