// The router, by table: what one inbound event means for each tenant wired to its chat.
import { describe, expect, it } from 'vitest';
import type { AdapterIdentity, InboundEvent } from '../../../gateway/channels/adapter.js';
import {
  AGENT_SHARED_TOPIC, collectWirings, planRoute, topicFor, wiringFromPersona, type RouteFacts, type Wiring,
} from '../../../gateway/channels/route-plan.js';
import { topicForChat } from '../../../gateway/inbound.js';

const TG: AdapterIdentity = { prefix: 'tg', world: 'acme' };

function event(over: Partial<InboundEvent> = {}): InboundEvent {
  return {
    chat: 'tg:-100', thread: null, sender: { id: 'tg:1', name: 'Ann' }, text: 'hello', platformMessageId: '7',
    replyTo: null, direct: false, mentioned: false, command: null, ...over,
  };
}

const wire = (over: Partial<Parameters<typeof wiringFromPersona>[1]> & { tenant?: string } = {}): Wiring => {
  const { tenant = 'acme/desk', ...c } = over;
  return wiringFromPersona(tenant, { chat: 'tg:-100', ...c }, `${tenant}/PERSONA.md:3`);
};

const facts = (f: { conversation?: boolean; approved?: boolean } = {}): RouteFacts => ({
  hasConversation: () => f.conversation ?? false,
  approved: () => f.approved ?? false,
});

const actions = (e: InboundEvent, wirings: Wiring[], f = facts(), via = TG) =>
  planRoute(e, via, wirings, f).map((d) => `${d.tenant}:${d.action}`);

describe('planRoute: engage modes', () => {
  const known = { senders: ['tg:1'] };
  it.each([
    ['mention, not mentioned', { engage: 'mention' as const, ...known }, event(), facts(), 'drop'],
    ['mention, mentioned', { engage: 'mention' as const, ...known }, event({ mentioned: true }), facts(), 'engage'],
    ['mention, in a DM', { engage: 'mention' as const, ...known }, event({ direct: true }), facts(), 'engage'],
    ['mention-sticky, no conversation yet', { engage: 'mention-sticky' as const, ...known }, event(), facts(), 'drop'],
    ['mention-sticky, a conversation exists', { engage: 'mention-sticky' as const, ...known }, event(), facts({ conversation: true }), 'engage'],
    ['pattern that matches', { engage: 'pattern' as const, pattern: '^!ask\\b', ...known }, event({ text: '!ask why' }), facts(), 'engage'],
    ['pattern that does not', { engage: 'pattern' as const, pattern: '^!ask\\b', ...known }, event({ text: 'why !ask' }), facts(), 'drop'],
    ['always', { engage: 'always' as const, ...known }, event(), facts(), 'engage'],
    ['not addressed, others: accumulate', { engage: 'mention' as const, others: 'accumulate' as const, ...known }, event(), facts(), 'accumulate'],
  ])('%s', (_name, c, e, f, expected) => {
    expect(actions(e, [wire(c)], f)).toEqual([`acme/desk:${expected}`]);
  });
});

describe('planRoute: unknown senders', () => {
  it.each([
    ['default (request-approval), addressed', {}, event({ mentioned: true }), facts(), 'approval'],
    ['strict, addressed', { unknown: 'strict' as const }, event({ mentioned: true }), facts(), 'drop'],
    ['public, addressed', { unknown: 'public' as const }, event({ mentioned: true }), facts(), 'engage'],
    ['approved by an operator', {}, event({ mentioned: true }), facts({ approved: true }), 'engage'],
    ['listed in senders', { senders: ['tg:1'] }, event({ mentioned: true }), facts(), 'engage'],
    ['another sender listed only', { senders: ['tg:2'] }, event({ mentioned: true }), facts(), 'approval'],
    // A stranger cannot feed the agent context by not addressing it, and asks for no approval either.
    ['unknown, not addressed, accumulate', { others: 'accumulate' as const }, event(), facts(), 'drop'],
    ['unknown in a DM', {}, event({ direct: true }), facts(), 'approval'],
  ])('%s', (_name, c, e, f, expected) => {
    expect(actions(e, [wire(c)], f)).toEqual([`acme/desk:${expected}`]);
  });

  it('local: chats are public by default (only the operator reaches them)', () => {
    const w = wiringFromPersona('acme', { chat: 'local:ops' }, 'x');
    expect(w.unknown).toBe('public');
    expect(wire().unknown).toBe('request-approval');
  });
});

describe('planRoute: who is asked', () => {
  it('an unwired chat gives no decision (nothing wires a chat by itself)', () => {
    expect(actions(event({ chat: 'tg:-999', mentioned: true }), [wire({ unknown: 'public' })])).toEqual([]);
  });

  it("a world's bot routes only inside its world", () => {
    const wirings = [wire({ unknown: 'public' }), wire({ tenant: 'globex', unknown: 'public' })];
    expect(actions(event({ mentioned: true }), wirings)).toEqual(['acme/desk:engage']);
    expect(actions(event({ mentioned: true }), wirings, facts(), { prefix: 'tg', world: 'globex' })).toEqual(['globex:engage']);
    expect(actions(event({ mentioned: true }), wirings, facts(), { prefix: 'tg', world: null })).toEqual(['acme/desk:engage', 'globex:engage']);
  });

  it("an adapter cannot speak for another platform's chats", () => {
    const w = [wiringFromPersona('acme', { chat: 'web:help', unknown: 'public', engage: 'always' }, 'x')];
    expect(actions(event({ chat: 'web:help' }), w, facts(), TG)).toEqual([]);
    expect(actions(event({ chat: 'web:help' }), w, facts(), { prefix: 'web', world: null })).toEqual(['acme:engage']);
  });

  it('several tenants on one chat: each decides on its own (fan-out), each in its own topic', () => {
    const wirings = [wire({ unknown: 'public' }), wire({ tenant: 'acme/sales', unknown: 'public', engage: 'always' })];
    const plan = planRoute(event(), TG, wirings, facts());
    expect(plan.map((d) => [d.tenant, d.action])).toEqual([['acme/desk', 'drop'], ['acme/sales', 'engage']]);
    const mentioned = planRoute(event({ mentioned: true }), TG, wirings, facts());
    expect(mentioned.map((d) => d.action)).toEqual(['engage', 'engage']);
  });
});

describe('topics: the three session modes', () => {
  it.each([
    ['agent-shared', 'tg:-100', '5', AGENT_SHARED_TOPIC],
    ['shared', 'tg:-100', '5', topicForChat('tg:-100')],
    ['per-thread', 'tg:-100', null, topicForChat('tg:-100')],
  ] as const)('%s of %s thread %s', (mode, chat, thread, topic) => {
    expect(topicFor(mode, chat, thread)).toBe(topic);
  });

  it('per-thread: one topic per chat and thread, that no other chat or thread can spell', () => {
    const a = topicFor('per-thread', 'tg:-100', '5');
    expect(a).toMatch(/^tg:-100.t.5-[0-9a-f]{16}$/);
    expect(topicFor('per-thread', 'tg:-100', '6')).not.toBe(a);
    expect(topicFor('per-thread', 'tg:-100.t.5', null)).not.toBe(a);
    expect(topicFor('per-thread', 'tg:-10', '0.t.5')).not.toBe(a);
    expect(topicFor('shared', 'tg:-100', '5')).not.toBe(a);
  });

  it('the decision carries the topic of its mode', () => {
    const plan = planRoute(event({ thread: '5', mentioned: true }), TG, [wire({ session: 'per-thread', unknown: 'public' })], facts());
    expect(plan[0]!.topic).toBe(topicFor('per-thread', 'tg:-100', '5'));
  });
});

describe('collectWirings', () => {
  it('a set_route route adds a wiring; PERSONA.md wins for a chat it wires to the same tenant', () => {
    const persona = [wire({ engage: 'always' })];
    const all = collectWirings(persona, [
      { chat: 'tg:-100', tenant: 'acme/desk', created_by: 'acme' },
      { chat: 'tg:-200', tenant: 'acme/desk', created_by: 'acme' },
    ]);
    expect(all.map((w) => [w.chat, w.engage, w.source])).toEqual([
      ['tg:-100', 'always', 'acme/desk/PERSONA.md:3'],
      ['tg:-200', 'mention', 'set_route by acme'],
    ]);
  });
});
