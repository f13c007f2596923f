// The gateway's tables in DATA/warren.db: runs (one per container turn) and leases (the global container cap and the
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
  {
    // Live output (gateway/live/): each run's chunks with a gap-free per-run sequence, and per run where the sequence
    // stands, what is still kept, and whether the run has ended. Written only by gateway/live/output-store.ts.
    name: 'gateway-002-run-output',
    sql: `
      CREATE TABLE run_output (
        run TEXT NOT NULL,
        seq INTEGER NOT NULL,           -- 1, 2, 3 ... per run, no holes
        time TEXT NOT NULL,
        kind TEXT NOT NULL,             -- log | event | tool | status
        text TEXT,                      -- log lines
        data TEXT,                      -- JSON, for the other kinds
        bytes INTEGER NOT NULL,
        PRIMARY KEY (run, seq)
      ) WITHOUT ROWID;

      CREATE TABLE run_output_state (
        run TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        last_seq INTEGER NOT NULL,      -- the highest seq ever written
        pruned_to INTEGER NOT NULL,     -- chunks 1..pruned_to are gone (0: none)
        chunks INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        end_status TEXT
      );
      CREATE INDEX run_output_state_ended ON run_output_state (ended_at);
    `,
  },
];
