import { describe, expect, it, vi } from 'vitest';
import type { ConnectorConfig } from '../../src/config.js';
import { OrchestrationConnector } from '../../src/connector.js';
import { OrchestrationError } from '../../src/errors.js';
import { connectorsOn, expectError, expectUnchanged, manualClock, snapshot } from '../helpers/connector.js';
import { storesUnderTest } from '../helpers/stores.js';

describe('new OrchestrationConnector - invalid config', () => {
  const bad: Array<[string, unknown]> = [
    ['an unknown key', { enableAudt: false }],
    ['a camelCase policy key', { policy: { maxRetries: 2 } }],
    ['an unknown policy key', { policy: { dry_run: true, retries: 2 } }],
    ['a negative maxRetries', { maxRetries: -1 }],
    ['a fractional maxRetries', { maxRetries: 1.5 }],
    ['a maxRetries above 20', { maxRetries: 21 }],
    ['a zero timeoutMs', { timeoutMs: 0 }],
    ['a string timeoutMs', { timeoutMs: '1000' }],
    ['a non-boolean enableAudit', { enableAudit: 'yes' }],
    ['a non-boolean dryRun', { dryRun: 1 }],
    ['a store without the Store methods', { store: {} }],
    ['a signing key shorter than 16 characters', { audit: { signingKey: 'short' } }],
    ['an unknown audit key', { audit: { signingkey: 'x'.repeat(32) } }],
    ['a sink without write()', { audit: { sinks: [{ name: 'log' }] } }],
    ['a clock that is not a function', { clock: new Date() }],
    ['a tool without a handler', { tools: { echo: { description: 'echo' } } }],
    ['a remote server that is neither url nor command', { remoteServers: { x: { host: 'example.org' } } }],
    ['both tools and an executor', { tools: { echo: { handler: () => 1 } }, executor: { execute: async () => 1 } }],
    ['a config that is not an object', 'memory'],
  ];
  for (const [what, config] of bad) {
    it(`throws INVALID_INPUT for ${what}`, async () => {
      const err = await expectError(() => new OrchestrationConnector(config as ConnectorConfig), 'INVALID_INPUT');
      expect(err).toBeInstanceOf(OrchestrationError);
    });
  }

  it('names the offending field in details.issues', async () => {
    const err = await expectError(
      () => new OrchestrationConnector({ maxRetries: -1 } as ConnectorConfig),
      'INVALID_INPUT',
    );
    expect(err.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: ['maxRetries'] })]));
  });

  it('reports an unknown key as unrecognized', async () => {
    const err = await expectError(
      () => new OrchestrationConnector({ bogus: true } as unknown as ConnectorConfig),
      'INVALID_INPUT',
    );
    expect(err.details.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'unrecognized_keys' })]),
    );
  });
});

describe('new OrchestrationConnector - defaults', () => {
  it('works without any config, on a MemoryStore', async () => {
    const c = new OrchestrationConnector();
    try {
      const actor = await c.createActor({ name: 'Ada', role: 'reviewer' });
      expect(await c.getActor({ id: actor.id })).toEqual(actor);
      expect(await c.getPolicy()).toMatchObject({ dry_run: false, max_retries: 3, timeout_ms: 10_000, tools: {} });
    } finally {
      await c.close();
    }
  });
});

for (const s of storesUnderTest()) {
  describe(s.name, () => {
    const connectors = connectorsOn(s);

    describe('new OrchestrationConnector - seed config keys', () => {
      it('defaults the policy to dry_run false, max_retries 3, timeout_ms 10000', async () => {
        const c = await connectors.make();
        expect(await c.getPolicy()).toMatchObject({ dry_run: false, max_retries: 3, timeout_ms: 10_000, tools: {} });
      });

      it('shows dryRun, maxRetries and timeoutMs in getPolicy()', async () => {
        const c = await connectors.make({ dryRun: true, maxRetries: 5, timeoutMs: 2500 });
        expect(await c.getPolicy()).toMatchObject({ dry_run: true, max_retries: 5, timeout_ms: 2500 });
      });

      it('accepts maxRetries 0 (no retries)', async () => {
        const c = await connectors.make({ maxRetries: 0 });
        expect((await c.getPolicy()).max_retries).toBe(0);
      });

      it('applies the policy key on top of the seed keys', async () => {
        const c = await connectors.make({
          maxRetries: 5,
          policy: { max_retries: 1, max_parallel: 4, tools: { deploy: { approvals_required: 2 } } },
        });
        expect(await c.getPolicy()).toMatchObject({
          max_retries: 1,
          max_parallel: 4,
          tools: { deploy: { approvals_required: 2 } },
        });
      });

      it('keeps audit records with enableAudit true', async () => {
        const c = await connectors.make({ enableAudit: true });
        await c.createActor({ name: 'Ada', role: 'reviewer' });
        expect((await c.getStats()).auditEvents.total).toBe(1);
      });

      it('stores no audit records with enableAudit false', async () => {
        const c = await connectors.make({ enableAudit: false });
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        await c.updateActor({ id: a.id, status: 'busy' });
        await c.updatePolicy({ max_retries: 1 });
        expect(await c.queryAuditEvents()).toEqual([]);
        expect((await c.getStats()).auditEvents.total).toBe(0);
        expect(await c.getAuditHead()).toEqual({ seq: 0, hash: '0'.repeat(64) });
        expect(await c.verifyAuditTrail()).toEqual({ valid: true, count: 0 });
        expect((await c.getActor({ id: a.id })).status).toBe('busy');
      });

      it('stamps entities with the configured clock, as ISO-8601 UTC', async () => {
        const clock = manualClock('2026-03-01T08:30:00.000Z');
        const c = await connectors.make({ clock: clock.now });
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        expect(a.createdAt).toBe('2026-03-01T08:30:00.000Z');
        clock.advance(60_000);
        const b = await c.updateActor({ id: a.id, name: 'Ada L.' });
        expect(b.createdAt).toBe('2026-03-01T08:30:00.000Z');
        expect(b.updatedAt).toBe('2026-03-01T08:31:00.000Z');
        const [created, updated] = await c.queryAuditEvents();
        expect(created?.timestamp).toBe('2026-03-01T08:30:00.000Z');
        expect(updated?.timestamp).toBe('2026-03-01T08:31:00.000Z');
      });

      it('uses the real time without a clock', async () => {
        const c = await connectors.make();
        const before = Date.now();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        const after = Date.now();
        expect(a.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(Date.parse(a.createdAt)).toBeGreaterThanOrEqual(before);
        expect(Date.parse(a.createdAt)).toBeLessThanOrEqual(after);
      });
    });

    describe('input conventions', () => {
      type Call = [name: string, call: (c: OrchestrationConnector, input: unknown) => Promise<unknown>];
      const methods: Call[] = [
        ['createActor', (c, i) => c.createActor(i as never)],
        ['updateActor', (c, i) => c.updateActor(i as never)],
        ['getActor', (c, i) => c.getActor(i as never)],
        ['queryActors', (c, i) => c.queryActors(i as never)],
        ['createWorkflow', (c, i) => c.createWorkflow(i as never)],
        ['updateWorkflowStep', (c, i) => c.updateWorkflowStep(i as never)],
        ['cancelWorkflow', (c, i) => c.cancelWorkflow(i as never)],
        ['getWorkflow', (c, i) => c.getWorkflow(i as never)],
        ['queryWorkflows', (c, i) => c.queryWorkflows(i as never)],
        ['createProposal', (c, i) => c.createProposal(i as never)],
        ['reviewProposal', (c, i) => c.reviewProposal(i as never)],
        ['getProposal', (c, i) => c.getProposal(i as never)],
        ['queryProposals', (c, i) => c.queryProposals(i as never)],
        ['updatePolicy', (c, i) => c.updatePolicy(i as never)],
        ['getPolicy', (c, i) => c.getPolicy(i as never)],
        ['queryAuditEvents', (c, i) => c.queryAuditEvents(i as never)],
        ['verifyAuditTrail', (c, i) => c.verifyAuditTrail(i as never)],
        ['getAuditHead', (c, i) => c.getAuditHead(i as never)],
        ['getStats', (c, i) => c.getStats(i as never)],
        ['clearAllData', (c, i) => c.clearAllData(i as never)],
      ];

      it('every core method rejects an unknown key with INVALID_INPUT, naming the method and the key', async () => {
        const c = await connectors.make();
        await c.createActor({ id: 'ada', name: 'Ada', role: 'human' });
        const before = await snapshot(c);
        for (const [name, call] of methods) {
          const err = await expectError(call(c, { surprise: 1 }), 'INVALID_INPUT', { method: name });
          expect(err.details.issues, name).toEqual(
            expect.arrayContaining([expect.objectContaining({ code: 'unrecognized_keys' })]),
          );
          expect(err.message, name).toContain('surprise');
        }
        await expectUnchanged(c, before);
      });

      it('every core method rejects input that is not a plain object with INVALID_INPUT', async () => {
        const c = await connectors.make();
        await c.createActor({ id: 'ada', name: 'Ada', role: 'human' });
        const before = await snapshot(c);
        for (const [name, call] of methods) {
          for (const input of ['ada', 42, null, [], true]) {
            const err = await expectError(call(c, input), 'INVALID_INPUT');
            expect(err.details.method, name).toBe(name);
          }
        }
        await expectUnchanged(c, before);
      });
    });

    describe('close', () => {
      it('makes every later call fail with INVALID_STATE', async () => {
        const c = await connectors.make();
        const a = await c.createActor({ name: 'Ada', role: 'reviewer' });
        await c.close();
        const calls: Array<() => Promise<unknown>> = [
          () => c.createActor({ name: 'Bob', role: 'agent' }),
          () => c.getActor({ id: a.id }),
          () => c.queryActors(),
          () => c.createWorkflow({ name: 'w', description: '' }),
          () => c.queryWorkflows(),
          () => c.createProposal({ title: 't', description: '' }),
          () => c.queryProposals(),
          () => c.updatePolicy({ max_retries: 1 }),
          () => c.getPolicy(),
          () => c.queryAuditEvents(),
          () => c.verifyAuditTrail(),
          () => c.getAuditHead(),
          () => c.getStats(),
          () => c.clearAllData(),
        ];
        for (const call of calls) await expectError(call(), 'INVALID_STATE');
      });

      it('may be called twice', async () => {
        const c = await connectors.make();
        await c.getStats();
        await c.close();
        await expect(c.close()).resolves.toBeUndefined();
        await expectError(c.getStats(), 'INVALID_STATE');
      });

      it('closes the store once, however often it is closed', async () => {
        const { connector, store } = await connectors.makeWithStore();
        await connector.createActor({ name: 'Ada', role: 'reviewer' });
        const close = vi.spyOn(store, 'close');
        await connector.close();
        await connector.close();
        expect(close).toHaveBeenCalledTimes(1);
      });
    });
  });
}
