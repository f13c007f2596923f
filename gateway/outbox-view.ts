// What the outside world may see of a tenant's outbox: rows of finished runs only. A run's rows become visible when
// it finishes, so a turn interrupted by a crash and run again never shows a reply twice.
import type { Db } from '../core/db.js';

export interface OutboxRow {
  id: number;
  tenant: string;
  topic: string;
  kind: string;
  chat: string | null;
  text: string | null;
  reply_to: number | null;
  reaction: string | null;
  file_path: string | null;
  run: string | null;
  created_at: string;
  /** Delivery (gateway/channels/delivery.ts): null while waiting, else sending | delivered | failed. */
  delivery_state: string | null;
  delivery_attempts: number;
  /** The last delivery error (a failed row keeps it). */
  delivery_error: string | null;
  delivered_at: string | null;
  platform_message_id: string | null;
}

const VISIBLE = `(o.run IS NULL OR r.id IS NULL OR r.status IN ('done', 'failed'))`;

export class OutboxView {
  private readonly after;
  private readonly hiddenMin;
  private readonly maxId;

  constructor(db: Db) {
    this.after = db.prepare(
      `SELECT o.* FROM outbox o LEFT JOIN runs r ON r.id = o.run
       WHERE o.tenant = @tenant AND o.id > @after AND ${VISIBLE} AND (@topic IS NULL OR o.topic = @topic)
       ORDER BY o.id LIMIT @limit`,
    );
    this.maxId = db.prepare(`SELECT COALESCE(MAX(id), 0) AS id FROM outbox WHERE tenant = ?`);
    this.hiddenMin = db.prepare(
      `SELECT MIN(o.id) AS id FROM outbox o JOIN runs r ON r.id = o.run WHERE o.tenant = ? AND r.status = 'running'`,
    );
  }

  list(tenant: string, opts: { after?: number; topic?: string; limit?: number } = {}): OutboxRow[] {
    return this.after.all({ tenant, after: opts.after ?? 0, topic: opts.topic ?? null, limit: opts.limit ?? 100 }) as OutboxRow[];
  }

  /**
   * One page for a polling client: the rows after `after`, and `next_after`, the id to ask from next time. Rows of a
   * turn still running have lower ids than rows committed after them, so `next_after` never moves past a row that is
   * still hidden; a client may therefore see a row twice and should keep the ids it has seen (at-least-once).
   */
  page(tenant: string, opts: { after?: number; topic?: string; limit?: number } = {}): { messages: OutboxRow[]; next_after: number } {
    const after = opts.after ?? 0;
    const messages = this.list(tenant, opts);
    const last = messages.length ? messages[messages.length - 1]!.id : after;
    return { messages, next_after: Math.max(after, this.watermark(tenant, last)) };
  }

  /** `upTo`, held back below the first row of a turn still running: nothing at or under it can still appear. */
  private watermark(tenant: string, upTo: number): number {
    const hidden = (this.hiddenMin.get(tenant) as { id: number | null }).id;
    return hidden === null ? upTo : Math.min(upTo, hidden - 1);
  }

  /**
   * A follower for streaming: returns rows not yet returned, in id order. Rows of a running turn have lower ids than
   * rows committed after them, so the watermark never moves past a row that is still hidden.
   */
  follower(tenant: string, from = 0): () => OutboxRow[] {
    let watermark = from;
    const sent = new Set<number>();
    return () => {
      const rows = this.list(tenant, { after: watermark, limit: 500 }).filter((r) => !sent.has(r.id));
      for (const r of rows) sent.add(r.id);
      const next = this.watermark(tenant, rows.length ? rows[rows.length - 1]!.id : watermark);
      if (next > watermark) {
        watermark = next;
        for (const id of sent) if (id <= watermark) sent.delete(id);
      }
      return rows;
    };
  }

  /** Where a new follower starts so that it shows only what comes next. */
  latestId(tenant: string): number {
    return this.watermark(tenant, (this.maxId.get(tenant) as { id: number }).id);
  }
}
