import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrchestrationConnector } from '../../src/connector.js';
import type { ToolDefinition } from '../../src/execution/executor.js';
import { MAX_ID_LENGTH, MAX_LIST_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH } from '../../src/schemas.js';
import { MAX_DEPTH } from '../../src/util/json.js';
import { expectError, expectUnchanged, snapshot } from '../helpers/connector.js';

const MiB = 1024 * 1024;

const tools: Record<string, ToolDefinition> = {
  store_blob: { handler: async (p) => ({ bytes: JSON.stringify(p).length }) },
  ping: { readOnly: true, handler: async () => 'pong' },
  typed: { requiresApproval: false, schema: z.object({ n: z.number() }), handler: async () => 'ok' },
};

const open: OrchestrationConnector[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function setup(config: ConstructorParameters<typeof OrchestrationConnector>[0] = {}) {
  const c = new OrchestrationConnector({ tools, ...config });
  open.push(c);
  await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await c.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
  return c;
}

/** A params object whose JSON text takes exactly `bytes` bytes. */
function paramsOfSize(bytes: number): Record<string, unknown> {
  const overhead = JSON.stringify({ blob: '' }).length;
  return { blob: 'x'.repeat(bytes - overhead) };
}

function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe('limits - params size (policy max_params_bytes)', () => {
  it('proposeAction - accepts params of exactly 1 MiB by default and refuses one byte more with INVALID_INPUT', async () => {
    const c = await setup();
    const ok = await c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: paramsOfSize(MiB), reason: 'r' });
    expect(ok.status).toBe('pending');
    const before = await snapshot(c);
    const e = await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: paramsOfSize(MiB + 1), reason: 'r' }),
      'INVALID_INPUT',
      { bytes: MiB + 1, maxBytes: MiB },
    );
    expect(e.message).toMatch(/more than the limit of 1048576/);
    expect(e.message).toMatch(/max_params_bytes/);
    expect(e.message.length).toBeLessThan(400); // says how big, never repeats the params
    await expectUnchanged(c, before);
  });

  it('updatePolicy max_params_bytes - lowers the limit for every way params come in', async () => {
    const c = await setup();
    const pending = await c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: { a: 1 }, reason: 'r' });
    await c.updatePolicy({ max_params_bytes: 1024 });
    const big = paramsOfSize(1025);
    const before = await snapshot(c);
    const limit = { bytes: 1025, maxBytes: 1024 };
    await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: big, reason: 'r' }),
      'INVALID_INPUT',
      limit,
    );
    await expectError(
      c.reviewAction({ proposal_id: pending.id, reviewer_id: 'reviewer', decision: 'edit', params: big }),
      'INVALID_INPUT',
      limit,
    );
    await expectError(
      c.reviewAction({ proposal_id: pending.id, reviewer_id: 'reviewer', decision: 'edit', edits: { a: 1, ...big } }),
      'INVALID_INPUT',
    );
    await expectError(c.executeParallel({ calls: [{ tool: 'ping', params: big }] }), 'INVALID_INPUT', limit);
    await expectError(c.executeWithRetry({ tool: 'ping', params: big }), 'INVALID_INPUT', limit);
    await expectUnchanged(c, before);
    // exactly at the limit is fine
    await c.executeParallel({ calls: [{ tool: 'ping', params: paramsOfSize(1024) }] });
  });

  it('updatePolicy - max_params_bytes itself is bounded (64 B to 64 MiB)', async () => {
    const c = await setup();
    await expectError(c.updatePolicy({ max_params_bytes: 63 }), 'INVALID_INPUT');
    await expectError(c.updatePolicy({ max_params_bytes: 64 * MiB + 1 }), 'INVALID_INPUT');
    await expectError(c.updatePolicy({ max_params_bytes: Number.POSITIVE_INFINITY }), 'INVALID_INPUT');
    expect((await c.updatePolicy({ max_params_bytes: 64 })).max_params_bytes).toBe(64);
  });

  it('updateWorkflowStep - a step output over 1 MiB is INVALID_INPUT', async () => {
    const c = await setup();
    const wf = await c.createWorkflow({ name: 'w', description: 'd', steps: [{ name: 's' }] });
    const before = await snapshot(c);
    await expectError(
      c.updateWorkflowStep({ workflow_id: wf.id, step: 's', status: 'completed', output: paramsOfSize(MiB + 1) }),
      'INVALID_INPUT',
      { maxBytes: MiB },
    );
    await expectUnchanged(c, before);
  });
});

describe('limits - nesting depth', () => {
  it(`proposeAction - params nested ${MAX_DEPTH} levels pass, ${MAX_DEPTH + 1} are INVALID_INPUT`, async () => {
    const c = await setup();
    await c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: nested(MAX_DEPTH), reason: 'r' });
    const before = await snapshot(c);
    const e = await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: nested(MAX_DEPTH + 1), reason: 'r' }),
      'INVALID_INPUT',
      { maxDepth: MAX_DEPTH },
    );
    expect(e.message).toMatch(/nested deeper than 64 levels/);
    await expectUnchanged(c, before);
  });

  it('very deep input (100,000 levels) is refused quickly, without a stack overflow', async () => {
    const c = await setup();
    const deep = nested(100_000);
    await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: deep, reason: 'r' }),
      'INVALID_INPUT',
    );
    await expectError(c.executeWithRetry({ tool: 'ping', params: deep }), 'INVALID_INPUT');
    const wf = await c.createWorkflow({ name: 'w', description: 'd', steps: [{ name: 's' }] });
    await expectError(
      c.updateWorkflowStep({ workflow_id: wf.id, step: 's', status: 'completed', output: deep }),
      'INVALID_INPUT',
    );
    await expectError(c.getActor({ id: deep as never }), 'INVALID_INPUT');
  });

  it('params that are not JSON data (cycle, BigInt, function, symbol) are refused, never stored', async () => {
    const c = await setup();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const before = await snapshot(c);
    for (const params of [cycle, { n: 10n }, { f: () => 1 }, { deep: { s: Symbol('s') } }]) {
      const e = await expectError(
        c.proposeAction({ actor_id: 'agent', tool: 'store_blob', params: params as never, reason: 'r' }),
        'INVALID_PARAMS',
      );
      expect(e.message).toMatch(/plain JSON data|JSON/);
    }
    await expectUnchanged(c, before);
  });
});

describe('limits - string lengths', () => {
  const cases: Array<[string, number, (c: OrchestrationConnector, v: string) => Promise<unknown>]> = [
    ['createActor name', MAX_NAME_LENGTH, (c, v) => c.createActor({ name: v, role: 'r' })],
    ['createActor id', MAX_ID_LENGTH, (c, v) => c.createActor({ id: v, name: 'n', role: 'r' })],
    ['createActor role', MAX_NAME_LENGTH, (c, v) => c.createActor({ name: 'n', role: v })],
    ['createWorkflow description', MAX_TEXT_LENGTH, (c, v) => c.createWorkflow({ name: 'w', description: v })],
    ['createProposal title', MAX_NAME_LENGTH, (c, v) => c.createProposal({ title: v, description: 'd' })],
    [
      'proposeAction reason',
      MAX_TEXT_LENGTH,
      (c, v) => c.proposeAction({ actor_id: 'agent', tool: 'ping', reason: v }),
    ],
    ['proposeAction tool', MAX_NAME_LENGTH, (c, v) => c.proposeAction({ actor_id: 'agent', tool: v, reason: 'r' })],
    [
      'proposeAction idempotency_key',
      MAX_NAME_LENGTH,
      (c, v) => c.proposeAction({ actor_id: 'agent', tool: 'ping', reason: 'r', idempotency_key: v }),
    ],
    ['getActionProposal id', MAX_ID_LENGTH, (c, v) => c.getActionProposal({ id: v })],
    [
      'queryAuditEvents startDate',
      64,
      (c, v) => c.queryAuditEvents({ startDate: `2026-01-01${' '.repeat(v.length - 10)}` }),
    ],
    ['verifyAuditTrail head.hash', 128, (c, v) => c.verifyAuditTrail({ head: { seq: 1, hash: v } })],
    ['forwardToolCall server', 2000, (c, v) => c.forwardToolCall({ server: v, tool_name: 't' })],
  ];
  for (const [what, max, call] of cases) {
    it(`${what} - over ${max} characters is INVALID_INPUT naming the field and the limit`, async () => {
      const c = await setup();
      const before = await snapshot(c);
      const e = await expectError(call(c, 'a'.repeat(max + 1)), 'INVALID_INPUT');
      expect(e.message).toContain(`<=${max}`);
      expect(e.message).toContain(what.split(' ')[1]!.split('.')[0]);
      await expectUnchanged(c, before);
    });
  }

  it('a megabyte-long unknown key or value is refused with a short message', async () => {
    const c = await setup();
    const huge = 'k'.repeat(MiB);
    for (const input of [{ id: huge }, { id: 'agent', [huge]: 1 }]) {
      const e = await expectError(c.getActor(input as never), 'INVALID_INPUT');
      expect(e.message.length).toBeLessThan(600);
      expect(JSON.stringify(e.details).length).toBeLessThan(2000);
    }
  });
});

describe('limits - list sizes', () => {
  it(`executeParallel - a batch of ${MAX_LIST_LENGTH} calls runs, ${MAX_LIST_LENGTH + 1} is INVALID_INPUT before anything runs`, async () => {
    let runs = 0;
    const c = new OrchestrationConnector({
      tools: {
        ping: {
          readOnly: true,
          handler: async () => {
            runs++;
            return 'pong';
          },
        },
      },
    });
    open.push(c);
    const calls = (n: number) => Array.from({ length: n }, () => ({ tool: 'ping' }));
    const r = await c.executeParallel({ calls: calls(MAX_LIST_LENGTH), concurrency: 50 });
    expect(r.results).toHaveLength(MAX_LIST_LENGTH);
    expect(runs).toBe(MAX_LIST_LENGTH);
    const before = await snapshot(c);
    const e = await expectError(c.executeParallel({ calls: calls(MAX_LIST_LENGTH + 1) }), 'INVALID_INPUT');
    expect(e.message).toContain('calls');
    expect(e.message).toContain(`<=${MAX_LIST_LENGTH}`);
    expect(runs).toBe(MAX_LIST_LENGTH);
    await expectUnchanged(c, before);
    await expectError(c.executeParallel({ calls: [] }), 'INVALID_INPUT');
  });

  it('list inputs are bounded: capabilities, steps, reviewers, assigned actors', async () => {
    const c = await setup();
    const many = Array.from({ length: MAX_LIST_LENGTH + 1 }, (_, i) => `x${i}`);
    await expectError(c.createActor({ name: 'n', role: 'r', capabilities: many }), 'INVALID_INPUT');
    await expectError(
      c.createWorkflow({ name: 'w', description: 'd', steps: many.map((name) => ({ name })) }),
      'INVALID_INPUT',
    );
    await expectError(c.createProposal({ title: 't', description: 'd', assignedReviewers: many }), 'INVALID_INPUT');
    await expectError(c.createWorkflow({ name: 'w', description: 'd', assignedActors: many }), 'INVALID_INPUT');
  });
});

describe('limits - limit and numbers', () => {
  it('limit - 1 to 1000; anything else (0, negative, fractional, NaN, Infinity, string, BigInt) is INVALID_INPUT', async () => {
    const c = await setup();
    expect(await c.queryActors({ limit: 1 })).toHaveLength(1);
    expect(await c.queryActors({ limit: 1000 })).toHaveLength(2);
    for (const limit of [0, -1, 1001, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '10', 10n, null]) {
      for (const call of [
        () => c.queryActors({ limit: limit as never }),
        () => c.queryWorkflows({ limit: limit as never }),
        () => c.queryProposals({ limit: limit as never }),
        () => c.queryActionProposals({ limit: limit as never }),
        () => c.queryAuditEvents({ limit: limit as never }),
      ]) {
        const e = await expectError(call, 'INVALID_INPUT');
        for (const issue of e.details.issues as Array<{ path: unknown[] }>) expect(issue.path).toEqual(['limit']);
      }
    }
  });

  it('numbers out of range are INVALID_INPUT: timeouts, retries, concurrency, expiry', async () => {
    const c = await setup();
    const p = await c.proposeAction({ actor_id: 'agent', tool: 'store_blob', reason: 'r' });
    await expectError(c.updatePolicy({ max_retries: 21 }), 'INVALID_INPUT');
    await expectError(c.updatePolicy({ timeout_ms: 0 }), 'INVALID_INPUT');
    await expectError(c.updatePolicy({ timeout_ms: 24 * 3600 * 1000 + 1 }), 'INVALID_INPUT');
    await expectError(c.updatePolicy({ max_parallel: 1001 }), 'INVALID_INPUT');
    await expectError(c.executeParallel({ calls: [{ tool: 'ping' }], concurrency: 0 }), 'INVALID_INPUT');
    await expectError(c.waitForDecision({ proposal_id: p.id, timeout_ms: -1 }), 'INVALID_INPUT');
    await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'store_blob', reason: 'r', expires_in_ms: Number.MAX_SAFE_INTEGER }),
      'INVALID_INPUT',
    );
    await expectError(c.verifyAuditTrail({ head: { seq: -1, hash: 'x' } }), 'INVALID_INPUT');
  });
});

describe('limits - a tool schema that throws', () => {
  it("proposeAction - a tool schema whose refinement throws is INVALID_PARAMS, not the schema's error", async () => {
    const c = new OrchestrationConnector({
      tools: {
        picky: {
          schema: z.object({ n: z.number() }).refine(() => {
            throw new TypeError('refinement bug');
          }),
          handler: async () => 'ok',
        },
      },
    });
    open.push(c);
    await c.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
    await expectError(
      c.proposeAction({ actor_id: 'agent', tool: 'picky', params: { n: 1 }, reason: 'r' }),
      'INVALID_PARAMS',
    );
  });
});
