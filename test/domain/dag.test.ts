import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDag, type DagNode, findCycle } from '../../src/domain/dag.js';
import { OrchestrationError } from '../../src/errors.js';

const node = (name: string, ...dependencies: string[]): DagNode => ({ name, dependencies });

function errorOf(fn: () => void): OrchestrationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OrchestrationError);
    return err as OrchestrationError;
  }
  throw new Error('expected an OrchestrationError');
}

/** Reference: a graph has a cycle iff Kahn's algorithm cannot remove every node. */
function hasCycleReference(nodes: readonly DagNode[]): boolean {
  const indegree = new Map(nodes.map((n) => [n.name, new Set(n.dependencies).size]));
  const dependents = new Map<string, string[]>();
  for (const n of nodes)
    for (const d of new Set(n.dependencies)) dependents.set(d, [...(dependents.get(d) ?? []), n.name]);
  const ready = nodes.filter((n) => indegree.get(n.name) === 0).map((n) => n.name);
  let removed = 0;
  while (ready.length > 0) {
    const n = ready.pop() as string;
    removed++;
    for (const m of dependents.get(n) ?? []) {
      const left = (indegree.get(m) as number) - 1;
      indegree.set(m, left);
      if (left === 0) ready.push(m);
    }
  }
  return removed < nodes.length;
}

/** Asserts that `cycle` is a closed path along "depends on" edges of `nodes`. */
function expectValidCycle(nodes: readonly DagNode[], cycle: string[]): void {
  expect(cycle.length).toBeGreaterThanOrEqual(2);
  expect(cycle[0]).toBe(cycle[cycle.length - 1]);
  const deps = new Map(nodes.map((n) => [n.name, n.dependencies]));
  for (let i = 0; i + 1 < cycle.length; i++) expect(deps.get(cycle[i] as string)).toContain(cycle[i + 1]);
  // a simple cycle: no name repeats except the closing one
  expect(new Set(cycle.slice(0, -1)).size).toBe(cycle.length - 1);
}

/** Random graphs over names s0..s(n-1), each step depending on a few others. */
const graphs = fc
  .integer({ min: 1, max: 9 })
  .chain((n) =>
    fc
      .array(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: 3 }), { minLength: n, maxLength: n })
      .map((lists) => lists.map((deps, i) => node(`s${i}`, ...deps.map((d) => `s${d}`)))),
  );

describe('checkDag', () => {
  it('accepts an empty graph, independent steps and a diamond', () => {
    expect(() => checkDag([])).not.toThrow();
    expect(() => checkDag([node('a'), node('b')])).not.toThrow();
    expect(() => checkDag([node('a'), node('b', 'a'), node('c', 'a'), node('d', 'b', 'c')])).not.toThrow();
  });

  it('accepts dependencies listed before the step they name', () => {
    expect(() => checkDag([node('deploy', 'test'), node('test', 'build'), node('build')])).not.toThrow();
  });

  it('rejects a repeated step name with INVALID_INPUT', () => {
    const err = errorOf(() => checkDag([node('a'), node('b'), node('a')]));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.details).toEqual({ step: 'a' });
  });

  it('rejects a dependency on an unknown step with INVALID_INPUT', () => {
    const err = errorOf(() => checkDag([node('a'), node('b', 'a', 'zz')]));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.details).toEqual({ step: 'b', dependency: 'zz' });
    expect(err.message).toContain('zz');
  });

  it('rejects a self-dependency with DEPENDENCY_CYCLE [a, a]', () => {
    const err = errorOf(() => checkDag([node('a', 'a')]));
    expect(err.code).toBe('DEPENDENCY_CYCLE');
    expect(err.details).toEqual({ cycle: ['a', 'a'] });
  });

  it('rejects a two-step cycle with DEPENDENCY_CYCLE and its path', () => {
    const nodes = [node('a', 'b'), node('b', 'a')];
    const err = errorOf(() => checkDag(nodes));
    expect(err.code).toBe('DEPENDENCY_CYCLE');
    expect(err.details.cycle).toEqual(['a', 'b', 'a']);
  });

  it('names only the steps on the cycle, not the ones leading to it', () => {
    const nodes = [node('entry', 'x'), node('x', 'y'), node('y', 'z'), node('z', 'x'), node('free')];
    const err = errorOf(() => checkDag(nodes));
    const cycle = err.details.cycle as string[];
    expectValidCycle(nodes, cycle);
    expect(new Set(cycle)).toEqual(new Set(['x', 'y', 'z']));
    expect(err.message).toContain(cycle.join(' -> '));
  });

  it('reports a missing dependency before a cycle', () => {
    const err = errorOf(() => checkDag([node('a', 'b'), node('b', 'a', 'ghost')]));
    expect(err.code).toBe('INVALID_INPUT');
  });

  it('handles a long chain without recursion limits', () => {
    const chain = Array.from({ length: 20_000 }, (_, i) => node(`s${i}`, ...(i > 0 ? [`s${i - 1}`] : [])));
    expect(() => checkDag(chain)).not.toThrow();
    chain[0] = node('s0', 's19999');
    const err = errorOf(() => checkDag(chain));
    expect(err.code).toBe('DEPENDENCY_CYCLE');
    expect((err.details.cycle as string[]).length).toBe(20_001);
  });

  it('throws DEPENDENCY_CYCLE exactly when the graph has a cycle, with a real cycle as the path', () => {
    fc.assert(
      fc.property(graphs, (nodes) => {
        const cyclic = hasCycleReference(nodes);
        let thrown: OrchestrationError | undefined;
        try {
          checkDag(nodes);
        } catch (err) {
          thrown = err as OrchestrationError;
        }
        expect(thrown?.code).toBe(cyclic ? 'DEPENDENCY_CYCLE' : undefined);
        if (thrown) expectValidCycle(nodes, thrown.details.cycle as string[]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('findCycle', () => {
  it('returns undefined for an acyclic graph', () => {
    expect(findCycle([node('a'), node('b', 'a'), node('c', 'a', 'b')])).toBeUndefined();
  });

  it('agrees with the reference on random graphs', () => {
    fc.assert(
      fc.property(graphs, (nodes) => {
        const cycle = findCycle(nodes);
        expect(cycle !== undefined).toBe(hasCycleReference(nodes));
        if (cycle) expectValidCycle(nodes, cycle);
      }),
      { numRuns: 500 },
    );
  });
});
