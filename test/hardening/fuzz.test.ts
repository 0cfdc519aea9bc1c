import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson } from '../../src/audit/canonical.js';
import { connectorConfigSchema } from '../../src/config.js';
import { OrchestrationConnector } from '../../src/connector.js';
import type { ToolDefinition } from '../../src/execution/executor.js';
import { MCP_TOOL_NAMES } from '../../src/mcp/tools.js';
import * as s from '../../src/schemas.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { Store } from '../../src/stores/store.js';
import { storesUnderTest } from '../helpers/stores.js';
import {
  assertDocumentedError,
  assertNoPollution,
  assertOrchestrationError,
  FUZZ_RUNS,
  FUZZ_SEED,
  fingerprint,
  hostile,
  hostileInput,
  hostileParams,
  POLLUTERS,
  type Pools,
  settleWithin,
  validish,
} from './hostile.js';

/** Every public method that takes an input, with its schema. */
const METHODS = {
  createActor: s.createActorInput,
  updateActor: s.updateActorInput,
  getActor: s.getByIdInput,
  queryActors: s.queryActorsInput,
  createWorkflow: s.createWorkflowInput,
  updateWorkflowStep: s.updateWorkflowStepInput,
  cancelWorkflow: s.cancelWorkflowInput,
  getWorkflow: s.getByIdInput,
  queryWorkflows: s.queryWorkflowsInput,
  createProposal: s.createProposalInput,
  reviewProposal: s.reviewProposalInput,
  getProposal: s.getByIdInput,
  queryProposals: s.queryProposalsInput,
  proposeAction: s.proposeActionInput,
  reviewAction: s.reviewActionInput,
  executeAction: s.executeActionInput,
  executeParallel: s.executeParallelInput,
  cancelAction: s.cancelActionInput,
  getActionProposal: s.getByIdInput,
  queryActionProposals: s.queryActionProposalsInput,
  waitForDecision: s.waitForDecisionInput,
  recoverStaleExecutions: s.emptyInput,
  forwardToolCall: s.forwardToolCallInput,
  executeWithRetry: s.executeWithRetryInput,
  updatePolicy: s.updatePolicyInput,
  getPolicy: s.emptyInput,
  queryAuditEvents: s.queryAuditEventsInput,
  verifyAuditTrail: s.verifyAuditTrailInput,
  getAuditHead: s.emptyInput,
  getStats: s.emptyInput,
  clearAllData: s.emptyInput,
} satisfies Record<string, z.ZodType>;
type Method = keyof typeof METHODS;

/** How long one call may take before it counts as hung (handlers here answer at once). */
const HANG_MS = 5_000;

const handlerSawPrototypeKey: string[] = [];

const tools: Record<string, ToolDefinition> = {
  send_email: {
    schema: z.object({ to: z.string().max(200), body: z.string().optional(), password: z.string().optional() }),
    redact: ['password'],
    handler: async (p) => ({ sent: true, to: p.to }),
  },
  read_file: { readOnly: true, handler: async () => ({ content: 'x' }) },
  flaky: {
    requiresApproval: false,
    handler: async () => {
      throw new Error('flaky failed');
    },
  },
  echo: {
    requiresApproval: false,
    handler: async (p) => {
      if (Object.getPrototypeOf(p) !== Object.prototype) handlerSawPrototypeKey.push('params prototype');
      return p;
    },
  },
  picky: {
    requiresApproval: false,
    // A schema whose refinement throws on some params: the gate must not let that escape.
    schema: z.object({ n: z.number() }).refine((v) => {
      if (v.n > 3) throw new Error('refinement threw');
      return true;
    }),
    handler: async () => 'ok',
  },
};
const TOOL_POOL = [
  ...Object.keys(tools),
  'unknown_tool',
  'SEND_EMAIL',
  'send_email ',
  'srv.tool',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
];

/** A connector on a memory store with actors, a workflow, a proposal and action proposals in several states. */
async function seeded(method: Method, store: Store = new MemoryStore()) {
  const clock = () => new Date('2026-03-01T12:00:00.000Z'); // nothing ever expires mid-run
  const connector = new OrchestrationConnector({
    store,
    tools,
    clock,
    policy: { max_retries: 0, timeout_ms: 2_000, execution_lease_ms: 60_000 },
  });
  await connector.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
  await connector.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
  await connector.createActor({ id: 'sleeper', name: 'Sleeper', role: 'reviewer', status: 'inactive' });
  const wf = await connector.createWorkflow({
    name: 'wf',
    description: 'd',
    steps: [{ name: 'a' }, { name: 'b', dependencies: ['a'] }],
    assignedActors: ['agent'],
  });
  const proposal = await connector.createProposal({ title: 't', description: 'd', assignedReviewers: ['reviewer'] });
  const pending = await connector.proposeAction({
    actor_id: 'agent',
    tool: 'send_email',
    params: { to: 'a@example.com', password: 'hunter2' },
    reason: 'r',
  });
  const approved = await connector.proposeAction({
    actor_id: 'agent',
    tool: 'send_email',
    params: { to: 'b@example.com' },
    reason: 'r',
  });
  await connector.reviewAction({ proposal_id: approved.id, reviewer_id: 'reviewer', decision: 'approve' });
  const auto = await connector.proposeAction({ actor_id: 'agent', tool: 'read_file', reason: 'r' });
  const stepAction = await connector.proposeAction({
    actor_id: 'agent',
    tool: 'read_file',
    workflow_id: wf.id,
    step: 'a',
    reason: 'r',
  });
  if (method === 'waitForDecision') {
    // A wait on a pending proposal waits for a person: leave none pending, so that every wait is a quick answer.
    await connector.reviewAction({ proposal_id: pending.id, reviewer_id: 'reviewer', decision: 'reject' });
  }
  const head = await connector.getAuditHead();
  const ids = ['agent', 'reviewer', 'sleeper', wf.id, proposal.id, pending.id, approved.id, auto.id, stepAction.id];
  const actors = ['agent', 'reviewer', 'sleeper'];
  const actions = [pending.id, approved.id, auto.id, stepAction.id];
  const pools: Pools = {
    ids: [...ids, head.seq > 0 ? (await connector.queryAuditEvents({ limit: 1 }))[0]!.id : 'evt_x', 'policy', 'nobody'],
    byField: {
      actor_id: actors,
      reviewer_id: actors,
      requester: actors,
      reviewer: actors,
      createdBy: actors,
      actorId: actors,
      assignedActors: actors,
      assignedReviewers: actors,
      assignedActor: actors,
      updated_by: actors,
      workflow_id: [wf.id],
      proposal_id: [...actions, proposal.id],
      params_hash: [pending.paramsHash, approved.paramsHash],
      hash: [head.hash],
    },
    tools: TOOL_POOL,
    steps: ['a', 'b', wf.steps[0]!.id, 'c', '__proto__'],
    text: ['r', 'x', 'a@example.com', ' ', ''],
  };
  return { connector, store, pools };
}

const open: OrchestrationConnector[] = [];
// Most fuzzed calls throw; stack traces are most of what a throw costs, and the counterexample says more.
const stackTraceLimit = Error.stackTraceLimit;
beforeAll(() => {
  Error.stackTraceLimit = 1;
});
afterAll(async () => {
  Error.stackTraceLimit = stackTraceLimit;
  for (const c of open.splice(0)) await c.close();
});

/** Calls `method` with `input` exactly as generated: no type stands between the fuzzer and the method. */
function callMethod(c: OrchestrationConnector, method: Method, input: unknown): Promise<unknown> {
  return (c[method] as (i: unknown) => Promise<unknown>).call(c, input);
}

describe('fuzz - hostile input to every public method (memory store)', () => {
  it('covers every method the MCP server serves', () => {
    expect(Object.keys(METHODS).sort()).toEqual([...MCP_TOOL_NAMES].sort());
  });

  for (const method of Object.keys(METHODS) as Method[]) {
    it(`${method} - only OrchestrationError escapes, nothing hangs, a rejected call changes nothing`, async () => {
      const { connector, store, pools } = await seeded(method);
      open.push(connector);
      const arb = hostileInput(METHODS[method], pools);
      let accepted = 0;
      let rejected = 0;
      const codes: Record<string, number> = {};
      await fc.assert(
        fc.asyncProperty(arb, async (input) => {
          const before = await fingerprint(store);
          try {
            await settleWithin(callMethod(connector, method, input), HANG_MS, method);
            accepted++;
          } catch (err) {
            assertOrchestrationError(err, method);
            rejected++;
            codes[err.code] = (codes[err.code] ?? 0) + 1;
            const after = await fingerprint(store);
            if (after !== before)
              throw new Error(`${method}: a rejected call (${err.code}) changed the state or trail`);
          } finally {
            assertNoPollution(method);
          }
        }),
        { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
      );
      assertNoPollution(method, true);
      if (process.env.FUZZ_VERBOSE) console.log(method, { accepted, rejected, codes });
      expect(rejected).toBeGreaterThan(0);
      expect(await connector.verifyAuditTrail()).toMatchObject({ valid: true });
      expect(handlerSawPrototypeKey).toEqual([]);
    });
  }

  it(`constructor - hostile config throws only OrchestrationError`, async () => {
    const arb = fc.oneof(
      hostile,
      validish(connectorConfigSchema, { ids: ['x'], tools: ['t'], steps: ['s'], text: ['k'.repeat(16)] }),
      hostileInput(connectorConfigSchema, { ids: ['x'], tools: ['t'], steps: ['s'], text: ['k'.repeat(16)] }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async (config) => {
        try {
          const c = new OrchestrationConnector(config as never);
          await c.close();
        } catch (err) {
          assertOrchestrationError(err, 'constructor');
        } finally {
          assertNoPollution('constructor');
        }
      }),
      { numRuns: Math.max(100, Math.floor(FUZZ_RUNS / 5)) },
    );
  });
});

/**
 * The same hostile inputs against the SQL stores, fewer of them: odd ids (NUL, lone surrogates, quotes,
 * wildcards, 200+ characters) must reach the driver as plain parameters and come back as a clean
 * NOT_FOUND or INVALID_INPUT, never as a STORE_ERROR or a driver's own error.
 */
const SQL_FUZZ_RUNS = Number(process.env.SQL_FUZZ_RUNS ?? 40);
for (const sut of storesUnderTest().filter((x) => x.name !== 'memory')) {
  describe(`fuzz - hostile input through the ${sut.name} store`, () => {
    afterAll(() => sut.cleanup());

    it('every method - only OrchestrationError, never STORE_ERROR; a rejected call changes nothing', async () => {
      // One connector for all methods (a schema or file each would be slow); clearAllData goes last.
      const { connector, store, pools } = await seeded('waitForDecision', await sut.make());
      open.push(connector);
      const methods = [
        ...(Object.keys(METHODS) as Method[]).filter((m) => m !== 'clearAllData'),
        'clearAllData' as const,
      ];
      for (const method of methods) {
        await fc.assert(
          fc.asyncProperty(hostileInput(METHODS[method], pools), async (input) => {
            const before = await fingerprint(store);
            try {
              await settleWithin(callMethod(connector, method, input), HANG_MS, method);
            } catch (err) {
              assertOrchestrationError(err, `${method} on ${sut.name}`);
              if (err.code === 'STORE_ERROR') throw new Error(`${method} on ${sut.name}: STORE_ERROR: ${err.message}`);
              const after = await fingerprint(store);
              if (after !== before)
                throw new Error(`${method}: a rejected call changed the state:\n${before}\n${after}`);
            } finally {
              assertNoPollution(method);
            }
          }),
          { numRuns: SQL_FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
        );
      }
      expect(await connector.verifyAuditTrail()).toMatchObject({ valid: true });
    }, 120_000);
  });
}

describe('fuzz - prototype keys in edits merges', () => {
  it('reviewAction edit - merging hostile edits never pollutes Object.prototype and keeps only data keys', async () => {
    const connector = new OrchestrationConnector({ tools: { echo: { handler: async (p) => p } } });
    open.push(connector);
    await connector.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
    await connector.createActor({ id: 'reviewer', name: 'Reviewer', role: 'reviewer' });
    await fc.assert(
      fc.asyncProperty(hostileParams, hostileParams, async (params, edits) => {
        let proposalId: string;
        try {
          proposalId = (
            await connector.proposeAction({ actor_id: 'agent', tool: 'echo', params: params as never, reason: 'r' })
          ).id;
        } catch (err) {
          assertOrchestrationError(err, 'proposeAction');
          return;
        }
        try {
          const edited = await connector.reviewAction({
            proposal_id: proposalId,
            reviewer_id: 'reviewer',
            decision: 'edit',
            edits: edits as never,
          });
          expect(Object.getPrototypeOf(edited.params)).toBe(Object.prototype);
          const result = await connector.executeAction({ proposal_id: proposalId });
          expect(result.success).toBe(true);
          // The handler got exactly the stored params: plain data, prototype keys (if any) as own data keys.
          expect(result.result).toEqual(edited.params);
        } catch (err) {
          assertOrchestrationError(err, 'reviewAction');
        } finally {
          assertNoPollution('edits merge');
        }
      }),
      { numRuns: Math.max(200, Math.floor(FUZZ_RUNS / 5)) },
    );
  });

  for (const store of storesUnderTest()) {
    it(`${store.name} - nested prototype keys in params round-trip as plain data`, async () => {
      const connector = new OrchestrationConnector({
        store: await store.make(),
        tools: { echo: { requiresApproval: false, handler: async (p) => p } },
      });
      try {
        await connector.createActor({ id: 'agent', name: 'Agent', role: 'agent' });
        for (const polluter of POLLUTERS) {
          const params = { nested: polluter, list: [polluter], text: '\u0000\ud800\uffff' };
          const expected = JSON.parse(JSON.stringify(params));
          const a = await connector.proposeAction({ actor_id: 'agent', tool: 'echo', params, reason: 'r' });
          const stored = await connector.getActionProposal({ id: a.id });
          expect(canonicalJson(stored.params)).toBe(canonicalJson(expected)); // jsonb may reorder keys
          expect(stored.paramsHash).toBe(a.paramsHash);
          const r = await connector.executeAction({ proposal_id: a.id });
          expect(canonicalJson(r.result)).toBe(canonicalJson(expected));
          assertNoPollution(store.name);
        }
        expect(await connector.verifyAuditTrail()).toMatchObject({ valid: true });
      } finally {
        await connector.close();
        await store.cleanup();
      }
    });
  }
});

/** JSON-RPC carries JSON: what a hostile MCP client can send is what survives a JSON round trip. */
function overTheWire(value: unknown): unknown {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return { unserialisable: true };
  }
}

describe('fuzz - hostile arguments to every MCP tool (memory store)', async () => {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
  const { McpError } = await import('@modelcontextprotocol/sdk/types.js');
  const { createMcpServer } = await import('../../src/mcp/server.js');
  /**
   * An MCP call costs several direct calls (client and server protocol layers): FUZZ_RUNS / 20 per tool
   * (500 in CI), at least 100; `MCP_FUZZ_RUNS` to choose. The methods behind them get FUZZ_RUNS above.
   */
  const MCP_RUNS = Number(process.env.MCP_FUZZ_RUNS ?? Math.max(100, Math.floor(FUZZ_RUNS / 20)));

  for (const method of Object.keys(METHODS) as Method[]) {
    it(`${method} - every call gets an answer; failures carry a documented code and change nothing`, async () => {
      const { connector, store, pools } = await seeded(method);
      open.push(connector);
      // Every tool exposed; and a server bound to one acting actor (it fills and checks actor fields).
      const servers = [createMcpServer(connector, { tools: MCP_TOOL_NAMES })];
      if (method !== 'updatePolicy') servers.push(createMcpServer(connector, { tools: [method], actorId: 'agent' }));
      const clients = await Promise.all(
        servers.map(async (server) => {
          const client = new Client({ name: 'fuzzer', version: '1.0.0' });
          const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
          await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
          return client;
        }),
      );
      try {
        await fc.assert(
          fc.asyncProperty(hostileInput(METHODS[method], pools).map(overTheWire), fc.nat(), async (args, pick) => {
            const client = clients[pick % clients.length]!;
            const before = await fingerprint(store);
            const isObject = typeof args === 'object' && args !== null && !Array.isArray(args);
            try {
              const result = await settleWithin(
                client.callTool({ name: method, arguments: args as Record<string, unknown> }),
                HANG_MS,
                method,
              );
              if (result.isError) {
                const error = (
                  result.structuredContent as { error?: { code?: unknown; message?: unknown } } | undefined
                )?.error;
                assertDocumentedError(error, `${method} over MCP`);
                if ((await fingerprint(store)) !== before)
                  throw new Error(`${method}: a failed MCP call changed the state`);
              }
            } catch (err) {
              // Arguments that are not an object break the protocol itself: the SDK answers with a JSON-RPC error.
              if (isObject || !(err instanceof McpError)) throw err;
              if ((await fingerprint(store)) !== before)
                throw new Error(`${method}: a refused MCP call changed the state`);
            } finally {
              assertNoPollution(`${method} over MCP`);
            }
          }),
          { numRuns: MCP_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
        );
      } finally {
        for (const client of clients) await client.close();
        for (const server of servers) await server.close();
      }
    });
  }
});
