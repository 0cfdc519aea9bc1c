import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { emit, env, main } from './common.js';

/** Takes SQLite's write lock on `OC_SQLITE_FILE` (BEGIN IMMEDIATE) and holds it until stdin says `release`. */
main(async () => {
  const db = new Database(env('OC_SQLITE_FILE'));
  db.prepare('BEGIN IMMEDIATE').run();
  emit({ type: 'locked', pid: process.pid });
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'release') {
        rl.close();
        resolve();
      }
    });
  });
  db.prepare('ROLLBACK').run();
  db.close();
  emit({ type: 'done', pid: process.pid });
});
