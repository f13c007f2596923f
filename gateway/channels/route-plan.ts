// The router: what one inbound event means for each tenant wired to its chat. PURE: the wiring and the facts it
// needs (does a conversation exist, is a sender approved) come in as arguments; the inbound sink does the I/O.
import { createHash } from 'node:crypto';
import type { ChannelWiring } from '../../core/tree/persona.js';
import { topicForChat } from '../inbound.js';
import type { AdapterIdentity, InboundEvent } from './adapter.js';

export type SessionMode = NonNullable<ChannelWiring['session']>;
export type EngageMode = NonNullable<ChannelWiring['engage']>;
export type UnknownPolicy = NonNullable<ChannelWiring['unknown']>;

/** One chat wired to one tenant, defaults applied: from PERSONA.md `channels:` or from a `set_route` route. */
export interface Wiring {
  tenant: string;
  chat: string;
  session: SessionMode;
  engage: EngageMode;
  pattern: RegExp | null;
  /** Senders let through without approval; null: none listed. */
  senders: readonly string[] | null;
  unknown: UnknownPolicy;
  others: 'drop' | 'accumulate';
  /** Where it was wired: `tenants/acme/PERSONA.md:7`, or `set_route by acme`. */
  source: string;
}

/** What the router needs to know about the world; answered by the sink from the database. */
export interface RouteFacts {
  /** The tenant's topic already has a conversation (an engaged message): what mention-sticky sticks to. */
  hasConversation(tenant: string, topic: string): boolean;
  /** An operator approved this sender in this chat for this world (`warren approvals approve`). */
  approved(world: string, chat: string, sender: string): boolean;
}

export type RouteAction = 'engage' | 'accumulate' | 'drop' | 'approval';

export interface RouteDecision {
  tenant: string;
  action: RouteAction;
  topic: string;
  reason: string;
}

export const worldOf = (tenant: string): string => tenant.split('/')[0]!;

/** The topic of every chat a tenant wires with `session: agent-shared`: one conversation across those chats. */
export const AGENT_SHARED_TOPIC = 'agent-shared';

/**
 * The conversation a message belongs to. `shared` is the chat's own topic (the one `warren send` and the HTTP API
 * use for it); `per-thread` hashes chat and thread together, separated by a newline no chat id can contain, so no
 * other chat or thread can spell the same topic. A tenant's topics are its own: separate tenants share nothing.
 */
export function topicFor(session: SessionMode, chat: string, thread: string | null): string {
  if (session === 'agent-shared') return AGENT_SHARED_TOPIC;
  if (session === 'shared' || thread === null) return topicForChat(chat);
  const readable = `${chat}.t.${thread}`.toLowerCase().replace(/[^a-z0-9_.:-]/g, '_').replace(/^[^a-z0-9]+/, '').slice(0, 100);
  return `${readable || 'thread'}-${createHash('sha256').update(`${chat}\n${thread}`).digest('hex').slice(0, 16)}`;
}

/** Whether the message addresses the tenant under its engage mode. A DM always does. */
function engages(w: Wiring, event: InboundEvent, topic: string, facts: RouteFacts): boolean {
  if (event.direct || w.engage === 'always') return true;
  switch (w.engage) {
    case 'mention':
      return event.mentioned;
    case 'mention-sticky':
      return event.mentioned || facts.hasConversation(w.tenant, topic);
    case 'pattern':
      return w.pattern !== null && w.pattern.test(event.text);
  }
}

/**
 * Whether the sender's messages in this chat reach the tenant of this wiring: a public chat, a listed sender, or one
 * an operator approved. (Also who may ask the tenant's /status: channels/commands.ts.) PURE.
 */
export function senderKnown(w: Wiring, event: Pick<InboundEvent, 'chat' | 'sender'>, facts: Pick<RouteFacts, 'approved'>): boolean {
  return w.unknown === 'public' || (w.senders?.includes(event.sender.id) ?? false) || facts.approved(worldOf(w.tenant), event.chat, event.sender.id);
}

/**
 * Decides, for each tenant wired to the event's chat, whether the message starts a turn (engage), is kept as
 * context for the next one (accumulate), is dropped, or waits for an operator's approval of its sender. Several
 * tenants wired to one chat: each decides on its own (fan-out), each in its own topic. An event for a chat no tenant
 * is wired to gives no decisions (the sink drops it): nothing wires a chat by itself.
 */
export function planRoute(event: InboundEvent, via: AdapterIdentity, wirings: readonly Wiring[], facts: RouteFacts): RouteDecision[] {
  // An adapter speaks only for its own platform's chats, and a world's bot only inside that world.
  if (!event.chat.startsWith(`${via.prefix}:`)) return [];
  const out: RouteDecision[] = [];
  for (const w of wirings) {
    if (w.chat !== event.chat) continue;
    if (via.world !== null && worldOf(w.tenant) !== via.world) continue;
    const topic = topicFor(w.session, event.chat, event.thread);
    const decide = (action: RouteAction, reason: string) => out.push({ tenant: w.tenant, action, topic, reason });
    const known = senderKnown(w, event, facts);
    if (!engages(w, event, topic, facts)) {
      // Only known senders' words become context: an unapproved stranger cannot feed the agent by not addressing it.
      if (w.others === 'accumulate' && known) decide('accumulate', `not addressed (engage: ${w.engage}); kept as context`);
      else decide('drop', known ? `not addressed (engage: ${w.engage})` : 'not addressed, and the sender is not known');
      continue;
    }
    if (known) decide('engage', w.unknown === 'public' ? 'addressed; the chat is public' : 'addressed by a known sender');
    else if (w.unknown === 'strict') decide('drop', 'unknown sender (unknown: strict)');
    else decide('approval', 'unknown sender; waiting for an operator (warren approvals)');
  }
  return out;
}

/** A PERSONA.md entry with its defaults applied. */
export function wiringFromPersona(tenant: string, c: ChannelWiring, source: string): Wiring {
  return {
    tenant,
    chat: c.chat,
    session: c.session ?? 'shared',
    engage: c.engage ?? 'mention',
    pattern: c.pattern !== undefined ? new RegExp(c.pattern, 'u') : null,
    senders: c.senders ?? null,
    unknown: c.unknown ?? (c.chat.startsWith('local:') ? 'public' : 'request-approval'),
    others: c.others ?? 'drop',
    source,
  };
}

/** A `set_route` route: the same defaults as a PERSONA.md entry that names only its chat. */
export function wiringFromRoute(route: { chat: string; tenant: string; created_by: string }): Wiring {
  return wiringFromPersona(route.tenant, { chat: route.chat }, `set_route by ${route.created_by}`);
}

/**
 * Every wiring: PERSONA.md entries, then routes for chats a tenant's PERSONA.md does not already wire to it (the
 * operator's file wins over what an agent set).
 */
export function collectWirings(persona: readonly Wiring[], routes: readonly { chat: string; tenant: string; created_by: string }[]): Wiring[] {
  const wired = new Set(persona.map((w) => `${w.tenant}\n${w.chat}`));
  return [...persona, ...routes.filter((r) => !wired.has(`${r.tenant}\n${r.chat}`)).map(wiringFromRoute)];
}
