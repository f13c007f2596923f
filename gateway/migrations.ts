// The gateway's tables in DATA/warren.db: runs (one per container turn), leases (the global container cap and the
// one-turn-per-topic rule, enforced by the database rather than by an in-memory flag).
import type { Migration } from '../core/db.js';

export const GATEWAY_MIGRATIONS: Migration[] = [
  {
    name: 'gateway-001-runs',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL,
        status TEXT NOT NULL,           -- running | done | failed | requeued
        attempt INTEGER NOT NULL,       -- 1 for a first run; 2 for the one re-run after a crash
        depth INTEGER NOT NULL,
        chat TEXT,
        container TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        result TEXT,
        error TEXT
      );
      CREATE INDEX runs_status ON runs (instance, status);

      CREATE TABLE leases (
        run TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        UNIQUE (tenant, topic)
      );

      -- How many times a message's turn was interrupted by a crash; it is re-queued exactly once.
      ALTER TABLE messages ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
    `,
  },
  // API tokens an operator issues (`warren tokens`): the secret is shown once; only its SHA-256 is stored.
  {
    name: 'gateway-002-api-tokens',
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL,            -- a tenant path: the token reaches it and every tenant below it
        access TEXT NOT NULL CHECK (access IN ('read', 'write')),
        hash TEXT NOT NULL UNIQUE,
        note TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT,                -- NULL: until revoked
        revoked_at TEXT
      );
    `,
  },
];
