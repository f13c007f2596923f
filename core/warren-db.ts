// The schema of DATA/warren.db: what gated's tools write and the gateway reads. Migrations are applied by name,
// once; a shipped migration is never edited — add a new one.
import { join } from 'node:path';
import { openDb, type Db, type Migration } from './db.js';

export const WARREN_MIGRATIONS: Migration[] = [
  {
    name: 'core-001-messages',
    sql: `
      -- Inbox: everything a tenant should see on its next turn (chat messages, delegated work, escalations, results).
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT 'main',
        kind TEXT NOT NULL,             -- chat | delegation | escalation | result
        chat TEXT,                      -- where a reply goes (canonical chat id), if any
        sender TEXT NOT NULL,           -- a person's handle, or the tenant path that sent it
        text TEXT NOT NULL,
        depth INTEGER NOT NULL DEFAULT 0, -- delegation depth, tracked by the server, never taken from arguments
        ref TEXT,                       -- delegation id this message belongs to, if any
        created_at TEXT NOT NULL,
        run TEXT                        -- the run that consumed it (NULL while pending)
      );
      CREATE INDEX messages_pending ON messages (tenant, topic, run, id);

      -- Outbox: what tenants said; the gateway delivers it.
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT 'main',
        kind TEXT NOT NULL,             -- message | reply | like | file
        chat TEXT,
        text TEXT,
        reply_to INTEGER,
        reaction TEXT,
        file_path TEXT,
        run TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX outbox_tenant ON outbox (tenant, id);
      CREATE INDEX outbox_undelivered ON outbox (delivered_at, id);

      CREATE TABLE delegations (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,             -- delegate | escalate
        from_tenant TEXT NOT NULL,
        from_topic TEXT NOT NULL,
        to_tenant TEXT NOT NULL,
        depth INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,           -- queued | done | failed
        result TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      );

      CREATE TABLE observations (
        observer TEXT NOT NULL,
        source TEXT NOT NULL,
        cursor INTEGER NOT NULL,        -- last message id the observer has read
        created_at TEXT NOT NULL,
        PRIMARY KEY (observer, source)
      );

      CREATE TABLE topics (
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL,
        parent TEXT,
        session TEXT,                   -- harness session state (e.g. a session id to resume)
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant, topic)
      );

      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL,             -- chat_link | webhook | invite
        target TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,      -- SHA-256 of the secret; the secret itself is shown once and never stored
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT
      );

      CREATE TABLE routes (
        chat TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX routes_tenant ON routes (tenant);

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
        args_digest TEXT NOT NULL,      -- SHA-256 of the canonical JSON of the arguments
        args_shape TEXT NOT NULL        -- keys and types only, never values
      );
      CREATE INDEX audit_tenant ON audit (tenant, id);
      CREATE INDEX audit_decision ON audit (decision, id);
    `,
  },
  {
    // The chat a delegation or escalation was made from: its result comes back on that conversation.
    name: 'core-002-delegation-chat',
    sql: `ALTER TABLE delegations ADD COLUMN from_chat TEXT;`,
  },
  {
    // The run that handed the work on: if that run is interrupted and re-queued, work it handed on that nobody has
    // started yet is withdrawn, so the re-run does not hand it on twice.
    name: 'core-003-delegation-run',
    sql: `ALTER TABLE delegations ADD COLUMN from_run TEXT;`,
  },
  {
    // A webhook's HMAC key, sealed with a key derived from the hook's URL secret (gated/tools/tokens.ts): verifying
    // a signature needs both the URL secret, never stored, and this column.
    name: 'core-004-token-hmac',
    sql: `ALTER TABLE tokens ADD COLUMN hmac TEXT;`,
  },
  {
    // The session a forked topic was started from (fork_topic): while its session is still that one, its next turn
    // forks it into a session of its own instead of appending to the parent's.
    name: 'core-005-topic-forked-from',
    sql: `ALTER TABLE topics ADD COLUMN forked_from TEXT;`,
  },
  {
    // Virtual hosts of the web listener (docs/web.md): a host name serves a tenant's web/. Written by set_vhost and
    // remove_vhost (tier 0) only.
    name: 'core-006-vhosts',
    sql: `
      CREATE TABLE vhosts (
        host TEXT PRIMARY KEY,          -- lowercase, no port, no trailing dot
        tenant TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX vhosts_tenant ON vhosts (tenant);
    `,
  },
  {
    // Workers (gated/tools/workers.ts, docs/coordinator.md#workers): ephemeral containers a coordinator spawns for
    // heavy work. Written only by gated/store.ts; the gateway's worker pool runs them through its methods. `result` is
    // the text delivered back to the spawning topic: set exactly once, with that message, in one transaction.
    name: 'core-007-workers',
    sql: `
      CREATE TABLE workers (
        id TEXT PRIMARY KEY,            -- 'w-' + random: the handle
        tenant TEXT NOT NULL,
        topic TEXT NOT NULL,            -- the coordinator topic the result returns to
        spawned_by TEXT NOT NULL,       -- the run that spawned it
        brief TEXT NOT NULL,
        state TEXT NOT NULL,            -- queued | running | done | failed | cancelled
        created_at INTEGER NOT NULL,    -- ms since epoch
        started_at INTEGER,
        ended_at INTEGER,
        container TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        result TEXT
      );
      CREATE INDEX workers_state ON workers (state, created_at);
      CREATE INDEX workers_tenant ON workers (tenant, created_at);
    `,
  },
];

export function warrenDbPath(dataDir: string): string {
  return join(dataDir, 'warren.db');
}

export function openWarrenDb(dataDir: string, extra: readonly Migration[] = []): Db {
  return openDb(warrenDbPath(dataDir), [...WARREN_MIGRATIONS, ...extra]);
}

export function nowIso(): string {
  return new Date().toISOString();
}
