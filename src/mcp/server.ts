import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, type CallToolResult, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { OrchestrationConnector } from '../connector.js';
import { OrchestrationError } from '../errors.js';
import { HIDDEN_BY_DEFAULT, MCP_TOOL_NAMES, MCP_TOOLS, type McpToolName, type McpToolSpec } from './tools.js';

/** The connector methods an MCP server calls: an {@link OrchestrationConnector}, or anything with the same methods. */
export type McpConnector = Pick<OrchestrationConnector, McpToolName>;

/** Options of {@link createMcpServer}. */
export interface CreateMcpServerOptions {
  /** Server name shown to clients. @default 'orchestration-connector' */
  name?: string;
  /** Server version shown to clients. @default '0.1.0' */
  version?: string;
  /**
   * The methods to expose as tools.
   * @default every method but reviewAction, reviewProposal, updatePolicy and clearAllData
   */
  tools?: readonly McpToolName[];
  /**
   * Binds the server to one acting actor: every input naming the acting actor (`actor_id`, `reviewer_id`,
   * `requester`, `createdBy`, `updated_by`) must be this id, and is filled with it when absent; any other id is
   * `FORBIDDEN`. With it an agent cannot act as anyone else, so the connector's self-approval rule holds.
   */
  actorId?: string;
}

type Invoke = (args: unknown, signal?: AbortSignal) => Promise<CallToolResult>;

const INSTRUCTIONS =
  'An approval gate between you and the tools you want to run. Propose a tool call with proposeAction ' +
  '(give a reason); a human reviews it. Wait with waitForDecision, then run it with executeAction once it is ' +
  '"approved". Tools that need no approval are approved at once. Errors come back as isError results whose ' +
  'structuredContent.error.code says what went wrong (e.g. APPROVAL_REQUIRED, FORBIDDEN, INVALID_INPUT).';

/**
 * An MCP server (the SDK's `McpServer`) with one tool per connector method, named as the method, whose input
 * schema is the method's zod schema. A result comes back as `structuredContent` (arrays as `{ items }`) and
 * as JSON text; a failure as an `isError` result with `structuredContent: { error: { code, message, details } }`
 * and the text `CODE: message`, input validation failures (`INVALID_INPUT`) included.
 *
 * Connect it to any SDK transport: `await createMcpServer(connector).connect(new StdioServerTransport())`.
 * One server serves one client connection; make one per session (they may share the connector).
 */
export function createMcpServer(connector: McpConnector, options: CreateMcpServerOptions = {}): McpServer {
  const exposed = exposedTools(options);
  const actorId = options.actorId;
  if (actorId !== undefined && (typeof actorId !== 'string' || actorId.length === 0)) {
    throw new OrchestrationError('INVALID_INPUT', 'actorId must be a non-empty actor id.', { actorId });
  }
  if (actorId !== undefined && exposed.includes('updatePolicy')) {
    throw new OrchestrationError(
      'INVALID_INPUT',
      'updatePolicy cannot be exposed on a server bound to an actor: the agent could loosen its own approval rules. ' +
        'Serve it without actorId, to a trusted client only.',
      { actorId },
    );
  }

  const server = new McpServer(
    { name: options.name ?? 'orchestration-connector', version: options.version ?? '0.1.0' },
    { instructions: INSTRUCTIONS },
  );
  const invokers = new Map<string, { invoke: Invoke; enabled: () => boolean }>();
  for (const name of exposed) {
    const spec: McpToolSpec = MCP_TOOLS[name];
    // Bound fields are optional to the client: the server fills them in.
    const schema =
      actorId !== undefined && spec.actingFields !== undefined
        ? spec.schema.partial(Object.fromEntries(spec.actingFields.map((f) => [f, true])) as never)
        : spec.schema;
    const invoke: Invoke = (args, signal) => callMethod(connector, name, args, actorId, signal);
    const registered = server.registerTool(
      name,
      { title: spec.title, description: spec.description, inputSchema: schema, annotations: spec.annotations },
      (args) => invoke(args),
    );
    invokers.set(name, { invoke, enabled: () => registered.enabled });
  }
  if (invokers.size > 0) takeOverToolCalls(server, invokers);
  return server;
}

function exposedTools(options: CreateMcpServerOptions): McpToolName[] {
  if (options.tools === undefined) return MCP_TOOL_NAMES.filter((t) => !HIDDEN_BY_DEFAULT.includes(t));
  const unknown = options.tools.filter((t) => !Object.hasOwn(MCP_TOOLS, t));
  if (unknown.length > 0) {
    throw new OrchestrationError('INVALID_INPUT', `Unknown tools: ${unknown.join(', ')}. Use connector method names.`, {
      unknown,
      known: MCP_TOOL_NAMES,
    });
  }
  return [...new Set(options.tools)];
}

/**
 * Answers `tools/call` for our tools with the raw arguments, so that the connector validates them and
 * invalid input is an `INVALID_INPUT` result like any other failure (the SDK's own check would answer
 * with bare text). Other tools registered on the server later go to the SDK's handler.
 */
function takeOverToolCalls(server: McpServer, invokers: Map<string, { invoke: Invoke; enabled: () => boolean }>) {
  type Handler = (request: unknown, extra: unknown) => Promise<unknown>;
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, Handler> })._requestHandlers;
  const sdkHandler = handlers?.get('tools/call');
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    const own = invokers.get(name);
    if (own?.enabled()) return await own.invoke(request.params.arguments ?? {}, extra.signal);
    if (own !== undefined || Object.hasOwn(MCP_TOOLS, name)) {
      return failure(
        new OrchestrationError('TOOL_NOT_FOUND', `Tool '${name}' is not exposed by this server.`, { tool: name }),
      );
    }
    if (sdkHandler !== undefined) return (await sdkHandler(request, extra)) as CallToolResult;
    throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
  });
}

async function callMethod(
  connector: McpConnector,
  name: McpToolName,
  args: unknown,
  actorId: string | undefined,
  signal: AbortSignal | undefined,
): Promise<CallToolResult> {
  try {
    const input = actorId === undefined ? args : bindActor(name, args, actorId);
    if (actorId !== undefined && name === 'reviewProposal') await refuseOwnProposal(connector, input, actorId);
    // A client's cancel (or its going away) ends a wait; nothing else stops halfway for it.
    if (name === 'waitForDecision') return success(await connector.waitForDecision(input as never, { signal }));
    const method = connector[name] as (input: unknown) => Promise<unknown>;
    return success(await method.call(connector, input));
  } catch (err) {
    return failure(err);
  }
}

/** Fills or checks the fields that name the acting actor. */
function bindActor(name: McpToolName, args: unknown, actorId: string): unknown {
  const fields = (MCP_TOOLS[name] as McpToolSpec).actingFields;
  if (fields === undefined || typeof args !== 'object' || args === null || Array.isArray(args)) return args;
  const input: Record<string, unknown> = { ...args };
  for (const field of fields) {
    if (input[field] === undefined) input[field] = actorId;
    else if (input[field] !== actorId) {
      // The given value comes from the client: show a bounded part of a string, and only the kind of anything
      // else (converting a hostile object to text can throw, or run the client's idea of `toString`).
      const value = input[field];
      const given =
        typeof value === 'string' ? `'${value.length > 80 ? `${value.slice(0, 80)}…` : value}'` : `a ${kindOf(value)}`;
      throw new OrchestrationError(
        'FORBIDDEN',
        `This server acts as '${actorId}' only; '${field}' cannot be ${given}. Leave it out.`,
        { field, actorId, given },
      );
    }
  }
  return input;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/** A bound agent must not approve a general proposal it requested (action proposals have the connector's rule). */
async function refuseOwnProposal(connector: McpConnector, input: unknown, actorId: string): Promise<void> {
  const id = (input as { proposal_id?: unknown } | null)?.proposal_id;
  if (typeof id !== 'string') return;
  const proposal = await connector.getProposal({ id });
  if (proposal.requester === actorId) {
    throw new OrchestrationError('FORBIDDEN', `Actor '${actorId}' requested proposal '${id}' and cannot review it.`, {
      proposalId: id,
      actorId,
    });
  }
}

function success(value: unknown): CallToolResult {
  const structured =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (JSON.parse(JSON.stringify(value)) as Record<string, unknown>)
      : { [Array.isArray(value) ? 'items' : 'result']: JSON.parse(JSON.stringify(value ?? null)) as unknown };
  return { structuredContent: structured, content: [{ type: 'text', text: JSON.stringify(structured) }] };
}

function failure(err: unknown): CallToolResult {
  const error =
    err instanceof OrchestrationError
      ? { code: err.code as string, message: err.message, details: err.details }
      : {
          code: 'INTERNAL_ERROR',
          message: err instanceof Error ? err.message : String(err),
          details: {},
        };
  return {
    isError: true,
    structuredContent: { error: JSON.parse(JSON.stringify(error)) as Record<string, unknown> },
    content: [{ type: 'text', text: `${error.code}: ${error.message}` }],
  };
}
