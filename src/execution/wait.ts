import { OrchestrationError } from '../errors.js';
import type * as s from '../schemas.js';
import type { ActionProposal } from '../types.js';
import type { GateBase, In } from './gate-base.js';

const DEFAULT_WAIT_MS = 30_000;
const SHARED_POLL_MS = 100;

/**
 * Resolves once the proposal is no longer pending; polls shared stores and listens to store notifications.
 * Ends early when the connector closes (with the close reason) or when `signal` aborts (with its reason).
 */
export async function waitForDecision(
  gate: GateBase,
  i: In<typeof s.waitForDecisionInput>,
  events: {
    on(e: 'audit', fn: (e: { entityId: string }) => void): unknown;
    off(e: 'audit', fn: (e: { entityId: string }) => void): unknown;
  },
  signal?: AbortSignal,
): Promise<ActionProposal> {
  signal?.throwIfAborted();
  const timeoutMs = i.timeout_ms ?? DEFAULT_WAIT_MS;
  let deadline: string | undefined;
  const check = async (): Promise<ActionProposal | undefined> => {
    const expired = await gate.expireIfDue(i.proposal_id);
    if (expired) return expired;
    const a = await gate.k.load('action', i.proposal_id, 'Check proposal_id.');
    deadline = a.expiresAt;
    return a.status === 'pending' ? undefined : a;
  };
  const first = await check();
  if (first) return first;
  signal?.throwIfAborted();
  const lifetime = gate.k.stopSource;
  if (lifetime.signal.aborted) throw lifetime.signal.reason;
  return new Promise<ActionProposal>((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const timers: NodeJS.Timeout[] = [];
    let unwatch: (() => void) | undefined;
    const finishWith = (fn: () => void) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      clearInterval(poll);
      events.off('audit', onEvent);
      unwatch?.();
      lifetime.remove(stop);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const stop = { stopped: (reason: unknown) => finishWith(() => reject(reason)) };
    const onAbort = () => finishWith(() => reject(signal?.reason));
    lifetime.add(stop);
    signal?.addEventListener('abort', onAbort, { once: true });
    const recheck = () => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      check().then(
        (a) => {
          checking = false;
          if (a) finishWith(() => resolve(a));
          else if (again) {
            again = false;
            recheck();
          }
        },
        (err) => {
          checking = false;
          finishWith(() => reject(err));
        },
      );
    };
    const onEvent = (e: { entityId: string }) => {
      if (e.entityId === i.proposal_id) recheck();
    };
    events.on('audit', onEvent);
    const store = gate.k.store;
    if (store.capabilities.notifications && typeof store.watch === 'function') {
      unwatch = store.watch((kind, id) => {
        if (kind === 'action' && id === i.proposal_id) recheck();
      });
    }
    const poll = setInterval(recheck, store.capabilities.shared ? SHARED_POLL_MS : 1000);
    if (deadline !== undefined) {
      // Expiry is a decision too: look again just after the deadline instead of at the next poll.
      const dueInMs = Date.parse(deadline) - gate.k.now().getTime() + 1;
      if (dueInMs < timeoutMs) timers.push(setTimeout(recheck, Math.max(0, dueInMs)));
    }
    timers.push(
      setTimeout(
        () =>
          finishWith(() =>
            reject(
              new OrchestrationError(
                'TIMEOUT',
                `No decision on '${i.proposal_id}' within ${timeoutMs} ms. Wait again or remind its reviewers.`,
                {
                  proposalId: i.proposal_id,
                  timeoutMs,
                },
              ),
            ),
          ),
        timeoutMs,
      ),
    );
  });
}
