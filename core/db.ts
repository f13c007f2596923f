// SQLite access: one file per store, WAL mode, migrations applied by name exactly once.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

export interface Migration {
  /** Unique, stable name; never rename or edit a migration that has shipped. */
  name: string;
  sql: string;
}

export function openDb(file: string, migrations: readonly Migration[] = []): Db {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Conversations, audit rows and sealed secrets are nobody else's business: the file (and so its WAL and shm, which
  // SQLite creates with the database's permissions) is private whatever the umask.
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

export function migrate(db: Db, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT name FROM migrations').all() as { name: string }[]).map((r) => r.name),
  );
  const record = db.prepare('INSERT INTO migrations (name, applied_at) VALUES (?, ?)');
  for (const m of migrations) {
    if (applied.has(m.name)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.name, new Date().toISOString());
    })();
  }
}

/** Whether a named step (a migration, or a one-off data move recorded alongside them) has been applied. */
export function isApplied(db: Db, name: string): boolean {
  return db.prepare('SELECT 1 FROM migrations WHERE name = ?').get(name) !== undefined;
}

/** Records a one-off step as applied; call it inside the transaction that does the step. */
export function markApplied(db: Db, name: string): void {
  db.prepare('INSERT INTO migrations (name, applied_at) VALUES (?, ?)').run(name, new Date().toISOString());
}

/** Opens an existing database for reading only: never creates the file or its folder, never migrates. */
export function openDbReadOnly(file: string): Db {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

/** A private in-memory database with the given schema (what a read-only command uses when there is no file). */
export function openMemoryDb(migrations: readonly Migration[]): Db {
  const db = new Database(':memory:');
  migrate(db, migrations);
  return db;
}
