// The web chat channel: a chat link from issue_token(kind=chat_link) opens a page where a person talks to one chat
// (`web:<name>`) of one tenant. The link's secret is exchanged once for a session cookie; the agent's replies are
// read from the outbox and streamed over SSE with the outbox row id as the event id, so a reconnect with
// Last-Event-ID resumes exactly where it stopped. Sessions live in memory: after a restart the person opens the
// link again.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import type { GatedStore } from '../../gated/store.js';
import { MAX_TEXT } from '../../gated/tools/messaging.js';
import type { OutboxRow, OutboxView } from '../outbox-view.js';
import type { AdapterIdentity, AdapterStatus, ChannelAdapter, DeliveryOutcome, InboundOutcome, InboundSink, OutboundItem } from './adapter.js';
import { redeemToken, tokenStillLive } from './redeem.js';

export interface WebSession {
  id: string;
  token: string;
  tenant: string;
  chat: string;
  csrf: string;
  /** The sender id this browser session speaks as: one per opened link, never chosen by the browser. */
  sender: string;
}

/** One reply as the page receives it. */
export interface WebReply {
  id: number;
  kind: string;
  text: string;
  at: string;
}

/** The page's view of an outbox row: only what the person should see (no tenant, topic, run or file path). */
export function webReply(row: OutboxRow): WebReply | null {
  if (row.kind === 'like') return null;
  const text = row.kind === 'file' ? `[a file was sent: ${row.text ?? 'no caption'}]` : (row.text ?? '');
  return { id: row.id, kind: row.kind, text, at: row.created_at };
}

/** The rows of one chat after `after`, up to the outbox's watermark, so an id once sent is never passed over. */
export function chatRowsAfter(outbox: OutboxView, tenant: string, chat: string, after: number): { rows: OutboxRow[]; next: number } {
  const rows: OutboxRow[] = [];
  let from = after;
  for (;;) {
    const page = outbox.page(tenant, { after: from, limit: 200 });
    for (const r of page.messages) if (r.id <= page.next_after && r.chat === chat) rows.push(r);
    if (page.next_after <= from || page.messages.length < 200) return { rows, next: Math.max(from, page.next_after) };
    from = page.next_after;
  }
}

export const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export interface WebChatDeps {
  store: GatedStore;
  outbox: OutboxView;
  log: Logger;
  /** How often open streams look at the outbox without being woken by deliver(). Default 1000 ms. */
  pollMs?: number;
}

type Listener = (reason: 'wake' | 'end') => void;

/** Sessions one link may hold (each open of the link is one) and all links together; past either the oldest ends. */
export const MAX_SESSIONS_PER_LINK = 20;
export const MAX_SESSIONS = 10_000;

export class WebChatAdapter implements ChannelAdapter {
  readonly identity: AdapterIdentity = { prefix: 'web', world: null };
  readonly pollMs: number;
  private sink: InboundSink | null = null;
  private since = new Date().toISOString();
  private readonly sessions = new Map<string, WebSession>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly deps: WebChatDeps) {
    this.pollMs = deps.pollMs ?? 1000;
  }

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.since = new Date().toISOString();
  }

  /** Rows persist in the outbox; delivering one wakes the streams open on its chat (a reader away sees it later). */
  async deliver(item: OutboundItem): Promise<DeliveryOutcome> {
    for (const listener of this.listeners.get(item.chat) ?? []) listener('wake');
    return { ok: true, platformMessageId: null };
  }

  status(): AdapterStatus {
    return { state: this.sink ? 'connected' : 'stopped', error: null, since: this.since };
  }

  async stop(): Promise<void> {
    this.sink = null;
    this.endStreams();
    this.sessions.clear();
    this.since = new Date().toISOString();
  }

  /** Exchanges a chat link's secret for a new session, or null for a wrong, expired or revoked link. */
  openLink(secret: string): WebSession | null {
    const token = redeemToken(this.deps.store, 'chat_link', secret);
    if (!token || !token.target.startsWith('web:')) return null;
    const id = randomBytes(32).toString('base64url');
    const session: WebSession = {
      id,
      token: token.id,
      tenant: token.tenant,
      chat: token.target,
      csrf: randomBytes(32).toString('base64url'),
      sender: `${token.target}#${randomBytes(4).toString('hex')}`,
    };
    this.sessions.set(id, session);
    const ofLink = [...this.sessions.values()].filter((x) => x.token === token.id);
    if (ofLink.length > MAX_SESSIONS_PER_LINK) this.sessions.delete(ofLink[0]!.id);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.deps.log.info({ token: token.id, chat: token.target }, 'web chat link opened');
    return session;
  }

  /** The live session for a cookie value; a session whose link was revoked or expired ends here. */
  session(id: string | undefined): WebSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (!tokenStillLive(this.deps.store, session.token)) {
      this.sessions.delete(id);
      return null;
    }
    return session;
  }

  async send(session: WebSession, text: string): Promise<InboundOutcome> {
    const sink = this.sink;
    if (!sink) throw new Error('the web chat is not running');
    return sink.receive(
      {
        chat: session.chat,
        thread: null,
        sender: { id: session.sender },
        text: text.slice(0, MAX_TEXT),
        platformMessageId: null,
        replyTo: null,
        direct: true,
        mentioned: true,
        command: null,
      },
      this.identity,
    );
  }

  /** The replies of the session's chat after `after` (the cursor to give next time comes with them). */
  replies(session: WebSession, after: number): { replies: WebReply[]; next: number } {
    const { rows, next } = chatRowsAfter(this.deps.outbox, session.tenant, session.chat, after);
    return { replies: rows.map(webReply).filter((r): r is WebReply => r !== null), next };
  }

  /** Calls `listener` when a row for the chat is delivered; returns the unsubscribe function. */
  listen(chat: string, listener: Listener): () => void {
    let set = this.listeners.get(chat);
    if (!set) this.listeners.set(chat, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(chat);
    };
  }

  /** Ends every open stream (stop, and tests of reconnecting); browsers reconnect with Last-Event-ID. */
  endStreams(): void {
    for (const set of this.listeners.values()) for (const listener of [...set]) listener('end');
  }
}
