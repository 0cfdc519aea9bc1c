import { z } from 'zod';
import { OrchestrationError } from '../errors.js';
import type { ExecutionContext, Executor, ParamsCheck, ToolCall, ToolDefinition, ToolDescription } from './executor.js';

/** Turns a zod error into plain issues. */
export function zodIssues(err: z.ZodError): Array<{ path: Array<string | number>; message: string }> {
  return err.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: i.message,
  }));
}

/** The default executor: local tools by name. */
export class ToolRegistry implements Executor {
  private readonly tools = new Map<string, ToolDefinition>();
  private readonly descriptions = new Map<string, ToolDescription>();

  constructor(tools: Record<string, ToolDefinition> = {}) {
    for (const [name, def] of Object.entries(tools)) this.register(name, def);
  }

  /** Adds or replaces a tool. */
  register<P extends Record<string, unknown>>(name: string, def: ToolDefinition<P>): this {
    if (typeof def?.handler !== 'function') {
      throw new OrchestrationError(
        'INVALID_INPUT',
        `Tool '${name}' has no handler. Give it { handler(params, ctx) { ... } }.`,
      );
    }
    const tool = def as unknown as ToolDefinition;
    this.tools.set(name, tool);
    const schema = tool.schema;
    const description: ToolDescription = {
      name,
      requiresApproval: tool.requiresApproval ?? !tool.readOnly,
      readOnly: tool.readOnly ?? false,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      ...(tool.redact !== undefined ? { redact: [...tool.redact] } : {}),
    };
    if (schema !== undefined) {
      description.validate = (params): ParamsCheck => {
        let r: ReturnType<typeof schema.safeParse>;
        try {
          r = schema.safeParse(params);
        } catch {
          // A refinement or transform of the tool's schema threw on these params: they are not valid.
          return {
            success: false,
            issues: [{ path: [], message: "the tool's schema threw while checking the params" }],
          };
        }
        return r.success ? { success: true, params: r.data } : { success: false, issues: zodIssues(r.error) };
      };
      try {
        description.inputSchema = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>;
      } catch {
        // A schema zod cannot express as JSON Schema still validates; it just has no JSON form.
      }
    }
    this.descriptions.set(name, description);
    return this;
  }

  /** Names of the registered tools. */
  list(): string[] {
    return [...this.tools.keys()];
  }

  describe(tool: string): ToolDescription | undefined {
    return this.descriptions.get(tool);
  }

  execute(call: ToolCall, ctx: ExecutionContext): Promise<unknown> {
    const tool = this.tools.get(call.tool);
    if (tool === undefined) {
      return Promise.reject(
        new OrchestrationError('TOOL_NOT_FOUND', `Tool '${call.tool}' is not registered.`, { tool: call.tool }),
      );
    }
    // The handler's own promise when it returns one (an async handler): no second promise around it.
    try {
      return Promise.resolve(tool.handler(call.params, ctx));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
