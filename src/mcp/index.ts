/**
 * `orchestration-connector/mcp`: serve the connector to agents over MCP, and run approved tool calls on
 * remote MCP servers. Needs the optional peer `@modelcontextprotocol/sdk`.
 * @module
 */

export type { McpExecutorOptions } from './executor.js';
export { McpExecutor, RemoteToolError } from './executor.js';
export type { McpHttpOptions, McpHttpServer } from './http.js';
export { serveMcpHttp } from './http.js';
export type { RemoteCallOptions, RemoteConnectionsOptions, RemoteServer, RemoteToolInfo } from './remote.js';
export { RemoteConnections } from './remote.js';
export type { CreateMcpServerOptions, McpConnector } from './server.js';
export { createMcpServer } from './server.js';
export type { McpToolName } from './tools.js';
export { HIDDEN_BY_DEFAULT, MCP_TOOL_NAMES } from './tools.js';
