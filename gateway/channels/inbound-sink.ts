// The inbound sink every adapter hands its events to: admin commands first (the classroom's hook), then the router
// (route-plan.ts), then storage through acceptMessage, the one inbound path. It resolves only once stored.
import type { Db } from '../../core/db.js';
import { canonicalChat } from '../../core/grants/canonical.js';
import type { Logger } from '../../core/log.js';
import type { TenantRegistry } from '../../core/tree/registry.js';
import type { GatedStore } from '../../gated/store.js';
import { acceptMessage, InboundError } from '../inbound.js';
import type { AdapterIdentity, InboundEvent, InboundOutcome, InboundSink } from './adapter.js';
import { Approvals } from './approvals.js';
import { collectWirings, planRoute, senderKnown, topicFor, wiringFromPersona, worldOf, type RouteFacts, type Wiring } from './route-plan.js';

/**
 * A chat command handler (channels/commands.ts): an outcome when it handled the event, else null. `reaches`: the
 * sender's messages in this chat reach the tenant (a public chat, a listed or an approved sender).
 */
export type CommandsHook = (event: InboundEvent, via: AdapterIdentity, tenant: string, reaches?: boolean) => InboundOutcome | null;

export interface InboundSinkDeps {
  db: Db;
  store: GatedStore;
  registry: TenantRegistry;
  log: Logger;
  /** Something was stored: look at the queue now. */
  onStored?: () => void;
  commands?: CommandsHook;
}

type RouteRow = { chat: string; tenant: string; created_by: string };

/** PERSONA.md wiring of every tenant with a valid configuration (and valid ancestors: a blocked tenant wires nothing). */
function personaWiringsOf(registry: TenantRegistry): { wirings: Wiring[]; live: Set<string> } {
  const wirings: Wiring[] = [];
  const live = new Set<string>();
  for (const state of registry.list()) {
    if (!state.config || registry.ancestorConfigs(state.path) === null) continue;
    live.add(state.path);
    const { frontmatter, channelLines } = state.config.persona;
    (frontmatter.channels ?? []).forEach((c, i) => {
      wirings.push(wiringFromPersona(state.path, c, `${state.path}/PERSONA.md:${channelLines?.[i] ?? 1}`));
    });
  }
  return { wirings, live };
}

function withRoutes(persona: { wirings: Wiring[]; live: Set<string> }, routes: readonly RouteRow[]): Wiring[] {
  return collectWirings(persona.wirings, routes.filter((r) => persona.live.has(r.tenant)));
}

/** Every wiring the router uses: PERSONA.md entries and set_route routes (of tenants that may wire). */
export function wiringsOf(registry: TenantRegistry, routes: readonly RouteRow[]): Wiring[] {
  return withRoutes(personaWiringsOf(registry), routes);
}

export class ChannelInbound implements InboundSink {
  readonly approvals: Approvals;
  /** Events no tenant is wired for, counted (and logged at debug): nothing wires a chat by itself. */
  unwired = 0;
  private readonly hasEngaged;
  /** PERSONA.md wiring, read again only when the tree changes (routes are read on every event: gated writes them). */
  private persona: ReturnType<typeof personaWiringsOf> | null = null;

  constructor(private readonly deps: InboundSinkDeps) {
    if (deps.store.db !== deps.db) throw new Error('the inbound sink and the gated store must share one connection');
    this.approvals = new Approvals(deps.db);
    this.hasEngaged = deps.db.prepare(`SELECT 1 FROM messages WHERE tenant = ? AND topic = ? AND engaged = 1 LIMIT 1`);
    const forget = () => (this.persona = null);
    deps.registry.on('changed', forget);
    deps.registry.on('removed', forget);
  }

  wirings(): Wiring[] {
    this.persona ??= personaWiringsOf(this.deps.registry);
    return withRoutes(this.persona, this.deps.store.routes());
  }

  /** The conversation an event of `tenant` goes to, as the router would choose it (what /new resets). */
  topicOf(event: InboundEvent, tenant: string): string {
    const chat = canonicalChat(event.chat) ?? event.chat;
    const wiring = this.wirings().find((w) => w.tenant === tenant && w.chat === chat);
    return topicFor(wiring?.session ?? 'shared', chat, event.thread);
  }

  async receive(event: InboundEvent, via: AdapterIdentity): Promise<InboundOutcome> {
    return this.route(event, via);
  }

  /** Routes and stores one event, all in one transaction. */
  route(raw: InboundEvent, via: AdapterIdentity): InboundOutcome {
    const chat = canonicalChat(raw.chat);
    const sender = canonicalChat(raw.sender.id);
    if (!chat || !sender) return { kind: 'dropped', reason: 'the chat or sender id breaks the chat-id rule' };
    const event: InboundEvent = { ...raw, chat, sender: { ...raw.sender, id: sender } };
    const log = this.deps.log;
    const wirings = this.wirings();
    const facts: RouteFacts = {
      hasConversation: (tenant, topic) => this.hasEngaged.get(tenant, topic) !== undefined,
      approved: (world, c, s) => this.approvals.isApproved(world, c, s),
    };
    if (event.command && this.deps.commands) {
      for (const w of wirings) {
        if (w.chat !== chat || (via.world !== null && worldOf(w.tenant) !== via.world) || !chat.startsWith(`${via.prefix}:`)) continue;
        const handled = this.deps.commands(event, via, w.tenant, senderKnown(w, event, facts));
        if (handled) return handled;
      }
    }
    const store = this.deps.db.transaction((): InboundOutcome => {
      const decisions = planRoute(event, via, wirings, facts);
      if (decisions.length === 0) {
        this.unwired++;
        log.debug({ chat, prefix: via.prefix, world: via.world }, 'no tenant is wired to this chat: dropped');
        return { kind: 'dropped', reason: 'no tenant is wired to this chat' };
      }
      const stored: { tenant: string; id: number }[] = [];
      let engaged = 0;
      let approval: string | null = null;
      for (const d of decisions) {
        if (d.action === 'engage' || d.action === 'accumulate') {
          const channel = {
            thread: event.thread,
            platformId: event.platformMessageId,
            senderName: event.sender.name ?? null,
            engaged: d.action === 'engage',
          };
          const input = { tenant: d.tenant, text: event.text, topic: d.topic, sender, chat };
          stored.push({ tenant: d.tenant, id: acceptMessage(this.deps.store, this.deps.registry, input, channel).id });
          if (d.action === 'engage') engaged++;
        } else if (d.action === 'approval') {
          const request = this.approvals.request(worldOf(d.tenant), event, via);
          if (request.state === 'pending') approval ??= request.id;
        }
        log.debug({ chat, tenant: d.tenant, topic: d.topic, action: d.action }, d.reason);
      }
      if (engaged > 0) return { kind: 'stored', messages: stored };
      if (stored.length > 0) return { kind: 'accumulated', reason: 'kept as context for the next engaged turn' };
      if (approval) return { kind: 'pending-approval', approval };
      return { kind: 'dropped', reason: decisions.map((d) => `${d.tenant}: ${d.reason}`).join('; ') };
    });
    let outcome: InboundOutcome;
    try {
      outcome = store();
    } catch (error) {
      // The message itself is unacceptable (empty, too long, a sender id past the rule): refused, nothing stored. Said
      // as an outcome, not a rejection, so an adapter does not offer it again and again.
      if (!(error instanceof InboundError)) throw error;
      log.info({ chat, sender }, `inbound message refused: ${error.message}`);
      return { kind: 'dropped', reason: `refused: ${error.message}` };
    }
    if (outcome.kind === 'stored' || outcome.kind === 'accumulated') this.deps.onStored?.();
    return outcome;
  }

  /**
   * An operator's answer to a request. Approving lets the sender through in that chat of that world from now on and
   * stores the held message as if it had just arrived; denying keeps the sender out (their messages are dropped).
   */
  decide(id: string, answer: 'approved' | 'denied'): { ok: boolean; outcome: InboundOutcome | null } {
    return this.deps.db.transaction(() => {
      const request = this.approvals.get(id);
      if (!request || !this.approvals.decide(id, answer)) return { ok: false, outcome: null };
      return { ok: true, outcome: answer === 'approved' ? this.route(request.event, request.via) : null };
    })();
  }
}
