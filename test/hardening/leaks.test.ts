import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { REDACTED } from '../../src/audit/redact.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { isOrchestrationError } from '../../src/errors.js';
import { NonRetryableError, type ToolDefinition } from '../../src/execution/executor.js';
import type { Store } from '../../src/stores/store.js';
import type { AuditEvent } from '../../src/types.js';
import { collect, collectErrors, connectorsOn, manualClock } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const PASSWORD = 'hunter2-Pa55word-9f3a';
const TOKEN = 'tok_live_51HxSecretValue77';
const SECRETS = [PASSWORD, TOKEN];
/** Paths through arrays apply to every element: `keys.token.value` covers `keys[i].token.value`. */
const REDACT = ['password', 'token.value', 'keys.token.value'];

const params = () => ({
  user: 'ada',
  password: PASSWORD,
  token: { value: TOKEN, kind: 'bearer' },
  keys: [{ token: { value: TOKEN } }],
});

/** Every place a secret could surface, as text. */
function expectNoSecret(what: string, value: unknown, secrets: readonly string[] = SECRETS): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const s of secrets) expect(text, `${what} leaks a secret`).not.toContain(s);
}

function tools(received: Array<Record<string, unknown>>): Record<string, ToolDefinition> {
  return {
    login: {
      redact: REDACT,
      schema: z.object({
        user: z.string(),
        password: z.string(),
        token: z.object({ value: z.string(), kind: z.string() }).optional(),
        keys: z.array(z.object({ token: z.object({ value: z.string() }) })).optional(),
      }),
      handler: async (p) => {
        received.push(structuredClone(p));
        return { ok: true };
      },
    },
    login_fails: {
      redact: REDACT,
      requiresApproval: false,
      handler: async (p) => {
        received.push(structuredClone(p));
        // A careless tool: its error message repeats the secret it was given.
        throw new NonRetryableError(
          `login failed for ${p.user} with password ${p.password} and token ${JSON.stringify(p.token)}`,
        );
      },
    },
    lookup: {
      redact: REDACT,
      readOnly: true,
      handler: async (p) => {
        received.push(structuredClone(p));
        return { found: true };
      },
    },
  };
}

for (const s of storesUnderTest()) {
  describe(`leaks - ${s.name} store`, () => {
    const { makeWithStore } = connectorsOn(s);

    async function setup(config: { dryRun?: boolean } = {}) {
      const received: Array<Record<string, unknown>> = [];
      const { connector, store } = await makeWithStore({ tools: tools(received), maxRetries: 0, ...config });
      const audit = collect(connector, 'audit');
      const errors = collectErrors(connector);
      await connector.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
      await connector.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
      return { connector, store, received, audit, errors };
    }

    async function storedTrail(store: Store): Promise<AuditEvent[]> {
      return store.readAudit(1, 10_000);
    }

    it('redacted params: audit records, events and results show [REDACTED]; the handler gets the real values', async () => {
      const { connector, store, received, audit } = await setup();
      const proposed = await connector.proposeAction({
        actor_id: 'agent',
        tool: 'login',
        params: params(),
        reason: 'r',
      });
      await connector.reviewAction({ proposal_id: proposed.id, reviewer_id: 'reviewer', decision: 'approve' });
      const result = await connector.executeAction({ proposal_id: proposed.id });

      expect(received).toEqual([params()]);
      expect(result.success).toBe(true);
      expect(result.params).toEqual({
        user: 'ada',
        password: REDACTED,
        token: { value: REDACTED, kind: 'bearer' },
        keys: [{ token: { value: REDACTED } }],
      });
      expectNoSecret('the execution result', result);

      const trail = await storedTrail(store);
      expectNoSecret('the stored audit trail', trail);
      const proposedEvent = trail.find((e) => e.eventType === 'action_proposed');
      expect(proposedEvent?.details.params).toMatchObject({ password: REDACTED, token: { value: REDACTED } });
      expectNoSecret('emitted events', audit);
      expectNoSecret('queryAuditEvents', await connector.queryAuditEvents({ limit: 1000 }));
      expect(await connector.verifyAuditTrail()).toMatchObject({ valid: true });

      // Documented: the store keeps the params themselves (the handler needs them), and the proposal returns them.
      expect((await connector.getActionProposal({ id: proposed.id })).params).toEqual(params());
    });

    it('dry runs: the message and result show [REDACTED]', async () => {
      const { connector, store, received, audit } = await setup();
      const p = await connector.proposeAction({ actor_id: 'agent', tool: 'login', params: params(), reason: 'r' });
      await connector.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' });
      const dry = await connector.executeAction({ proposal_id: p.id, dry_run: true });
      expect(dry.message).toMatch(/^\[DRY RUN\] Would execute login with /);
      expect(dry.message).toContain(REDACTED);
      expectNoSecret('the dry-run result', dry);
      const batch = await connector.executeParallel({ calls: [{ tool: 'lookup', params: params() }], dry_run: true });
      expectNoSecret('the dry-run batch', batch);
      expect(received).toEqual([]);
      expectNoSecret('the stored audit trail', await storedTrail(store));
      expectNoSecret('emitted events', audit);
    });

    it('a tool whose error repeats its secrets: results and audit records show [REDACTED] instead', async () => {
      const { connector, store, received, audit } = await setup();
      const raw = await connector.executeParallel({ calls: [{ tool: 'login_fails', params: params() }] });
      const viaRetry = await connector.executeWithRetry({ tool: 'login_fails', params: params() });
      const p = await connector.proposeAction({
        actor_id: 'agent',
        tool: 'login_fails',
        params: params(),
        reason: 'r',
      });
      const proposed = await connector.executeAction({ proposal_id: p.id });
      expect(received).toHaveLength(3);
      for (const r of [raw.results[0], proposed]) {
        expect(r?.success).toBe(false);
        expect(r?.error?.code).toBe('HANDLER_ERROR');
        expect(r?.error?.message).toContain(`password ${REDACTED}`);
        expect(r?.message).toContain(REDACTED);
      }
      expect(viaRetry.error?.message).toContain(REDACTED);
      expectNoSecret('failed results', [raw, viaRetry, proposed]);
      expectNoSecret('the stored action', (await connector.getActionProposal({ id: p.id })).execution);
      expectNoSecret('the stored audit trail', await storedTrail(store));
      expectNoSecret('emitted events', audit);
    });

    it('edits: the review event shows the edited params redacted', async () => {
      const { connector, store, audit } = await setup();
      const p = await connector.proposeAction({ actor_id: 'agent', tool: 'login', params: params(), reason: 'r' });
      const NEW = 'n3w-Secret-Passw0rd-2b8e';
      await connector.reviewAction({
        proposal_id: p.id,
        reviewer_id: 'reviewer',
        decision: 'edit',
        edits: { password: NEW },
      });
      const reviewed = (await storedTrail(store)).find((e) => e.eventType === 'proposal_reviewed');
      expect(reviewed?.details.params).toMatchObject({ password: REDACTED });
      expectNoSecret('the stored audit trail', await storedTrail(store), [...SECRETS, NEW]);
      expectNoSecret('emitted events', audit, [...SECRETS, NEW]);
    });
  });
}

describe('leaks - error messages', () => {
  const open: OrchestrationConnector[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });

  async function setup() {
    const received: Array<Record<string, unknown>> = [];
    const clock = manualClock();
    const c = new OrchestrationConnector({ tools: tools(received), clock: clock.now, maxRetries: 0 });
    open.push(c);
    await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
    await c.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
    return { c, clock };
  }

  /** Runs `call`, which must fail, and checks that its error carries none of the secrets, in message or details. */
  async function failsWithoutSecrets(what: string, call: () => Promise<unknown>, secrets: readonly string[] = SECRETS) {
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    expect(isOrchestrationError(error), `${what} should fail with an OrchestrationError`).toBe(true);
    const e = error as Error & { details: unknown };
    expectNoSecret(`${what}: message`, e.message, secrets);
    expectNoSecret(`${what}: details`, e.details, secrets);
    return e;
  }

  it('failures around params never repeat the params: schema, size, depth, approval, conflicts, expiry', async () => {
    const { c, clock } = await setup();
    const p = await c.proposeAction({
      actor_id: 'agent',
      tool: 'login',
      params: params(),
      reason: 'r',
      expires_in_ms: 60_000,
    });
    const bad = { ...params(), user: 42 };
    await failsWithoutSecrets('schema mismatch', () =>
      c.proposeAction({ actor_id: 'agent', tool: 'login', params: bad, reason: 'r' }),
    );
    await failsWithoutSecrets('schema mismatch on edit', () =>
      c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'edit', edits: { user: 42 } }),
    );
    await failsWithoutSecrets('unknown tool', () =>
      c.proposeAction({ actor_id: 'agent', tool: 'nope', params: params(), reason: 'r' }),
    );
    await failsWithoutSecrets('too large', () =>
      c.proposeAction({
        actor_id: 'agent',
        tool: 'login',
        params: { ...params(), pad: 'x'.repeat(1024 * 1024) },
        reason: 'r',
      }),
    );
    let deep: Record<string, unknown> = params();
    for (let i = 0; i < 70; i++) deep = { a: deep };
    await failsWithoutSecrets('too deep', () =>
      c.proposeAction({ actor_id: 'agent', tool: 'login', params: deep, reason: 'r' }),
    );
    await failsWithoutSecrets('not JSON', () =>
      c.proposeAction({ actor_id: 'agent', tool: 'login', params: { ...params(), n: 1n } as never, reason: 'r' }),
    );
    await failsWithoutSecrets('unknown input key', () =>
      c.proposeAction({ actor_id: 'agent', tool: 'login', params: params(), reason: 'r', secret: PASSWORD } as never),
    );
    await failsWithoutSecrets('pending approval', () => c.executeAction({ proposal_id: p.id }));
    await failsWithoutSecrets('raw call of a tool that needs approval', () =>
      c.executeParallel({ calls: [{ tool: 'login', params: params() }] }),
    );
    await failsWithoutSecrets('stale params_hash', () =>
      c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve', params_hash: '0'.repeat(64) }),
    );
    await failsWithoutSecrets('self-approval', () =>
      c.reviewAction({ proposal_id: p.id, reviewer_id: 'agent', decision: 'approve' }),
    );
    await c.proposeAction({ actor_id: 'agent', tool: 'login', params: params(), reason: 'r', idempotency_key: 'k1' });
    await failsWithoutSecrets('idempotency conflict', () =>
      c.proposeAction({
        actor_id: 'agent',
        tool: 'login',
        params: { ...params(), user: 'bob' },
        reason: 'r',
        idempotency_key: 'k1',
      }),
    );
    clock.advance(120_000);
    await failsWithoutSecrets('expired', () =>
      c.reviewAction({ proposal_id: p.id, reviewer_id: 'reviewer', decision: 'approve' }),
    );
  });

  it('an invalid-input error names the field, never its value', async () => {
    const { c } = await setup();
    const e = await failsWithoutSecrets('wrong type', () =>
      c.createActor({ name: PASSWORD, role: 'r', status: PASSWORD as never }),
    );
    expect(e.message).toContain('status');
  });

  it('any secrets at redacted paths stay out of results, records and events (property)', async () => {
    const secret = fc
      .tuple(fc.constantFrom('pw', 'sk', 'tok'), fc.stringMatching(/^[A-Za-z0-9_-]{12,40}$/))
      .map(([prefix, body]) => `${prefix}-${body}`);
    await fc.assert(
      fc.asyncProperty(secret, secret, fc.boolean(), async (password, token, fails) => {
        const received: Array<Record<string, unknown>> = [];
        const c = new OrchestrationConnector({ tools: tools(received), maxRetries: 0 });
        try {
          const audit = collect(c, 'audit');
          await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
          await c.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
          const p = { user: 'ada', password, token: { value: token, kind: 'bearer' } };
          const proposal = await c.proposeAction({
            actor_id: 'agent',
            tool: fails ? 'login_fails' : 'login',
            params: p,
            reason: 'r',
          });
          if (!fails) await c.reviewAction({ proposal_id: proposal.id, reviewer_id: 'reviewer', decision: 'approve' });
          const result = await c.executeAction({ proposal_id: proposal.id });
          expect(received[0]).toMatchObject({ password, token: { value: token } });
          expectNoSecret('result', result, [password, token]);
          expectNoSecret('trail', await c.queryAuditEvents({ limit: 1000 }), [password, token]);
          expectNoSecret('events', audit, [password, token]);
        } finally {
          await c.close();
        }
      }),
      { numRuns: 50 },
    );
  });
});
