import { describe, expect, it } from 'vitest';
import type { UpdatePolicyInput } from '../../src/schemas.js';
import { connectorsOn, expectError, expectUnchanged, snapshot } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

const DEFAULTS = {
  dry_run: false,
  max_retries: 3,
  timeout_ms: 10_000,
  max_parallel: 10,
  execution_lease_ms: 300_000,
  tools: {},
};

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    describe('getPolicy', () => {
      it('returns the defaults, snake_case, without an approval TTL', async () => {
        const c = await connectors.make();
        const p = await c.getPolicy();
        expect(p).toMatchObject(DEFAULTS);
        expect(p).not.toHaveProperty('approval_ttl_ms');
        expect(Object.keys(p).every((k) => k === k.toLowerCase())).toBe(true);
      });

      it('returns a copy: changing it does not change the policy', async () => {
        const c = await connectors.make();
        const p = await c.getPolicy();
        p.max_retries = 99;
        p.tools.deploy = { requires_approval: false };
        expect(await c.getPolicy()).toMatchObject(DEFAULTS);
      });

      it('rejects any argument with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await expectError(c.getPolicy({ tool: 'x' } as never), 'INVALID_INPUT');
      });
    });

    describe('updatePolicy', () => {
      it('returns the whole policy, snake_case as given, and getPolicy returns the same', async () => {
        const c = await connectors.make();
        const p = await c.updatePolicy({
          dry_run: true,
          max_retries: 0,
          timeout_ms: 2000,
          max_parallel: 3,
          approval_ttl_ms: 60_000,
          execution_lease_ms: 30_000,
          tools: {
            deploy: {
              requires_approval: true,
              approvals_required: 2,
              reviewer_roles: ['sre', 'lead'],
              allow_self_approval: false,
              approval_ttl_ms: 5000,
              max_concurrency: 1,
            },
          },
        });
        expect(p).toMatchObject({
          dry_run: true,
          max_retries: 0,
          timeout_ms: 2000,
          max_parallel: 3,
          approval_ttl_ms: 60_000,
          execution_lease_ms: 30_000,
          tools: {
            deploy: {
              requires_approval: true,
              approvals_required: 2,
              reviewer_roles: ['sre', 'lead'],
              allow_self_approval: false,
              approval_ttl_ms: 5000,
              max_concurrency: 1,
            },
          },
        });
        expect(await c.getPolicy()).toEqual(p);
      });

      it('changes only the given fields', async () => {
        const c = await connectors.make();
        await c.updatePolicy({ max_retries: 1 });
        const p = await c.updatePolicy({ timeout_ms: 500 });
        expect(p).toMatchObject({ ...DEFAULTS, max_retries: 1, timeout_ms: 500 });
      });

      it('merges per-tool rules field by field and keeps other tools', async () => {
        const c = await connectors.make();
        await c.updatePolicy({
          tools: { deploy: { approvals_required: 2 }, read_file: { requires_approval: false } },
        });
        const p = await c.updatePolicy({ tools: { deploy: { reviewer_roles: ['sre'] } } });
        expect(p.tools).toEqual({
          deploy: { approvals_required: 2, reviewer_roles: ['sre'] },
          read_file: { requires_approval: false },
        });
      });

      it('removes a tool rule given as null, and the approval TTL given as null', async () => {
        const c = await connectors.make();
        await c.updatePolicy({
          approval_ttl_ms: 1000,
          tools: { deploy: { approvals_required: 2 }, read_file: { requires_approval: false } },
        });
        const p = await c.updatePolicy({ approval_ttl_ms: null, tools: { deploy: null, ghost: null } });
        expect(p.tools).toEqual({ read_file: { requires_approval: false } });
        expect(p).not.toHaveProperty('approval_ttl_ms');
        expect(await c.getPolicy()).toEqual(p);
      });

      it('audits each change with the before and after values and the acting actor', async () => {
        const c = await connectors.make();
        const admin = await c.createActor({ name: 'Admin', role: 'admin' });
        const before = await c.getPolicy();
        const after = await c.updatePolicy({
          max_retries: 5,
          tools: { deploy: { approvals_required: 2 } },
          updated_by: admin.id,
        });
        const second = await c.updatePolicy({ tools: { deploy: null } });
        const events = await c.queryAuditEvents({ eventType: 'policy_updated' });
        expect(events).toHaveLength(2);
        expect(events[0]).toMatchObject({
          entityType: 'policy',
          entityId: 'policy',
          actorId: admin.id,
          details: { before, after },
        });
        expect(events[1]?.details).toEqual({ before: after, after: second });
        expect(events[1]?.actorId).toBeUndefined();
      });

      it('applies concurrent updates of different tools without losing one, auditing each', async () => {
        const c = await connectors.make();
        const tools = ['t0', 't1', 't2', 't3', 't4', 't5'];
        await Promise.all(tools.map((t, i) => c.updatePolicy({ tools: { [t]: { approvals_required: i + 1 } } })));
        const p = await c.getPolicy();
        expect(p.tools).toEqual(Object.fromEntries(tools.map((t, i) => [t, { approvals_required: i + 1 }])));
        const events = await c.queryAuditEvents({ eventType: 'policy_updated' });
        expect(events).toHaveLength(tools.length);
        // each record's before is the previous record's after: no update was applied to a stale policy
        for (let i = 1; i < events.length; i++) {
          expect(events[i]?.details.before).toEqual(events[i - 1]?.details.after);
        }
        expect(events[events.length - 1]?.details.after).toEqual(p);
      });

      it('is seen by a second connector opened on the same store, over its own config', async () => {
        const { connector: c, store } = await connectors.makeWithStore({ maxRetries: 1 });
        const p = await c.updatePolicy({ max_retries: 7, tools: { deploy: { approvals_required: 3 } } });
        const other = connectors.on(store, { maxRetries: 2, dryRun: true });
        expect(await other.getPolicy()).toEqual(p);
      });

      it('fails with NOT_FOUND for an unknown updated_by, changing nothing', async () => {
        const c = await connectors.make();
        const before = await snapshot(c);
        const policy = await c.getPolicy();
        await expectError(c.updatePolicy({ max_retries: 1, updated_by: 'ghost' }), 'NOT_FOUND', { id: 'ghost' });
        await expectUnchanged(c, before);
        expect(await c.getPolicy()).toEqual(policy);
      });

      const invalid: Array<[string, unknown]> = [
        ['an unknown key', { retries: 1 }],
        ['a camelCase key', { dryRun: true }],
        ['a camelCase tool rule', { tools: { deploy: { requiresApproval: false } } }],
        ['an unknown tool rule', { tools: { deploy: { owner: 'x' } } }],
        ['a negative max_retries', { max_retries: -1 }],
        ['a max_retries above 20', { max_retries: 21 }],
        ['a zero timeout_ms', { timeout_ms: 0 }],
        ['a zero max_parallel', { max_parallel: 0 }],
        ['approvals_required 0', { tools: { deploy: { approvals_required: 0 } } }],
        ['a string dry_run', { dry_run: 'yes' }],
        ['reviewer_roles that are not a list', { tools: { deploy: { reviewer_roles: 'sre' } } }],
      ];
      for (const [what, input] of invalid) {
        it(`rejects ${what} with INVALID_INPUT, changing nothing`, async () => {
          const c = await connectors.make();
          await c.updatePolicy({ max_retries: 2 });
          const before = await snapshot(c);
          const policy = await c.getPolicy();
          await expectError(c.updatePolicy(input as UpdatePolicyInput), 'INVALID_INPUT', { method: 'updatePolicy' });
          await expectUnchanged(c, before);
          expect(await c.getPolicy()).toEqual(policy);
        });
      }
    });
  });
}
