// Delivery: every visible outbox row whose chat has an adapter goes out through it, in order per chat (a chat's next
// row only once the one before it is delivered or failed), with retries and backoff (delivery-plan.ts decides).
// Crash safety: the attempt is recorded before the adapter is called; at start, attempts that were in flight go back
// in the queue. That leaves one window (docs/channels.md): a row sent but not yet recorded as delivered when the
// gateway died is sent again — at most one row per chat, and only on platforms without idempotency keys.
import type { Db } from '../../core/db.js';
import type { Logger } from '../../core/log.js';
import { nowIso } from '../../core/warren-db.js';
import type { GatedStore } from '../../gated/store.js';
import type { ChannelAdapter, DeliveryOutcome, OutboundItem } from './adapter.js';
import { DEFAULT_RETRY, planDeliveryStep, type RetryPolicy } from './delivery-plan.js';

export interface DeliveryDeps {
  db: Db;
  store: GatedStore;
  /** The adapter that delivers to this chat for this tenant (by prefix, and by world for world-scoped ones). */
  adapterFor(chat: string, tenant: string): ChannelAdapter | null;
  log: Logger;
  policy?: RetryPolicy;
  pollMs?: number;
}

/** An undelivered outbox row as the delivery loop reads it. */
interface PendingRow {
  id: number;
  tenant: string;
  kind: OutboundItem['kind'];
  chat: string;
  text: string | null;
  reply_to: number | null;
  reaction: string | null;
  file_path: string | null;
  run: string | null;
  created_at: string;
  delivery_attempts: number;
  next_attempt_at: number | null;
  delivery_state: 'sending' | null;
}

/** Rows of finished runs only (gateway/outbox-view.ts): a turn that is re-run after a crash never shows twice. */
const VISIBLE = `(o.run IS NULL OR r.id IS NULL OR r.status IN ('done', 'failed'))`;

export class Delivery {
  private readonly s;
  private readonly policy: RetryPolicy;
  /** Chats (per adapter) with an attempt in flight: their next row waits for it. */
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private wakePending = false;
  private stopped = false;

  constructor(private readonly deps: DeliveryDeps) {
    this.policy = deps.policy ?? DEFAULT_RETRY;
    const p = (sql: string) => deps.db.prepare(sql);
    this.s = {
      // The first row still to deliver of each chat (per world: two worlds' bots in one group are two chats), or
      // the one in flight (then the chat is skipped): however many rows wait behind them, or wait for an adapter.
      heads: p(`SELECT o.id, o.tenant, o.kind, o.chat, o.text, o.reply_to, o.reaction, o.file_path, o.run, o.created_at,
                       o.delivery_attempts, o.next_attempt_at, o.delivery_state
                FROM outbox o LEFT JOIN runs r ON r.id = o.run
                WHERE o.id IN (
                  SELECT MIN(o.id) FROM outbox o LEFT JOIN runs r ON r.id = o.run
                  WHERE o.delivered_at IS NULL AND (o.delivery_state IS NULL OR o.delivery_state = 'sending')
                    AND o.chat IS NOT NULL AND ${VISIBLE}
                  GROUP BY o.chat, substr(o.tenant, 1, instr(o.tenant || '/', '/') - 1))
                ORDER BY o.id LIMIT 5000`),
      message: p(`SELECT tenant, thread, platform_id FROM messages WHERE id = ?`),
      answered: p(`SELECT thread, platform_id FROM messages WHERE run = ? AND chat = ? ORDER BY engaged DESC, id DESC LIMIT 1`),
    };
  }

  start(): void {
    const back = this.deps.store.reconcileInFlightDeliveries();
    if (back > 0) this.deps.log.warn({ rows: back }, 'deliveries in flight at the last stop are tried again (at-least-once)');
    this.timer = setInterval(() => this.tick(), this.deps.pollMs ?? 250);
    this.timer.unref();
    this.wake();
  }

  /** Look at the outbox soon (coalesced): a run ended, an adapter came back. */
  wake(): void {
    if (this.wakePending || this.stopped) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.tick();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** One pass: the first waiting row of each chat whose adapter is up and whose wait is over is sent. */
  tick(): void {
    if (this.stopped) return;
    let rows: PendingRow[];
    try {
      rows = this.s.heads.all() as PendingRow[];
    } catch (error) {
      this.deps.log.error({ err: error }, 'could not read the outbox');
      return;
    }
    const now = Date.now();
    for (const row of rows) {
      if (row.delivery_state === 'sending') continue; // in flight: the chat's next row waits for it
      const adapter = this.deps.adapterFor(row.chat, row.tenant);
      if (!adapter) continue; // no adapter for this platform (or this world): the row waits for one
      const key = `${adapter.identity.prefix}|${adapter.identity.world ?? ''}|${row.chat}`;
      if (this.busy.has(key)) continue;
      if ((row.next_attempt_at ?? 0) > now) continue;
      if (adapter.status().state !== 'connected') continue; // a channel that is down: rows wait for it
      this.send(key, row, adapter);
    }
  }

  private send(key: string, row: PendingRow, adapter: ChannelAdapter): void {
    const { store, log } = this.deps;
    if (!store.startDelivery(row.id)) return; // recorded before sending: a crash from here on is reconciled at start
    this.busy.add(key);
    const job = (async () => {
      let outcome: DeliveryOutcome;
      try {
        outcome = await adapter.deliver(this.item(row));
      } catch (error) {
        outcome = { ok: false, retryable: true, error: `the adapter threw: ${(error as Error).message}` };
      }
      const step = planDeliveryStep(
        { attempts: row.delivery_attempts + 1, createdAt: Date.parse(row.created_at) },
        outcome,
        Date.now(),
        this.policy,
      );
      if (step.kind === 'delivered') store.markDelivered(row.id, step.platformMessageId, nowIso());
      else if (step.kind === 'retry') {
        store.retryDeliveryLater(row.id, step.error, step.at);
        log.info({ outbox: row.id, chat: row.chat, attempts: row.delivery_attempts + 1, error: step.error }, 'delivery failed; will retry');
      } else {
        store.markDeliveryFailed(row.id, step.error);
        log.warn({ outbox: row.id, chat: row.chat, error: step.error }, 'delivery failed for good (see warren channels)');
      }
    })()
      .catch((error: unknown) => log.error({ err: error, outbox: row.id }, 'could not record a delivery'))
      .finally(() => {
        this.busy.delete(key);
        this.inFlight.delete(job);
        this.wake();
      });
    this.inFlight.add(job);
  }

  /**
   * The row as the adapter sees it. A reply or a reaction points at the platform's id of the message it answers:
   * the one it names, else the newest message of the run's conversation; the thread comes from that message too.
   */
  private item(row: PendingRow): OutboundItem {
    let answered: { thread: string | null; platform_id: string | null } | undefined;
    if (row.reply_to !== null) {
      const m = this.s.message.get(row.reply_to) as { tenant: string; thread: string | null; platform_id: string | null } | undefined;
      answered = m && m.tenant === row.tenant ? m : undefined;
    } else if (row.run !== null) {
      answered = this.s.answered.get(row.run, row.chat) as typeof answered;
    }
    return {
      id: row.id,
      tenant: row.tenant,
      kind: row.kind,
      chat: row.chat,
      thread: answered?.thread ?? null,
      text: row.text,
      replyTo: row.kind === 'reply' || row.kind === 'like' ? answered?.platform_id ?? null : null,
      reaction: row.reaction,
      filePath: row.file_path,
    };
  }
}
