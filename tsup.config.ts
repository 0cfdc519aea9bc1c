import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    sqlite: 'src/sqlite.ts',
    postgres: 'src/postgres.ts',
    mcp: 'src/mcp/index.ts',
    testing: 'src/testing/index.ts',
    cli: 'src/cli.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  splitting: true,
  // import.meta.url in the CommonJS build (the SQLite store finds its driver from its own file).
  shims: true,
  // p-retry and p-limit are ESM-only: bundle them so that require() of the CJS build works on every Node 20.
  noExternal: ['p-retry', 'p-limit', 'yocto-queue', 'is-network-error'],
  external: ['better-sqlite3', 'pg', '@modelcontextprotocol/sdk', 'zod', 'eventemitter3'],
});
