// Unknown senders waiting for an operator (`warren approvals`): one row per world, chat and sender, holding the
// first message they sent. The gateway owns the approvals table and writes it only here.
import { randomUUID } from 'node:crypto';
import type { Db } from '../../core/db.js';
import { nowIso } from '../../core/warren-db.js';
import type { AdapterIdentity, InboundEvent } from './adapter.js';

export type ApprovalState = 'pending' | 'approved' | 'denied';

export interface ApprovalRow {
  id: string;
  world: string;
  chat: string;
  sender: string;
  sender_name: string | null;
  state: ApprovalState;
  created_at: string;
  decided_at: string | null;
  /** The held first message. */
  event: InboundEvent;
  via: AdapterIdentity;
}

type RawRow = Omit<ApprovalRow, 'event' | 'via'> & { event: string };

function decode(row: RawRow | undefined): ApprovalRow | undefined {
  if (!row) return undefined;
  const held = JSON.parse(row.event) as { event: InboundEvent; via: AdapterIdentity };
  return { ...row, event: held.event, via: held.via };
}

export class Approvals {
  private readonly s;

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO approvals (id, world, chat, sender, sender_name, event, state, created_at)
                 VALUES (@id, @world, @chat, @sender, @sender_name, @event, 'pending', @created_at)
                 ON CONFLICT (world, chat, sender) DO NOTHING`),
      find: p(`SELECT * FROM approvals WHERE world = ? AND chat = ? AND sender = ?`),
      byId: p(`SELECT * FROM approvals WHERE id = ?`),
      list: p(`SELECT * FROM approvals WHERE (@state IS NULL OR state = @state) ORDER BY created_at, id LIMIT 1000`),
      decide: p(`UPDATE approvals SET state = ?, decided_at = ? WHERE id = ? AND state = 'pending'`),
    };
  }

  /** The sender's request in this world's chat: the existing one, or a new pending one holding this event. */
  request(world: string, event: InboundEvent, via: AdapterIdentity): ApprovalRow {
    this.s.insert.run({
      id: `apr_${randomUUID().slice(0, 8)}`,
      world,
      chat: event.chat,
      sender: event.sender.id,
      sender_name: event.sender.name ?? null,
      event: JSON.stringify({ event, via }),
      created_at: nowIso(),
    });
    return this.find(world, event.chat, event.sender.id)!;
  }

  find(world: string, chat: string, sender: string): ApprovalRow | undefined {
    return decode(this.s.find.get(world, chat, sender) as RawRow | undefined);
  }

  get(id: string): ApprovalRow | undefined {
    return decode(this.s.byId.get(id) as RawRow | undefined);
  }

  isApproved(world: string, chat: string, sender: string): boolean {
    return this.find(world, chat, sender)?.state === 'approved';
  }

  list(state: ApprovalState | null = null): ApprovalRow[] {
    return (this.s.list.all({ state }) as RawRow[]).map((r) => decode(r)!);
  }

  /** Decides a pending request; false when it is not pending (unknown id, or decided already). */
  decide(id: string, state: 'approved' | 'denied'): boolean {
    return this.s.decide.run(state, nowIso(), id).changes > 0;
  }
}
