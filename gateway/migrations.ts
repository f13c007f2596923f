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
  {
    // Channels (docs/channels.md): what an inbound message came with, whether it engages a turn, how each outbox row's
    // delivery went, and the unknown senders waiting for an operator.
    name: 'gateway-002-channels',
    sql: `
      ALTER TABLE messages ADD COLUMN thread TEXT;
      ALTER TABLE messages ADD COLUMN platform_id TEXT;        -- the platform's id of the message (replies point at it)
      ALTER TABLE messages ADD COLUMN sender_name TEXT;        -- display only, never an identity
      ALTER TABLE messages ADD COLUMN engaged INTEGER NOT NULL DEFAULT 1; -- 0: context for the next engaged turn
      CREATE INDEX messages_engaged ON messages (run, engaged, tenant, topic);

      ALTER TABLE outbox ADD COLUMN delivery_state TEXT;       -- NULL pending | sending | delivered | failed
      ALTER TABLE outbox ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE outbox ADD COLUMN delivery_error TEXT;       -- the last error, said to the operator
      ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER;   -- epoch ms; NULL: now
      ALTER TABLE outbox ADD COLUMN platform_message_id TEXT;
      CREATE INDEX outbox_delivery ON outbox (delivery_state, chat, id);

      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        world TEXT NOT NULL,
        chat TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        event TEXT NOT NULL,            -- the first message, held (JSON of the InboundEvent and its adapter)
        state TEXT NOT NULL,            -- pending | approved | denied
        created_at TEXT NOT NULL,
        decided_at TEXT,
        UNIQUE (world, chat, sender)
      );
    `,
  },
  {
    // Classroom roles (gateway/channels/users.ts): people paired to groups by invite codes, and paused groups.
    name: 'gateway-classroom-users',
    sql: `
      -- A platform user (the chat's sender id, e.g. tg:5551234); the name is what the platform showed, display only.
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT,
        created_at TEXT NOT NULL
      );

      -- A user's tie to one group, with the role the group's folder name carried when they paired.
      CREATE TABLE memberships (
        user TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        tenant TEXT NOT NULL,
        role TEXT NOT NULL,             -- student | ta | instructor
        token TEXT NOT NULL,            -- the invite token that paired it
        paired_at TEXT NOT NULL,
        PRIMARY KEY (user, tenant)
      );
      CREATE INDEX memberships_tenant ON memberships (tenant);

      -- Redeemed invite tokens: one row per token, which is what makes a pairing code single use.
      CREATE TABLE pairings (
        token TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        tenant TEXT NOT NULL,
        paired_at TEXT NOT NULL
      );

      -- Groups that get no new turns (their messages wait) until resumed.
      CREATE TABLE paused (
        tenant TEXT PRIMARY KEY,
        by TEXT NOT NULL,
        at TEXT NOT NULL
      );
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
  {
    // Where a run's turn was placed on a cluster (docs/scale-out.md): the Swarm node and task that run it. NULL on the
    // local backend, and until the cluster has placed the task. Written only by RunStore.setPlacement.
    name: 'gateway-003-run-placement',
    sql: `
      ALTER TABLE runs ADD COLUMN node TEXT;          -- the Swarm node: its hostname, or its ID when that is unknown
      ALTER TABLE runs ADD COLUMN task TEXT;          -- the Swarm task's ID
    `,
  },
];
