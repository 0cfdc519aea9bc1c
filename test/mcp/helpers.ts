import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'src/cli.ts');
export const REMOTE_FIXTURE = join(ROOT, 'test/fixtures/remote-server.mjs');
export const TOOLS_FIXTURE = join(ROOT, 'test/fixtures/tools.mjs');

/** The bin, run from source with tsx (dist may not be built). */
export function cliCommand(args: string[]): { command: string; args: string[]; cwd: string } {
  return { command: process.execPath, args: ['--import', 'tsx', CLI, 'serve', ...args], cwd: ROOT };
}

/** A stdio server spec for the fixture MCP server. */
export function fixtureServer(env: Record<string, string> = {}): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  return { command: process.execPath, args: [REMOTE_FIXTURE], env };
}

/** A temporary directory removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'oc-mcp-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A child process that printed a line matching `ready` on stderr. */
export interface Started {
  child: ChildProcess;
  match: RegExpExecArray;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Spawns a process and waits until its stderr matches `ready`. */
export async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<Started> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 20 s: ${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${err}`));
    });
  });
  return {
    child,
    match,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return await exited;
    },
  };
}

/** Calls a tool and returns the result with its structured content typed loosely. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult & { structuredContent?: Record<string, unknown> }> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult & {
    structuredContent?: Record<string, unknown>;
  };
}

/** The error code of an `isError` result. */
export function errorCode(result: { structuredContent?: Record<string, unknown> }): unknown {
  return (result.structuredContent?.error as { code?: unknown } | undefined)?.code;
}
