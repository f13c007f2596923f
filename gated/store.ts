// The data behind gated's tools (DATA/warren.db). Every statement is prepared once; tools call these methods and
// never write SQL of their own. gated's tables (messages, outbox, delegations, topics, ...) are written only here:
// the gateway's run store claims, requeues and answers messages through the methods at the end, inside its own
// transactions (same connection). test/layers.test.ts holds every other module to that.
import { randomUUID } from 'node:crypto';
import type { Db } from '../core/db.js';
import { nowIso } from '../core/warren-db.js';
import type { TenantPath } from '../core/tenant-path.js';

export interface MessageRow {
  id: number;
  tenant: string;
  topic: string;
  kind: string;
  chat: string | null;
  sender: string;
  text: string;
  depth: number;
  ref: string | null;
  created_at: string;
  run: string | null;
}

export interface NewMessage {
  tenant: TenantPath;
  topic?: string;
  kind: 'chat' | 'delegation' | 'escalation' | 'result';
  chat?: string | null;
  sender: string;
  text: string;
  depth?: number;
  ref?: string | null;
  /** created_at; default now. The run store passes its transaction's time. */
  at?: string;
}

export interface NewOutbox {
  tenant: TenantPath;
  topic: string;
  kind: 'message' | 'reply' | 'like' | 'file';
  chat?: string | null;
  text?: string | null;
  replyTo?: number | null;
  reaction?: string | null;
  filePath?: string | null;
  run?: string | null;
  /** created_at; default now. */
  at?: string;
}

export interface TokenRow {
  id: string;
  tenant: string;
  kind: string;
  target: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface TopicRecord {
  session: string | null;
  /** The parent's session a forked topic started from: while `session` is still it, the next turn forks it. */
  forked_from: string | null;
}

/** A token as redeeming it needs: its owner, target and, for a signed webhook, the sealed HMAC key. */
export interface TokenRecord extends TokenRow {
  hmac: string | null;
}

/**
 * The turn loop's writes (gateway/run-store.ts). Prepared only when first used: they need the gateway's migration
 * (the `interrupted` column), which a gated running alone (`warren gated`) never applies.
 */
function turnStatementsOf(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    claimMessage: p(`UPDATE messages SET run = ? WHERE id = ? AND run IS NULL`),
    finishDelegation: p(`UPDATE delegations SET status = ?, result = ?, finished_at = ? WHERE id = ? AND status = 'queued'`),
    upsertSession: p(`INSERT INTO topics (tenant, topic, parent, session, created_at) VALUES (?, ?, NULL, ?, ?)
                      ON CONFLICT (tenant, topic) DO UPDATE SET session = excluded.session`),
    requeueMessages: p(`UPDATE messages SET run = NULL, interrupted = interrupted + 1 WHERE run = ?`),
    withdrawMessages: p(`DELETE FROM messages WHERE run IS NULL AND ref IN
                           (SELECT id FROM delegations WHERE from_run = ? AND status = 'queued')`),
    withdrawDelegations: p(`DELETE FROM delegations WHERE from_run = ? AND status = 'queued'
                              AND id NOT IN (SELECT ref FROM messages WHERE ref IS NOT NULL)`),
    withdrawWorkers: p(`DELETE FROM workers WHERE spawned_by = ? AND state = 'queued'`),
    dropRunOutbox: p(`DELETE FROM outbox WHERE run = ? AND delivered_at IS NULL`),
  };
}
type TurnStatements = ReturnType<typeof turnStatementsOf>;

/** What a chat platform said about an inbound message (gateway/channels): stored beside it, never from a tenant. */
export interface ChannelFields {
  thread: string | null;
  platformId: string | null;
  senderName: string | null;
  /** False: context for the next engaged turn of its topic, which does not start a turn itself. */
  engaged: boolean;
}

/** The gateway's channel writes (messages' channel columns, outbox delivery), prepared on first use like the turn's. */
function channelStatementsOf(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertMessage: p(`INSERT INTO messages (tenant, topic, kind, chat, sender, text, depth, ref, created_at, thread, platform_id, sender_name, engaged)
                      VALUES (@tenant, @topic, @kind, @chat, @sender, @text, @depth, @ref, @created_at, @thread, @platform_id, @sender_name, @engaged)`),
    startDelivery: p(`UPDATE outbox SET delivery_state = 'sending', delivery_attempts = delivery_attempts + 1
                      WHERE id = ? AND delivered_at IS NULL AND (delivery_state IS NULL OR delivery_state = 'sending')`),
    delivered: p(`UPDATE outbox SET delivery_state = 'delivered', delivered_at = ?, platform_message_id = ?, delivery_error = NULL,
                  next_attempt_at = NULL WHERE id = ?`),
    retryLater: p(`UPDATE outbox SET delivery_state = NULL, delivery_error = ?, next_attempt_at = ? WHERE id = ?`),
    failed: p(`UPDATE outbox SET delivery_state = 'failed', delivery_error = ?, next_attempt_at = NULL WHERE id = ?`),
    reconcileSending: p(`UPDATE outbox SET delivery_state = NULL WHERE delivery_state = 'sending'`),
  };
}
type ChannelStatements = ReturnType<typeof channelStatementsOf>;

export type WorkerState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** Every state a worker can end in. */
export const WORKER_END_STATES: readonly WorkerState[] = ['done', 'failed', 'cancelled'];

/** A worker as gated/tools/workers.ts, the gateway's pool and `warren workers` read it (the columns, camelCase). */
export interface WorkerRow {
  id: string;
  tenant: TenantPath;
  /** The coordinator topic its result returns to. */
  topic: string;
  /** The run that spawned it. */
  spawnedBy: string;
  brief: string;
  state: WorkerState;
  /** ms since epoch */
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  container: string | null;
  /** How many times it was started (a gateway restart re-queues a running worker once). */
  attempt: number;
  /** The text delivered to the spawning topic; null until it is delivered. */
  result: string | null;
}

const WORKER_COLUMNS = `id, tenant, topic, spawned_by AS spawnedBy, brief, state, created_at AS createdAt,
  started_at AS startedAt, ended_at AS endedAt, container, attempt, result`;

/** Workers' statements, prepared on first use (a database older than the workers migration never needs them). */
function workerStatementsOf(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  const ended = `state IN ('done', 'failed', 'cancelled')`;
  return {
    insert: p(`INSERT INTO workers (id, tenant, topic, spawned_by, brief, state, created_at, attempt)
               VALUES (@id, @tenant, @topic, @spawnedBy, @brief, 'queued', @createdAt, 0)`),
    byId: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE id = ?`),
    all: p(`SELECT ${WORKER_COLUMNS} FROM workers ORDER BY created_at, rowid`),
    active: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE state IN ('queued', 'running') ORDER BY created_at, rowid`),
    ofTenant: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE tenant = @tenant ORDER BY created_at, rowid`),
    activeOfTenant: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE tenant = @tenant AND state IN ('queued', 'running')
                       ORDER BY created_at, rowid`),
    ofSubtree: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE (tenant = @tenant OR substr(tenant, 1, length(@tenant) + 1) = @tenant || '/')
                  ORDER BY created_at, rowid`),
    activeOfSubtree: p(`SELECT ${WORKER_COLUMNS} FROM workers
                        WHERE (tenant = @tenant OR substr(tenant, 1, length(@tenant) + 1) = @tenant || '/')
                        AND state IN ('queued', 'running') ORDER BY created_at, rowid`),
    cancel: p(`UPDATE workers SET state = 'cancelled', ended_at = ? WHERE id = ? AND tenant = ? AND state IN ('queued', 'running')`),
    start: p(`UPDATE workers SET state = 'running', started_at = ?, container = ?, attempt = attempt + 1 WHERE id = ? AND state = 'queued'`),
    end: p(`UPDATE workers SET state = ?, ended_at = ? WHERE id = ? AND state = ?`),
    requeue: p(`UPDATE workers SET state = 'queued', started_at = NULL, container = NULL WHERE id = ? AND state = 'running'`),
    deliver: p(`UPDATE workers SET result = ? WHERE id = ? AND result IS NULL AND ${ended}`),
    undelivered: p(`SELECT ${WORKER_COLUMNS} FROM workers WHERE result IS NULL AND ${ended} ORDER BY ended_at, rowid`),
  };
}
type WorkerStatements = ReturnType<typeof workerStatementsOf>;

export interface VhostRow {
  host: string;
  tenant: TenantPath;
  created_by: TenantPath;
  created_at: string;
}

export class GatedStore {
  private readonly s;
  private turnStatements: TurnStatements | undefined;
  private channelStatements: ChannelStatements | undefined;
  private workerStatements: WorkerStatements | undefined;

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertMessage: p(`INSERT INTO messages (tenant, topic, kind, chat, sender, text, depth, ref, created_at)
                        VALUES (@tenant, @topic, @kind, @chat, @sender, @text, @depth, @ref, @created_at)`),
      message: p(`SELECT * FROM messages WHERE id = ?`),
      lastChat: p(`SELECT chat FROM messages WHERE tenant = ? AND topic = ? AND chat IS NOT NULL ORDER BY id DESC LIMIT 1`),
      messagesAfter: p(`SELECT * FROM messages WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?`),
      maxMessageId: p(`SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE tenant = ?`),
      insertOutbox: p(`INSERT INTO outbox (tenant, topic, kind, chat, text, reply_to, reaction, file_path, run, created_at)
                       VALUES (@tenant, @topic, @kind, @chat, @text, @reply_to, @reaction, @file_path, @run, @created_at)`),
      insertDelegation: p(`INSERT INTO delegations (id, kind, from_tenant, from_topic, from_chat, from_run, to_tenant, depth, prompt, status, created_at)
                           VALUES (@id, @kind, @from_tenant, @from_topic, @from_chat, @from_run, @to_tenant, @depth, @prompt, 'queued', @created_at)`),
      upsertObservation: p(`INSERT INTO observations (observer, source, cursor, created_at) VALUES (?, ?, ?, ?)
                            ON CONFLICT (observer, source) DO NOTHING`),
      deleteObservation: p(`DELETE FROM observations WHERE observer = ? AND source = ?`),
      observations: p(`SELECT source, cursor FROM observations WHERE observer = ? ORDER BY source`),
      observation: p(`SELECT source, cursor FROM observations WHERE observer = ? AND source = ?`),
      setCursor: p(`UPDATE observations SET cursor = ? WHERE observer = ? AND source = ?`),
      topic: p(`SELECT * FROM topics WHERE tenant = ? AND topic = ?`),
      topicUsed: p(`SELECT 1 FROM messages WHERE tenant = ? AND topic = ? LIMIT 1`),
      insertTopic: p(`INSERT INTO topics (tenant, topic, parent, session, forked_from, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
      insertToken: p(`INSERT INTO tokens (id, tenant, kind, target, hash, created_at, expires_at, hmac)
                      VALUES (@id, @tenant, @kind, @target, @hash, @created_at, @expires_at, @hmac)`),
      tokenByHash: p(`SELECT id, tenant, kind, target, created_at, expires_at, revoked_at, hmac FROM tokens WHERE hash = ?`),
      tokenById: p(`SELECT id, tenant, kind, target, created_at, expires_at, revoked_at, hmac FROM tokens WHERE id = ?`),
      tokensOfKind: p(`SELECT id, tenant, kind, target, created_at, expires_at, revoked_at FROM tokens WHERE kind = ? ORDER BY created_at, id`),
      targetOwners: p(`SELECT DISTINCT tenant FROM tokens WHERE kind = ? AND target = ? ORDER BY tenant`),
      revokeToken: p(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND tenant = ? AND revoked_at IS NULL`),
      tokens: p(`SELECT id, tenant, kind, target, created_at, expires_at, revoked_at FROM tokens WHERE tenant = ? ORDER BY created_at`),
      clearSession: p(`UPDATE topics SET session = NULL WHERE tenant = ? AND topic = ? AND session IS NOT NULL`),
      route: p(`SELECT chat, tenant, created_by, created_at FROM routes WHERE chat = ?`),
      routedTo: p(`SELECT 1 FROM routes WHERE chat = ? AND tenant = ?`),
      upsertRoute: p(`INSERT INTO routes (chat, tenant, created_by, created_at) VALUES (?, ?, ?, ?)
                      ON CONFLICT (chat) DO UPDATE SET tenant = excluded.tenant, created_by = excluded.created_by,
                      created_at = excluded.created_at`),
      deleteRoute: p(`DELETE FROM routes WHERE chat = ?`),
      routes: p(`SELECT chat, tenant, created_by, created_at FROM routes ORDER BY chat`),
      vhost: p(`SELECT tenant FROM vhosts WHERE host = ?`),
      upsertVhost: p(`INSERT INTO vhosts (host, tenant, created_by, created_at) VALUES (?, ?, ?, ?)
                      ON CONFLICT (host) DO UPDATE SET tenant = excluded.tenant, created_by = excluded.created_by,
                      created_at = excluded.created_at`),
      deleteVhost: p(`DELETE FROM vhosts WHERE host = ?`),
      vhosts: p(`SELECT host, tenant, created_by, created_at FROM vhosts ORDER BY host`),
    };
  }

  /** The turn loop's statements, prepared on first use (see turnStatementsOf). */
  private get turns(): TurnStatements {
    this.turnStatements ??= turnStatementsOf(this.db);
    return this.turnStatements;
  }

  /** The channel statements, prepared on first use (they need the gateway's channels migration). */
  private get channels(): ChannelStatements {
    this.channelStatements ??= channelStatementsOf(this.db);
    return this.channelStatements;
  }

  private get workerSql(): WorkerStatements {
    this.workerStatements ??= workerStatementsOf(this.db);
    return this.workerStatements;
  }

  addMessage(m: NewMessage): number {
    const r = this.s.insertMessage.run(messageRow(m));
    return Number(r.lastInsertRowid);
  }

  message(id: number): MessageRow | undefined {
    return this.s.message.get(id) as MessageRow | undefined;
  }

  lastChat(tenant: TenantPath, topic: string): string | null {
    return (this.s.lastChat.get(tenant, topic) as { chat: string } | undefined)?.chat ?? null;
  }

  addOutbox(o: NewOutbox): number {
    const r = this.s.insertOutbox.run({
      tenant: o.tenant,
      topic: o.topic,
      kind: o.kind,
      chat: o.chat ?? null,
      text: o.text ?? null,
      reply_to: o.replyTo ?? null,
      reaction: o.reaction ?? null,
      file_path: o.filePath ?? null,
      run: o.run ?? null,
      created_at: o.at ?? nowIso(),
    });
    return Number(r.lastInsertRowid);
  }

  /** Records a delegation or escalation and queues its prompt in the target's inbox, atomically. */
  queueDelegation(d: {
    kind: 'delegate' | 'escalate';
    from: TenantPath;
    fromTopic: string;
    fromChat: string | null;
    fromRun: string | null;
    to: TenantPath;
    depth: number;
    prompt: string;
  }): { id: string; messageId: number } {
    const id = `dlg_${randomUUID()}`;
    const messageId = this.db.transaction(() => {
      this.s.insertDelegation.run({
        id,
        kind: d.kind,
        from_tenant: d.from,
        from_topic: d.fromTopic,
        from_chat: d.fromChat,
        from_run: d.fromRun,
        to_tenant: d.to,
        depth: d.depth,
        prompt: d.prompt,
        created_at: nowIso(),
      });
      return this.addMessage({
        tenant: d.to,
        topic: `${d.kind}-${id.slice(4, 12)}`,
        kind: d.kind === 'delegate' ? 'delegation' : 'escalation',
        sender: d.from,
        text: d.prompt,
        depth: d.depth,
        ref: id,
      });
    })();
    return { id, messageId };
  }

  observe(observer: TenantPath, source: TenantPath): boolean {
    const cursor = (this.s.maxMessageId.get(source) as { id: number }).id;
    return this.s.upsertObservation.run(observer, source, cursor, nowIso()).changes > 0;
  }

  unobserve(observer: TenantPath, source: TenantPath): boolean {
    return this.s.deleteObservation.run(observer, source).changes > 0;
  }

  observations(observer: TenantPath): { source: string; cursor: number }[] {
    return this.s.observations.all(observer) as { source: string; cursor: number }[];
  }

  /** New messages of `source` since the observer's cursor; advances the cursor past what it returns. */
  readObserved(observer: TenantPath, source: TenantPath, limit: number): MessageRow[] | null {
    return this.db.transaction(() => {
      const o = this.s.observation.get(observer, source) as { cursor: number } | undefined;
      if (!o) return null;
      const rows = this.s.messagesAfter.all(source, o.cursor, limit) as MessageRow[];
      const last = rows.at(-1);
      if (last) this.s.setCursor.run(last.id, observer, source);
      return rows;
    })();
  }

  /** A topic exists once it has a record (a session, a fork) or any message. */
  topicExists(tenant: TenantPath, topic: string): boolean {
    return topic === 'main' || this.topic(tenant, topic) !== undefined || this.s.topicUsed.get(tenant, topic) !== undefined;
  }

  topic(tenant: TenantPath, topic: string): TopicRecord | undefined {
    return this.s.topic.get(tenant, topic) as TopicRecord | undefined;
  }

  /** Forgets a topic's harness session, so its next turn starts a fresh conversation; false when it had none. */
  clearTopicSession(tenant: TenantPath, topic: string): boolean {
    return this.s.clearSession.run(tenant, topic).changes > 0;
  }

  /** A topic forked from `parent` starts with its session, recorded as the one it was forked from (see TopicRecord). */
  createTopic(tenant: TenantPath, topic: string, parent: string | null, session: string | null): void {
    this.s.insertTopic.run(tenant, topic, parent, session, parent === null ? null : session, nowIso());
  }

  addToken(t: { id: string; tenant: TenantPath; kind: string; target: string; hash: string; expiresAt: Date; hmac?: string | null }): void {
    this.s.insertToken.run({
      id: t.id,
      tenant: t.tenant,
      kind: t.kind,
      target: t.target,
      hash: t.hash,
      created_at: nowIso(),
      expires_at: t.expiresAt.toISOString(),
      hmac: t.hmac ?? null,
    });
  }

  /** The token whose secret hashes to `hash` (revoked or expired ones too: the caller decides). */
  tokenByHash(hash: string): TokenRecord | undefined {
    return this.s.tokenByHash.get(hash) as TokenRecord | undefined;
  }

  tokenById(id: string): TokenRecord | undefined {
    return this.s.tokenById.get(id) as TokenRecord | undefined;
  }

  /** Every tenant's tokens of one kind (the operator's `warren hooks list`). */
  tokensOfKind(kind: string): TokenRow[] {
    return this.s.tokensOfKind.all(kind) as TokenRow[];
  }

  /** The tenants that ever issued a token of `kind` for `target` (who a webhook chat belongs to). */
  tokenTargetOwners(kind: string, target: string): string[] {
    return (this.s.targetOwners.all(kind, target) as { tenant: string }[]).map((r) => r.tenant);
  }

  revokeToken(tenant: TenantPath, id: string): boolean {
    return this.s.revokeToken.run(nowIso(), id, tenant).changes > 0;
  }

  tokens(tenant: TenantPath): TokenRow[] {
    return this.s.tokens.all(tenant) as TokenRow[];
  }

  route(chat: string): { chat: string; tenant: string; created_by: string; created_at: string } | undefined {
    return this.s.route.get(chat) as { chat: string; tenant: string; created_by: string; created_at: string } | undefined;
  }

  isRoutedTo(chat: string, tenant: TenantPath): boolean {
    return this.s.routedTo.get(chat, tenant) !== undefined;
  }

  setRoute(chat: string, tenant: TenantPath, by: TenantPath): void {
    this.s.upsertRoute.run(chat, tenant, by, nowIso());
  }

  deleteRoute(chat: string): boolean {
    return this.s.deleteRoute.run(chat).changes > 0;
  }

  routes(): { chat: string; tenant: string; created_by: string; created_at: string }[] {
    return this.s.routes.all() as { chat: string; tenant: string; created_by: string; created_at: string }[];
  }

  /** The tenant a (canonical) host name serves, if it is mapped. */
  vhost(host: string): TenantPath | undefined {
    return (this.s.vhost.get(host) as { tenant: string } | undefined)?.tenant;
  }

  setVhost(host: string, tenant: TenantPath, by: TenantPath): void {
    this.s.upsertVhost.run(host, tenant, by, nowIso());
  }

  deleteVhost(host: string): boolean {
    return this.s.deleteVhost.run(host).changes > 0;
  }

  vhosts(): VhostRow[] {
    return this.s.vhosts.all() as VhostRow[];
  }

  // Workers (spawn_worker and the gateway's pool). Every change of state is guarded by the state it leaves, so two
  // parties racing (a cancel and the container's exit, a restart) change a worker once; its result is delivered once.

  /** Queues a worker; the gateway's pool starts it when a slot and the tenant's cap allow. */
  addWorker(w: { tenant: TenantPath; topic: string; spawnedBy: string; brief: string }): WorkerRow {
    const id = `w-${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    this.workerSql.insert.run({ id, ...w, createdAt: Date.now() });
    return this.worker(id)!;
  }

  worker(id: string): WorkerRow | undefined {
    return this.workerSql.byId.get(id) as WorkerRow | undefined;
  }

  /** Workers oldest first: of one tenant (and its subtree), or all; only queued and running ones with `active`. */
  listWorkers(opts: { tenant?: TenantPath; subtree?: boolean; active?: boolean } = {}): WorkerRow[] {
    const q = this.workerSql;
    if (opts.tenant === undefined) return (opts.active ? q.active : q.all).all() as WorkerRow[];
    const stmt = opts.subtree ? (opts.active ? q.activeOfSubtree : q.ofSubtree) : opts.active ? q.activeOfTenant : q.ofTenant;
    return stmt.all({ tenant: opts.tenant }) as WorkerRow[];
  }

  /** Cancels one of the tenant's queued or running workers; false when it is not the tenant's or has ended. */
  cancelWorker(tenant: TenantPath, id: string, at = Date.now()): boolean {
    return this.workerSql.cancel.run(at, id, tenant).changes > 0;
  }

  /** queued -> running, with the container it runs in; false when it is no longer queued (cancelled meanwhile). */
  startWorker(id: string, container: string, at = Date.now()): boolean {
    return this.workerSql.start.run(at, container, id).changes > 0;
  }

  /** running -> queued again (its gateway restarted while it ran); false when it was not running. */
  requeueWorker(id: string): boolean {
    return this.workerSql.requeue.run(id).changes > 0;
  }

  /**
   * Ends a running (or, for a tenant that is gone, a queued) worker and delivers its result to the spawning topic, at
   * once; false (and nothing written) when it had left that state (cancelled: the cancel's own result is delivered).
   */
  finishWorker(
    id: string,
    state: 'done' | 'failed',
    result: string,
    message: NewMessage,
    opts: { from?: 'running' | 'queued'; at?: number } = {},
  ): boolean {
    return this.db.transaction(() => {
      if (this.workerSql.end.run(state, opts.at ?? Date.now(), id, opts.from ?? 'running').changes === 0) return false;
      return this.deliverWorkerResult(id, result, message);
    })();
  }

  /** Delivers an ended worker's result as a message, exactly once (false when it was delivered already). */
  deliverWorkerResult(id: string, result: string, message: NewMessage): boolean {
    return this.db.transaction(() => {
      if (this.workerSql.deliver.run(result, id).changes === 0) return false;
      this.addMessage(message);
      return true;
    })();
  }

  /** Ended workers whose result is not delivered yet (cancelled ones; ones a crash interrupted before delivery). */
  undeliveredWorkers(): WorkerRow[] {
    return this.workerSql.undelivered.all() as WorkerRow[];
  }

  // The turn loop's side of the inbox (gateway/run-store.ts calls these inside its transactions).

  /** Gives a pending message to a run; false when another run has it already. */
  claimMessage(id: number, run: string): boolean {
    return this.turns.claimMessage.run(run, id).changes > 0;
  }

  /** Records a queued delegation's outcome; a delegation that is no longer queued is left as it is. */
  finishDelegation(id: string, status: string, result: string, at: string): void {
    this.turns.finishDelegation.run(status, result, at, id);
  }

  /** The harness session a topic resumes next time (the topic is recorded if it had no record yet). */
  setTopicSession(tenant: TenantPath, topic: string, session: string, at: string): void {
    this.turns.upsertSession.run(tenant, topic, session, at);
  }

  /** Puts an interrupted run's messages back in the queue, counting the interruption on each. */
  requeueMessagesOf(run: string): void {
    this.turns.requeueMessages.run(run);
  }

  /**
   * Withdraws the delegations a run had queued that nobody has started, with their inbox messages, and the workers it
   * spawned that have not started (its re-run spawns them again; running ones go on and report as usual).
   */
  withdrawQueuedWorkOf(run: string): void {
    this.turns.withdrawMessages.run(run);
    this.turns.withdrawDelegations.run(run);
    this.turns.withdrawWorkers.run(run);
  }

  /** Drops what a run had put in the outbox but not yet delivered. */
  dropUndeliveredOutboxOf(run: string): void {
    this.turns.dropRunOutbox.run(run);
  }

  // The channels' side (gateway/channels calls these).

  /** Stores a message that came through a chat platform, with what the platform said about it. */
  addChannelMessage(m: NewMessage, c: ChannelFields): number {
    const r = this.channels.insertMessage.run({
      ...messageRow(m),
      thread: c.thread,
      platform_id: c.platformId,
      sender_name: c.senderName,
      engaged: c.engaged ? 1 : 0,
    });
    return Number(r.lastInsertRowid);
  }

  /** Records a delivery attempt before it is made (crash safety); false when the row is delivered or failed already. */
  startDelivery(id: number): boolean {
    return this.channels.startDelivery.run(id).changes > 0;
  }

  markDelivered(id: number, platformMessageId: string | null, at: string): void {
    this.channels.delivered.run(at, platformMessageId, id);
  }

  /** Back in the queue after a failed attempt, not before `nextAttemptAt` (epoch ms). */
  retryDeliveryLater(id: number, error: string, nextAttemptAt: number): void {
    this.channels.retryLater.run(error, nextAttemptAt, id);
  }

  markDeliveryFailed(id: number, error: string): void {
    this.channels.failed.run(error, id);
  }

  /** At start: attempts that were in flight when the gateway stopped go back in the queue (at-least-once). */
  reconcileInFlightDeliveries(): number {
    return this.channels.reconcileSending.run().changes;
  }
}

/** The columns every stored message has, with their defaults (channel messages add the platform's fields). */
function messageRow(m: NewMessage) {
  return {
    tenant: m.tenant,
    topic: m.topic ?? 'main',
    kind: m.kind,
    chat: m.chat ?? null,
    sender: m.sender,
    text: m.text,
    depth: m.depth ?? 0,
    ref: m.ref ?? null,
    created_at: m.at ?? nowIso(),
  };
}
