/**
 * The tools of the example, shared by the host (which runs them) and the MCP server the agent talks
 * to (which checks proposals against their schemas). One is read-only, one needs a human.
 */
import { z } from 'zod';
import type { ToolDefinition } from '../../src/index.js';

const searchDocs = z.object({ query: z.string().min(1) });
const sendEmail = z.object({ to: z.string().email(), subject: z.string().min(1), body: z.string() });

export const tools: Record<string, ToolDefinition> = {
  search_docs: {
    description: 'Searches the internal docs (read-only: runs without review).',
    readOnly: true,
    schema: searchDocs,
    handler: async (params) => ({ query: params.query, hits: ['refund-policy.md', 'billing-faq.md'] }),
  },
  send_email: {
    description: 'Sends an email to a customer (a human approves it first).',
    schema: sendEmail,
    handler: async (params) => ({ sent: true, to: params.to, messageId: `msg_${Date.now()}` }),
  },
};
