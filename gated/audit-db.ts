// DATA/audit.db: the audit log has a database of its own. Every call commits a row, and in WAL mode a commit on one
// connection makes every other connection to the same file drop its page cache and takes the one write lock: in
// warren.db, audit commits would slow every read the tools make and queue behind (or hold up) their writes.
import { join } from 'node:path';
import { isApplied, markApplied, openDb, type Db, type Migration } from '../core/db.js';
import { warrenDbPath } from '../core/warren-db.js';

export const AUDIT_DB_FILE = 'audit.db';

export const AUDIT_MIGRATIONS: Migration[] = [
  {
    name: 'audit-001',
    sql: `
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        tenant TEXT NOT NULL,
        run TEXT,
        tool TEXT NOT NULL,
        decision TEXT NOT NULL,         -- allow | deny | unknown | invalid
        rule TEXT,                      -- the deciding rule and its source
        duration_us INTEGER NOT NULL,
        outcome TEXT NOT NULL,          -- ok | error | denied
        args_digest TEXT NOT NULL,      -- HMAC-SHA256 (DATA/audit.key) of the canonical JSON of the arguments
        args_shape TEXT NOT NULL,       -- keys and types only, never values
        reason TEXT                     -- refused calls: the sentence the agent got, argument values taken out
      );
      -- Each index is one more page written by every commit: allowed calls touch only the table. Refused calls,
      -- the rows one looks for, have a partial index; a tenant's rows are found by scanning newest first.
      CREATE INDEX audit_refused ON audit (id) WHERE decision != 'allow';
    `,
  },
  {
    // The audit by time range (the HTTP API's since/until filters): walked newest first, a page stops after its rows
    // instead of scanning the whole table for a range far from the newest rows. One page more per commit.
    name: 'audit-003-time',
    sql: `CREATE INDEX audit_time ON audit (time);`,
  },
];

export function auditDbPath(dataDir: string): string {
  return join(dataDir, AUDIT_DB_FILE);
}

export function openAuditDb(dataDir: string): Db {
  return openDb(auditDbPath(dataDir), AUDIT_MIGRATIONS);
}

const LEGACY_MOVED = 'audit-002-rows-from-warren-db';

/**
 * Rows an older gated wrote into warren.db's audit table move here, once: copied in one transaction together with
 * the marker that says so, then the old table is dropped (again on the next start if a crash came in between).
 * Their digests are plain SHA-256 of the arguments and they have no reason.
 */
export function adoptLegacyAuditRows(audit: Db, dataDir: string): number {
  const legacy = warrenDbPath(dataDir);
  audit.prepare('ATTACH DATABASE ? AS legacy').run(legacy);
  try {
    const hasTable = audit.prepare("SELECT 1 FROM legacy.sqlite_master WHERE type = 'table' AND name = 'audit'").get();
    if (!hasTable) return 0;
    const moved = isApplied(audit, LEGACY_MOVED);
    let rows = 0;
    if (!moved) {
      audit.transaction(() => {
        rows = audit.prepare(`INSERT INTO main.audit (time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape)
          SELECT time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape FROM legacy.audit ORDER BY id`).run().changes;
        markApplied(audit, LEGACY_MOVED);
      })();
    }
    audit.exec('DROP TABLE legacy.audit');
    return rows;
  } finally {
    audit.exec('DETACH DATABASE legacy');
  }
}
