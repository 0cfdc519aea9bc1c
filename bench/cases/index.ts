/**
 * The case groups, in run order. Each runs in a worker process of its own (a fresh heap and JIT, so
 * that one case's garbage or warm code does not bend the next one's figures).
 */
export interface GroupSpec {
  name: string;
  /** Module under bench/cases and the exported Group. */
  module: string;
  export: string;
  /** `peers`: needs bench/peers installed; `database`: needs DATABASE_URL. */
  needs?: 'peers' | 'database';
  /** In a full run, the group's worker is stopped after this long. */
  timeoutSec: number;
  /** Runs only in full runs. */
  fullOnly?: boolean;
  /**
   * Runs beside the groups after it instead of before them: for a group that measures memory, not
   * time, and takes minutes of CPU (it costs the groups beside it one of the machine's cores).
   */
  background?: boolean;
}

export const GROUPS: GroupSpec[] = [
  { name: 'cycle-memory', module: 'cycle', export: 'cycleMemory', timeoutSec: 60 },
  { name: 'cycle-sqlite-full', module: 'cycle', export: 'cycleSqliteFull', timeoutSec: 60 },
  { name: 'cycle-sqlite-normal', module: 'cycle', export: 'cycleSqliteNormal', timeoutSec: 60 },
  { name: 'cycle-pglite', module: 'cycle', export: 'cyclePglite', timeoutSec: 60 },
  {
    name: 'cycle-postgres',
    module: 'cycle',
    export: 'cyclePostgres',
    needs: 'database',
    timeoutSec: 90,
  },
  {
    name: 'peer-langgraph-memory',
    module: 'peers',
    export: 'peerLangGraphMemory',
    needs: 'peers',
    timeoutSec: 60,
  },
  {
    name: 'peer-langgraph-sqlite',
    module: 'peers',
    export: 'peerLangGraphSqlite',
    needs: 'peers',
    timeoutSec: 60,
  },
  {
    name: 'peer-openai-memory',
    module: 'peers',
    export: 'peerOpenAiMemory',
    needs: 'peers',
    timeoutSec: 60,
  },
  {
    name: 'peer-openai-serialised',
    module: 'peers',
    export: 'peerOpenAiSerialised',
    needs: 'peers',
    timeoutSec: 60,
  },
  { name: 'gate', module: 'gate', export: 'gate', timeoutSec: 60 },
  { name: 'heap-100k', module: 'growth', export: 'heap100k', timeoutSec: 90 },
  { name: 'growth-memory', module: 'growth', export: 'growthMemory', timeoutSec: 120 },
  { name: 'growth-pglite', module: 'growth', export: 'growthPglite', timeoutSec: 90 },
  // A million real cycles take minutes: they run beside the SQLite and
  // PostgreSQL growth groups (mostly filling their tables), which leave a core free.
  { name: 'heap-1m', module: 'growth', export: 'heap1m', fullOnly: true, background: true, timeoutSec: 420 },
  { name: 'growth-sqlite', module: 'growth', export: 'growthSqlite', timeoutSec: 120 },
  {
    name: 'growth-postgres',
    module: 'growth',
    export: 'growthPostgres',
    needs: 'database',
    timeoutSec: 150,
  },
];
