import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite-schema.js';
import type { AuditEvent } from '../../src/types.js';

/**
 * A new SQLite database at schema `version`, as an older release left it: the migrations up to that
 * version applied and recorded, nothing else. For upgrade tests that then write rows by hand.
 */
export function sqliteAtVersion(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE oc_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO oc_migrations (version, applied_at) VALUES (?, ?)').run(m.version, 'then');
  }
  return db;
}

/** A writer of `oc_audit` rows as schema versions 2 and 3 hold them (the columns, then the JSON). */
export function legacyAuditWriter(db: Database.Database): (ev: AuditEvent) => void {
  const audit = db.prepare(
    `INSERT INTO oc_audit (seq, id, event_type, entity_type, entity_id, actor_id, timestamp, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return (ev) => {
    audit.run(
      ev.seq,
      ev.id,
      ev.eventType,
      ev.entityType,
      ev.entityId,
      ev.actorId ?? null,
      ev.timestamp,
      JSON.stringify(ev),
    );
  };
}
