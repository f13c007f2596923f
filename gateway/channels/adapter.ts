// The channel adapter contract: how a chat platform (Telegram, webhooks, the web chat, the CLI) plugs into warren.
// An adapter turns the platform's updates into InboundEvents handed to the one inbound path, and delivers outbox
// rows back to the platform. It decides nothing about routing, sessions or who may talk: the router does, on the
// event as the adapter reports it. Adding a platform is one new file implementing this.
import type { Logger } from '../../core/log.js';

/** One message as a platform delivered it, normalised. Everything here comes from the platform, never from a tenant. */
export interface InboundEvent {
  /** Canonical chat id with the adapter's prefix: `tg:-1001234`, `hook:deploys`, `web:acme-help`, `local:ops`. */
  chat: string;
  /** The platform's thread inside the chat (a Telegram forum topic), or null. Only a real thread, never a reply chain. */
  thread: string | null;
  /** The platform's sender id, prefixed like a chat id (`tg:5551234`); `name` is display only, never an identity. */
  sender: { id: string; name?: string };
  text: string;
  /** The platform's id of this message, so replies and reactions can point at it. */
  platformMessageId: string | null;
  /** The platform message this one replies to, if any. */
  replyTo: string | null;
  /** A one-to-one chat with the bot (a DM): every message there addresses the agent. */
  direct: boolean;
  /** The bot was mentioned or addressed (from the platform's entities, not from matching text). */
  mentioned: boolean;
  /** A bot command (`/status`, `/new`), from the platform's entities; its arguments are the rest of the text. */
  command: { name: string; args: string } | null;
}

/** Where an inbound event goes next. Resolves once the event is durably stored (or deliberately dropped), so an
 * adapter acknowledges the platform (an update offset, an HTTP 200) only after that. Rejects on storage failure. */
export interface InboundSink {
  receive(event: InboundEvent, via: AdapterIdentity): Promise<InboundOutcome>;
}

export type InboundOutcome =
  /** Stored for these tenants (message ids). */
  | { kind: 'stored'; messages: { tenant: string; id: number }[] }
  /** Kept as context for a later engaged turn, or dropped by the wiring; said so adapters can log it at debug. */
  | { kind: 'accumulated' | 'dropped'; reason: string }
  /** Waiting for an operator's approval of an unknown sender. */
  | { kind: 'pending-approval'; approval: string }
  /** Answered by the gateway itself (an admin command such as /status): the text to send back, if any. */
  | { kind: 'handled'; reply: string | null };

/** Which adapter instance an event came through: a Telegram bot belongs to one world, so routing stays inside it. */
export interface AdapterIdentity {
  /** The chat-id prefix the adapter owns (`tg`, `hook`, `web`, `local`). */
  prefix: string;
  /** The world whose credentials the adapter runs with, or null for installation-wide adapters (web, hook, local). */
  world: string | null;
}

/** One outbox row as a delivery attempt sees it. */
export interface OutboundItem {
  /** The outbox row id: the idempotency key of this delivery. */
  id: number;
  tenant: string;
  kind: 'message' | 'reply' | 'like' | 'file';
  chat: string;
  thread: string | null;
  text: string | null;
  /** The platform message id the row answers (reply) or reacts to (like), when known. */
  replyTo: string | null;
  reaction: string | null;
  /** Host path of a copied file (send_file), readable by the gateway only. */
  filePath: string | null;
}

export type DeliveryOutcome =
  | { ok: true; platformMessageId: string | null }
  /** `retryable`: try again later (after `retryAfterMs` when the platform said so); otherwise the row fails now. */
  | { ok: false; retryable: boolean; retryAfterMs?: number; error: string };

export interface AdapterStatus {
  state: 'starting' | 'connected' | 'error' | 'stopped';
  /** Why it is in error: said to the operator (`warren channels`), never containing a credential. */
  error: string | null;
  since: string;
}

export interface ChannelAdapter {
  readonly identity: AdapterIdentity;
  /** Starts receiving; resolves when the adapter is running (not when it stops). Never throws for a platform error
   * after start: it reports it in status() and keeps retrying with backoff, or stops on a fatal one (401, 409). */
  start(sink: InboundSink): Promise<void>;
  /** Delivers one outbox row. Never throws: every failure is a DeliveryOutcome. */
  deliver(item: OutboundItem): Promise<DeliveryOutcome>;
  status(): AdapterStatus;
  stop(): Promise<void>;
}

/**
 * How `warren up` makes adapters. A world-scoped platform (Telegram: a bot token belongs to a world) gets one adapter
 * per world that has its credential; an installation-wide one (web chat, webhooks, the CLI) gets one adapter.
 */
export interface AdapterFactory {
  prefix: string;
  scope: 'world' | 'installation';
  /** The credential's name in `warren channels token <world> <name>` (world-scoped platforms only). */
  credential?: string;
  create(context: AdapterContext): ChannelAdapter;
}

export interface AdapterContext {
  /** The world (world-scoped), else null. */
  world: string | null;
  /** The world's credential for this platform (world-scoped), else null. Never logged, never given to a container. */
  credential: string | null;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  log: Logger;
}
