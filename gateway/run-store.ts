// Runs, leases and the messages they claim, in DATA/warren.db. Starting a turn (lease + run + claim) and finishing
// one (status + effects + lease release) are each one transaction, so a crash leaves either all or none of it. The
// runs and leases tables are written here; gated's tables (messages, outbox, delegations, topics) only through
// GatedStore, on the same connection so its writes join these transactions.
import { randomUUID } from 'node:crypto';
import type { Db } from '../core/db.js';
import { nowIso } from '../core/warren-db.js';
import type { TurnMessage } from '../core/turn.js';
import { GatedStore, type MessageRow as InboxRow } from '../gated/store.js';
import { planEffects, type ClaimedMessage, type DelegationRef, type Effect, type Outcome } from './turn-plan.js';

export const MAX_MESSAGES_PER_TURN = 50;
/** Encoded message text per turn; well under what the runner accepts on stdin (16 MiB). */
export const MAX_TURN_INPUT_BYTES = 8 * 1024 * 1024;

/** The longest prefix of `rows` whose JSON-encoded texts fit in `budget` bytes (always at least one row). */
export function withinBudget<T extends { text: string }>(rows: readonly T[], budget: number): T[] {
  let used = 0;
  const out: T[] = [];
  for (const r of rows) {
    used += Buffer.byteLength(JSON.stringify(r.text));
    if (out.length > 0 && used > budget) break;
    out.push(r);
  }
  return out;
}

export interface StartedRun {
  id: string;
  tenant: string;
  topic: string;
  attempt: number;
  depth: number;
  chat: string | null;
  messages: (TurnMessage & ClaimedMessage)[];
}

/** A pending inbox row as the turn loop reads it: gated's message row plus the gateway's crash counter. */
type MessageRow = Pick<InboxRow, 'id' | 'chat' | 'sender' | 'text' | 'depth' | 'ref' | 'created_at'> & {
  kind: ClaimedMessage['kind'];
  interrupted: number;
};

export class RunStore {
  private readonly s;

  constructor(
    readonly db: Db,
    readonly instance: string,
    private readonly inbox: GatedStore = new GatedStore(db),
  ) {
    if (inbox.db !== db) throw new Error('the run store and the gated store must share one connection (one transaction)');
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      // Only an engaged message starts a turn; accumulated ones (channel context) wait for one. A paused group
      // (/pause, the paused table) gets no new turns; its messages wait.
      pendingTopics: p(`SELECT tenant, topic, MIN(id) AS first FROM messages
                        WHERE run IS NULL AND engaged = 1 AND tenant NOT IN (SELECT tenant FROM paused)
                        GROUP BY tenant, topic ORDER BY first LIMIT 200`),
      pendingTopicsOf: p(`SELECT topic, MIN(id) AS first FROM messages
                          WHERE tenant = ? AND run IS NULL AND engaged = 1 AND tenant NOT IN (SELECT tenant FROM paused)
                          GROUP BY topic ORDER BY first LIMIT 200`),
      paused: p(`SELECT 1 FROM paused WHERE tenant = ?`),
      leaseCount: p(`SELECT COUNT(*) AS n FROM leases`),
      leaseFor: p(`SELECT run FROM leases WHERE tenant = ? AND topic = ?`),
      insertLease: p(`INSERT INTO leases (run, instance, tenant, topic, acquired_at) VALUES (?, ?, ?, ?, ?)`),
      deleteLease: p(`DELETE FROM leases WHERE run = ?`),
      deleteInstanceLeases: p(`DELETE FROM leases WHERE instance = ?`),
      pending: p(`SELECT id, kind, chat, sender, text, depth, ref, created_at, interrupted FROM messages
                  WHERE tenant = ? AND topic = ? AND run IS NULL ORDER BY id LIMIT ${MAX_MESSAGES_PER_TURN}`),
      firstEngaged: p(`SELECT id, chat FROM messages WHERE tenant = ? AND topic = ? AND run IS NULL AND engaged = 1
                       ORDER BY id LIMIT 1`),
      upToEngaged: p(`SELECT id, kind, chat, sender, text, depth, ref, created_at, interrupted FROM messages
                      WHERE tenant = ? AND topic = ? AND run IS NULL AND chat IS ? AND id <= ?
                      ORDER BY id DESC LIMIT ${MAX_MESSAGES_PER_TURN}`),
      afterEngaged: p(`SELECT id, kind, chat, sender, text, depth, ref, created_at, interrupted FROM messages
                       WHERE tenant = ? AND topic = ? AND run IS NULL AND chat IS ? AND id > ?
                       ORDER BY id LIMIT ${MAX_MESSAGES_PER_TURN}`),
      insertRun: p(`INSERT INTO runs (id, instance, tenant, topic, status, attempt, depth, chat, started_at)
                    VALUES (@id, @instance, @tenant, @topic, 'running', @attempt, @depth, @chat, @started_at)`),
      setContainer: p(`UPDATE runs SET container = ? WHERE id = ?`),
      setPlacement: p(`UPDATE runs SET node = @node, task = @task WHERE id = @id AND status = 'running'`),
      finishRun: p(`UPDATE runs SET status = ?, result = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`),
      claimed: p(`SELECT id, kind, chat, ref FROM messages WHERE run = ? ORDER BY id`),
      delegation: p(`SELECT id, kind, from_tenant, from_topic, from_chat, depth FROM delegations WHERE id = ?`),
      chatsSentBy: p(`SELECT DISTINCT chat FROM outbox WHERE run = ? AND kind IN ('reply', 'message') AND chat IS NOT NULL`),
      inFlight: p(`SELECT id, tenant, topic, attempt, chat FROM runs WHERE instance = ? AND status = 'running'`),
      markRun: p(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`),
      runningIds: p(`SELECT id FROM runs WHERE instance = ? AND status = 'running'`),
    };
  }

  /** Topics with messages no run has claimed yet, oldest first. */
  pendingTopics(): { tenant: string; topic: string }[] {
    return this.s.pendingTopics.all() as { tenant: string; topic: string }[];
  }

  /** One tenant's topics with messages a turn can take, oldest first (what a coordinator looks at). */
  pendingTopicsOf(tenant: string): string[] {
    return (this.s.pendingTopicsOf.all(tenant) as { topic: string }[]).map((r) => r.topic);
  }

  /**
   * Takes a container slot and the topic's lock, records the run and claims the topic's pending messages — or does
   * nothing (null) when the cap is reached, the topic is busy, its group is paused, or nothing is pending.
   */
  tryStart(tenant: string, topic: string, maxConcurrent: number): StartedRun | null {
    const start = this.db.transaction((): StartedRun | null => {
      if ((this.s.leaseCount.get() as { n: number }).n >= maxConcurrent) return null;
      if (this.s.leaseFor.get(tenant, topic)) return null;
      if (this.s.paused.get(tenant)) return null;
      // The turn is for the first engaged message, with the context accumulated before it in its conversation (the
      // newest of it that fits) and what came after it. One conversation per turn (a topic named by its senders, or
      // an agent-shared one, may hold several): the reply goes back to it alone. And no more than a turn's input can
      // carry: the rest waits for the next turn.
      const first = this.s.firstEngaged.get(tenant, topic) as { id: number; chat: string | null } | undefined;
      if (!first) return null;
      const before = (this.s.upToEngaged.all(tenant, topic, first.chat, first.id) as MessageRow[]).reverse();
      const after = this.s.afterEngaged.all(tenant, topic, first.chat, first.id) as MessageRow[];
      const engaged = before.findIndex((r) => r.id === first.id);
      const rows = [
        ...withinBudget(before.slice(engaged).concat(after.slice(0, MAX_MESSAGES_PER_TURN - before.length)), MAX_TURN_INPUT_BYTES),
      ];
      // Context fills what budget is left, newest first, so the engaged message is always in the turn.
      let used = rows.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r.text)), 0);
      for (const r of before.slice(0, engaged).reverse()) {
        used += Buffer.byteLength(JSON.stringify(r.text));
        if (used > MAX_TURN_INPUT_BYTES) break;
        rows.unshift(r);
      }
      const id = `run_${randomUUID()}`;
      const now = nowIso();
      this.s.insertLease.run(id, this.instance, tenant, topic, now);
      const attempt = 1 + Math.max(...rows.map((r) => r.interrupted));
      const depth = Math.max(...rows.map((r) => r.depth));
      const chat = [...rows].reverse().find((r) => r.chat)?.chat ?? null;
      this.s.insertRun.run({ id, instance: this.instance, tenant, topic, attempt, depth, chat, started_at: now });
      for (const r of rows) this.inbox.claimMessage(r.id, id);
      return {
        id,
        tenant,
        topic,
        attempt,
        depth,
        chat,
        messages: rows.map((r) => ({ id: r.id, kind: r.kind, sender: r.sender, chat: r.chat, text: r.text, at: r.created_at, ref: r.ref })),
      };
    });
    return start.immediate();
  }

  /**
   * Fails a topic's pending messages without running anything (their tenant is gone): a run is recorded as failed,
   * the messages are claimed by it, and delegators get the failure as their result. Returns how many were failed.
   */
  abandon(tenant: string, topic: string, reason: string): number {
    return this.db.transaction(() => {
      const rows = this.s.pending.all(tenant, topic) as MessageRow[];
      if (rows.length === 0) return 0;
      const id = `run_${randomUUID()}`;
      this.s.insertRun.run({ id, instance: this.instance, tenant, topic, attempt: 1, depth: 0, chat: null, started_at: nowIso() });
      for (const r of rows) this.inbox.claimMessage(r.id, id);
      const outcome: Outcome = { status: 'failed', text: reason };
      const claimed = rows.map((r) => ({ id: r.id, kind: r.kind, chat: null, ref: r.ref }));
      this.finish({ id, tenant, topic }, outcome, planEffects(tenant, claimed, this.delegationsFor(claimed), outcome));
      return rows.length;
    })();
  }

  setContainer(runId: string, containerId: string): void {
    this.s.setContainer.run(containerId, runId);
  }

  /**
   * Records where the cluster placed a running turn (its Swarm node and task), as the runtime reports it. A run that
   * has already finished or been re-queued keeps the placement it had: a late report never moves it. Returns whether
   * the run took it.
   */
  setPlacement(runId: string, placement: { node: string; task: string }): boolean {
    return this.s.setPlacement.run({ id: runId, node: placement.node, task: placement.task }).changes > 0;
  }

  /** The chats a run's agent has already written to itself (with `reply` or `send_message`). */
  chatsSentBy(runId: string): Set<string> {
    return new Set((this.s.chatsSentBy.all(runId) as Array<{ chat: string }>).map((r) => r.chat));
  }

  delegationsFor(messages: readonly ClaimedMessage[]): Map<string, DelegationRef> {
    const out = new Map<string, DelegationRef>();
    for (const m of messages) {
      if (!m.ref || out.has(m.ref)) continue;
      const d = this.s.delegation.get(m.ref) as DelegationRef | undefined;
      if (d) out.set(m.ref, d);
    }
    return out;
  }

  /**
   * Records the outcome and carries out its effects, all at once; frees the slot too unless the container is still
   * being torn down (then `releaseLease` follows).
   */
  finish(
    run: { id: string; tenant: string; topic: string },
    outcome: Outcome,
    effects: readonly Effect[],
    opts: { releaseLease?: boolean } = {},
  ): void {
    const now = nowIso();
    this.db.transaction(() => {
      const changed = this.s.finishRun.run(
        outcome.status,
        outcome.status === 'done' ? outcome.text : null,
        outcome.status === 'failed' ? outcome.text : null,
        now,
        run.id,
      ).changes;
      if (changed > 0) {
        this.applyEffects(run, effects, now);
        if (outcome.status === 'done' && outcome.session) this.inbox.setTopicSession(run.tenant, run.topic, outcome.session, now);
      }
      if (opts.releaseLease !== false) this.s.deleteLease.run(run.id);
    })();
  }

  releaseLease(runId: string): void {
    this.s.deleteLease.run(runId);
  }

  private applyEffects(run: { id: string; tenant: string; topic: string }, effects: readonly Effect[], now: string): void {
    for (const e of effects) {
      if (e.type === 'reply') {
        this.inbox.addOutbox({ tenant: run.tenant, topic: run.topic, kind: 'reply', chat: e.chat, text: e.text, run: run.id, at: now });
      } else {
        this.inbox.finishDelegation(e.delegation, e.status, e.text, now);
        this.inbox.addMessage({
          tenant: e.to, topic: e.topic, kind: 'result', chat: e.chat, sender: run.tenant, text: e.text, depth: e.depth, ref: e.delegation, at: now,
        });
      }
    }
  }

  /** Runs of this instance that were in flight when it stopped. */
  inFlight(): { id: string; tenant: string; topic: string; attempt: number; chat: string | null }[] {
    return this.s.inFlight.all(this.instance) as { id: string; tenant: string; topic: string; attempt: number; chat: string | null }[];
  }

  claimedBy(runId: string): ClaimedMessage[] {
    return this.s.claimed.all(runId) as ClaimedMessage[];
  }

  /**
   * Puts interrupted runs' messages back in the queue and discards what they had not yet committed: their outbox
   * rows, and the work they handed on that nobody has started. All runs are put back before anything is withdrawn, so
   * work that one interrupted run was doing for another counts as not started, whatever the order.
   */
  requeue(runIds: readonly string[], reason = 'interrupted by a gateway restart; queued again'): void {
    this.db.transaction(() => {
      const now = nowIso();
      for (const id of runIds) {
        this.inbox.dropUndeliveredOutboxOf(id);
        this.inbox.requeueMessagesOf(id);
        this.s.markRun.run('requeued', reason, now, id);
        this.s.deleteLease.run(id);
      }
      for (const id of runIds) {
        this.inbox.withdrawQueuedWorkOf(id);
      }
    })();
  }

  /** Leases this instance held before it stopped are void: no run of it is live yet. */
  clearInstanceLeases(): void {
    this.s.deleteInstanceLeases.run(this.instance);
  }
}
