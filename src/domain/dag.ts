import { OrchestrationError } from '../errors.js';

/** A step as far as the dependency graph cares. */
export interface DagNode {
  name: string;
  dependencies: readonly string[];
}

/**
 * Checks that step names are unique, every dependency names a step, and there is no cycle.
 * Throws `INVALID_INPUT` or `DEPENDENCY_CYCLE` (with the cycle as `details.cycle`, first name repeated last).
 */
export function checkDag(nodes: readonly DagNode[]): void {
  const names = new Set<string>();
  for (const n of nodes) {
    if (names.has(n.name)) {
      throw new OrchestrationError(
        'INVALID_INPUT',
        `Step name '${n.name}' is used twice. Give every step a unique name.`,
        {
          step: n.name,
        },
      );
    }
    names.add(n.name);
  }
  for (const n of nodes) {
    for (const d of n.dependencies) {
      if (!names.has(d)) {
        throw new OrchestrationError(
          'INVALID_INPUT',
          `Step '${n.name}' depends on '${d}', which is not a step of this workflow. Name an existing step.`,
          { step: n.name, dependency: d },
        );
      }
      if (d === n.name) {
        throw new OrchestrationError('DEPENDENCY_CYCLE', `Step '${n.name}' depends on itself. Remove the dependency.`, {
          cycle: [n.name, n.name],
        });
      }
    }
  }
  const cycle = findCycle(nodes);
  if (cycle !== undefined) {
    throw new OrchestrationError(
      'DEPENDENCY_CYCLE',
      `Workflow steps depend on each other in a cycle: ${cycle.length > 12 ? `${cycle.slice(0, 10).join(' -> ')} -> ... (${cycle.length - 1} steps)` : cycle.join(' -> ')}. Remove one of these dependencies.`,
      { cycle },
    );
  }
}

/** A dependency cycle as a path (first name repeated last), or undefined. Iterative DFS. */
export function findCycle(nodes: readonly DagNode[]): string[] | undefined {
  const deps = new Map(nodes.map((n) => [n.name, n.dependencies]));
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  for (const start of nodes) {
    if (state.has(start.name)) continue;
    const stack: Array<{ name: string; next: number }> = [{ name: start.name, next: 0 }];
    state.set(start.name, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { name: string; next: number };
      const list = deps.get(top.name) ?? [];
      if (top.next >= list.length) {
        state.set(top.name, 2);
        stack.pop();
        continue;
      }
      const dep = list[top.next++] as string;
      const s = state.get(dep);
      if (s === 1) {
        const from = stack.findIndex((f) => f.name === dep);
        return [...stack.slice(from).map((f) => f.name), dep];
      }
      if (s === undefined) {
        state.set(dep, 1);
        stack.push({ name: dep, next: 0 });
      }
    }
  }
  return undefined;
}
