// The inbound path of the channels on a real SQLite file and a real tenant tree: routing, the three isolation
// levels with two chats wired to one tenant (what each conversation sees, where each reply goes), accumulated
// context, unknown senders waiting for approval, and several tenants on one chat.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../core/db.js';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { Delivery } from '../../../gateway/channels/delivery.js';
import { ChannelInbound, type CommandsHook } from '../../../gateway/channels/inbound-sink.js';
import { AGENT_SHARED_TOPIC, topicFor } from '../../../gateway/channels/route-plan.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { RunStore } from '../../../gateway/run-store.js';
import { planEffects } from '../../../gateway/turn-plan.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { MemoryAdapter } from './memory-adapter.js';

let tree: TempTree;
let db: Db;
let store: GatedStore;
let runs: RunStore;
let tg: MemoryAdapter;
let delivery: Delivery | null;
let registry: TenantRegistry;

function setup(files: Record<string, string>, commands?: CommandsHook): ChannelInbound {
  tree = tempTree(files);
  registry = new TenantRegistry(tree.tenants, silentLogger());
  registry.loadAll();
  db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  store = new GatedStore(db);
  runs = new RunStore(db, 'test', store);
  const sink = new ChannelInbound({ db, store, registry, log: silentLogger(), commands });
  tg = new MemoryAdapter({ prefix: 'tg', world: 'acme' });
  void tg.start(sink);
  return sink;
}

beforeEach(() => {
  delivery = null;
});
afterEach(async () => {
  await delivery?.stop();
  db.close();
  tree.cleanup();
});

const persona = (channels: string) => `---\nchannels:\n${channels}---\nThe desk.\n`;

/** One turn of `tenant` on `topic`, as the turn loop would run it: what it saw, and its reply committed. */
function turn(tenant: string, topic: string, reply: string, session: string | null = null) {
  const run = runs.tryStart(tenant, topic, 10);
  if (!run) return null;
  const outcome = { status: 'done' as const, text: reply, session };
  runs.finish(run, outcome, planEffects(tenant, run.messages, runs.delegationsFor(run.messages), outcome));
  return { chat: run.chat, texts: run.messages.map((m) => m.text), session: store.topic(tenant, topic)?.session ?? null };
}

/** Delivers every visible row through the in-memory Telegram; returns where each went, by outbox id (chats are
 * delivered side by side, so only the order within one chat is fixed). */
async function deliverAll(n: number) {
  delivery = new Delivery({ db, store, adapterFor: (chat) => (chat.startsWith('tg:') ? tg : null), log: silentLogger(), pollMs: 10 });
  delivery.start();
  await eventually(() => tg.delivered.length >= n, `${n} deliveries`, 10_000, 10);
  return [...tg.delivered].sort((a, b) => a.id - b.id).map((d) => ({ chat: d.chat, thread: d.thread, text: d.text, replyTo: d.replyTo }));
}

const two = (session: string) =>
  persona(`  - {chat: "tg:-1", session: ${session}, engage: always, unknown: public}\n  - {chat: "tg:-2", session: ${session}, engage: always, unknown: public}\n`);

describe('isolation levels: two chats wired to one tenant', () => {
  it('shared: each chat is its own conversation; a reply goes to its own chat only', async () => {
    setup({ 'acme/PERSONA.md': two('shared') });
    await tg.receive({ chat: 'tg:-1', text: 'alice: my order is 1234', platformMessageId: '11' });
    await tg.receive({ chat: 'tg:-2', text: 'bob: what did alice order?', platformMessageId: '21' });
    const a = turn('acme', topicFor('shared', 'tg:-1', null), 'reply to alice', 'session-a')!;
    const b = turn('acme', topicFor('shared', 'tg:-2', null), 'reply to bob', 'session-b')!;
    expect([a, b]).toEqual([
      { chat: 'tg:-1', texts: ['alice: my order is 1234'], session: 'session-a' },
      { chat: 'tg:-2', texts: ['bob: what did alice order?'], session: 'session-b' },
    ]);
    expect(await deliverAll(2)).toEqual([
      { chat: 'tg:-1', thread: null, text: 'reply to alice', replyTo: '11' },
      { chat: 'tg:-2', thread: null, text: 'reply to bob', replyTo: '21' },
    ]);
  });

  it('per-thread: each thread of a chat is its own conversation, answered in its thread', async () => {
    setup({ 'acme/PERSONA.md': two('per-thread') });
    await tg.receive({ chat: 'tg:-1', thread: '5', text: 'in thread 5', platformMessageId: '11' });
    await tg.receive({ chat: 'tg:-1', thread: '6', text: 'in thread 6', platformMessageId: '12' });
    await tg.receive({ chat: 'tg:-2', thread: '5', text: 'other chat, thread 5', platformMessageId: '21' });
    const seen = [
      turn('acme', topicFor('per-thread', 'tg:-1', '5'), 'r1'),
      turn('acme', topicFor('per-thread', 'tg:-1', '6'), 'r2'),
      turn('acme', topicFor('per-thread', 'tg:-2', '5'), 'r3'),
    ].map((t) => t!.texts);
    expect(seen).toEqual([['in thread 5'], ['in thread 6'], ['other chat, thread 5']]);
    expect(await deliverAll(3)).toEqual([
      { chat: 'tg:-1', thread: '5', text: 'r1', replyTo: '11' },
      { chat: 'tg:-1', thread: '6', text: 'r2', replyTo: '12' },
      { chat: 'tg:-2', thread: '5', text: 'r3', replyTo: '21' },
    ]);
  });

  it('agent-shared: one conversation (one session) across the chats, yet each turn answers one chat only', async () => {
    setup({ 'acme/PERSONA.md': two('agent-shared') });
    await tg.receive({ chat: 'tg:-1', text: 'from chat 1', platformMessageId: '11' });
    await tg.receive({ chat: 'tg:-2', text: 'from chat 2', platformMessageId: '21' });
    const first = turn('acme', AGENT_SHARED_TOPIC, 'answer 1', 'one-session')!;
    const second = turn('acme', AGENT_SHARED_TOPIC, 'answer 2', 'one-session')!;
    expect([first.chat, first.texts, second.chat, second.texts]).toEqual(['tg:-1', ['from chat 1'], 'tg:-2', ['from chat 2']]);
    expect(store.topic('acme', AGENT_SHARED_TOPIC)?.session).toBe('one-session');
    expect(await deliverAll(2)).toEqual([
      { chat: 'tg:-1', thread: null, text: 'answer 1', replyTo: '11' },
      { chat: 'tg:-2', thread: null, text: 'answer 2', replyTo: '21' },
    ]);
  });

  it('separate tenants share nothing, even wired agent-shared to the same chats', async () => {
    setup({
      'acme/PERSONA.md': two('agent-shared'),
      'acme/sales/PERSONA.md': two('agent-shared'),
    });
    const out = await tg.receive({ chat: 'tg:-1', text: 'hello both' });
    expect(out).toMatchObject({ kind: 'stored', messages: [{ tenant: 'acme' }, { tenant: 'acme/sales' }] });
    turn('acme', AGENT_SHARED_TOPIC, 'acme answers', 'acme-session');
    expect(store.topic('acme/sales', AGENT_SHARED_TOPIC)).toBeUndefined();
    expect(turn('acme/sales', AGENT_SHARED_TOPIC, 'sales answers')!.texts).toEqual(['hello both']);
  });
});

describe('accumulate, then engage', () => {
  it('messages that do not engage start no turn, and come with the next engaged one', async () => {
    const sink = setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: mention, others: accumulate, unknown: public}\n') });
    expect(await tg.receive({ chat: 'tg:-1', text: 'we deploy on fridays' })).toMatchObject({ kind: 'accumulated' });
    expect(await tg.receive({ chat: 'tg:-1', text: 'but not this one' })).toMatchObject({ kind: 'accumulated' });
    const topic = topicFor('shared', 'tg:-1', null);
    expect(runs.pendingTopics()).toEqual([]);
    expect(runs.tryStart('acme', topic, 10)).toBeNull();
    expect(await tg.receive({ chat: 'tg:-1', text: '@desk when do we deploy?', mentioned: true })).toMatchObject({ kind: 'stored' });
    expect(runs.pendingTopics()).toEqual([{ tenant: 'acme', topic, first: expect.any(Number) }]);
    expect(turn('acme', topic, 'not this friday')!.texts).toEqual(['we deploy on fridays', 'but not this one', '@desk when do we deploy?']);
    expect(sink.unwired).toBe(0);
  });

  it("agent-shared: one chat's context never comes with, nor redirects, another chat's turn", async () => {
    setup({
      'acme/PERSONA.md': persona(
        '  - {chat: "tg:-1", session: agent-shared, others: accumulate, unknown: public}\n' +
          '  - {chat: "tg:-2", session: agent-shared, others: accumulate, unknown: public}\n',
      ),
    });
    await tg.receive({ chat: 'tg:-1', text: 'chat 1 chatter' });
    await tg.receive({ chat: 'tg:-2', text: 'chat 2 chatter' });
    await tg.receive({ chat: 'tg:-2', text: '@desk in chat 2', mentioned: true });
    const t = turn('acme', AGENT_SHARED_TOPIC, 'answer')!;
    expect([t.chat, t.texts]).toEqual(['tg:-2', ['chat 2 chatter', '@desk in chat 2']]);
    expect(turn('acme', AGENT_SHARED_TOPIC, 'again')).toBeNull(); // chat 1's context waits for chat 1's next turn
  });

  it('more context than a turn takes: the engaged message always runs, with the newest context', async () => {
    setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", others: accumulate, unknown: public}\n') });
    for (let i = 0; i < 60; i++) await tg.receive({ chat: 'tg:-1', text: `c${i}` });
    await tg.receive({ chat: 'tg:-1', text: '@desk now', mentioned: true });
    const t = turn('acme', topicFor('shared', 'tg:-1', null), 'ok')!;
    expect(t.texts).toHaveLength(50);
    expect(t.texts.slice(0, 1).concat(t.texts.slice(-2))).toEqual(['c11', 'c59', '@desk now']);
  });

  it('with others: drop, they are not stored at all', async () => {
    setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", unknown: public}\n') });
    expect(await tg.receive({ chat: 'tg:-1', text: 'chatter' })).toMatchObject({ kind: 'dropped' });
    await tg.receive({ chat: 'tg:-1', text: '@desk hi', mentioned: true });
    expect(turn('acme', topicFor('shared', 'tg:-1', null), 'hi')!.texts).toEqual(['@desk hi']);
  });

  it('mention-sticky: after a mention, the conversation engages without one', async () => {
    setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", session: per-thread, engage: mention-sticky, unknown: public}\n') });
    expect(await tg.receive({ chat: 'tg:-1', thread: '9', text: 'no mention yet' })).toMatchObject({ kind: 'dropped' });
    await tg.receive({ chat: 'tg:-1', thread: '9', text: '@desk look', mentioned: true });
    expect(await tg.receive({ chat: 'tg:-1', thread: '9', text: 'and this too' })).toMatchObject({ kind: 'stored' });
    expect(await tg.receive({ chat: 'tg:-1', thread: '10', text: 'another thread' })).toMatchObject({ kind: 'dropped' });
  });
});

describe('unknown senders', () => {
  it('wait for an approval; approving stores the held message and lets them through from then on', async () => {
    const sink = setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always}\n') });
    const topic = topicFor('shared', 'tg:-1', null);
    const first = await tg.receive({ chat: 'tg:-1', text: 'hello, may I?', sender: { id: 'tg:77', name: 'Stranger' } });
    expect(first).toMatchObject({ kind: 'pending-approval', approval: expect.stringMatching(/^apr_/) });
    const id = (first as { approval: string }).approval;
    // Asking again is the same request, and nothing reaches the tenant meanwhile.
    expect(await tg.receive({ chat: 'tg:-1', text: 'hello?', sender: { id: 'tg:77' } })).toEqual({ kind: 'pending-approval', approval: id });
    expect(runs.pendingTopics()).toEqual([]);
    expect(sink.approvals.list('pending').map((a) => [a.id, a.world, a.chat, a.sender, a.sender_name])).toEqual([[id, 'acme', 'tg:-1', 'tg:77', 'Stranger']]);

    expect(sink.decide(id, 'approved')).toMatchObject({ ok: true, outcome: { kind: 'stored' } });
    expect(sink.decide(id, 'approved').ok).toBe(false); // decided already
    await tg.receive({ chat: 'tg:-1', text: 'thanks', sender: { id: 'tg:77' } });
    expect(turn('acme', topic, 'welcome')!.texts).toEqual(['hello, may I?', 'thanks']);
    // Approved in that chat only.
    expect(await tg.receive({ chat: 'tg:-2', text: 'x', sender: { id: 'tg:77' } })).toMatchObject({ kind: 'dropped' });
  });

  it('a denied sender stays out', async () => {
    const sink = setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always}\n') });
    const { approval } = (await tg.receive({ chat: 'tg:-1', text: 'spam', sender: { id: 'tg:66' } })) as { approval: string };
    expect(sink.decide(approval, 'denied')).toEqual({ ok: true, outcome: null });
    expect(await tg.receive({ chat: 'tg:-1', text: 'spam again', sender: { id: 'tg:66' } })).toMatchObject({ kind: 'dropped' });
    expect(runs.pendingTopics()).toEqual([]);
  });

  it('strict drops them; listed senders pass', async () => {
    setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: strict, senders: ["tg:5"]}\n') });
    expect(await tg.receive({ chat: 'tg:-1', text: 'x', sender: { id: 'tg:6' } })).toMatchObject({ kind: 'dropped' });
    expect(await tg.receive({ chat: 'tg:-1', text: 'y', sender: { id: 'TG:5' } })).toMatchObject({ kind: 'stored' });
  });
});

describe('routing', () => {
  it('an unwired chat is dropped and counted; an adapter of another world reaches nothing', async () => {
    const sink = setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n'), 'globex/': '' });
    expect(await tg.receive({ chat: 'tg:-404', text: 'hi' })).toMatchObject({ kind: 'dropped' });
    const globexBot = new MemoryAdapter({ prefix: 'tg', world: 'globex' });
    await globexBot.start(sink);
    expect(await globexBot.receive({ chat: 'tg:-1', text: 'hi' })).toMatchObject({ kind: 'dropped' });
    expect(sink.unwired).toBe(2);
  });

  it('a set_route route wires a chat with the PERSONA.md defaults', async () => {
    const sink = setup({ 'acme/PERSONA.md': '---\nname: acme\n---\n', 'acme/desk/': '' });
    store.setRoute('tg:-3', 'acme/desk', 'acme');
    expect(sink.wirings().map((w) => [w.tenant, w.chat, w.engage, w.unknown, w.source])).toEqual([
      ['acme/desk', 'tg:-3', 'mention', 'request-approval', 'set_route by acme'],
    ]);
    expect(await tg.receive({ chat: 'tg:-3', text: 'hi', mentioned: true })).toMatchObject({ kind: 'pending-approval' });
  });

  it('an edit of PERSONA.md rewires at once; a broken one keeps its last good wiring', async () => {
    setup({ 'acme/PERSONA.md': '---\nname: acme\n---\n', 'acme/desk/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n') });
    expect(await tg.receive({ chat: 'tg:-2', text: 'a' })).toMatchObject({ kind: 'dropped' });
    tree.write('acme/desk/PERSONA.md', persona('  - {chat: "tg:-2", engage: always, unknown: public}\n'));
    registry.reload('acme/desk');
    expect(await tg.receive({ chat: 'tg:-2', text: 'b' })).toMatchObject({ kind: 'stored' });
    expect(await tg.receive({ chat: 'tg:-1', text: 'c' })).toMatchObject({ kind: 'dropped' });
    tree.write('acme/desk/PERSONA.md', persona('  - {chat: "tg:-3", engage: sometimes}\n'));
    registry.reload('acme/desk');
    expect(await tg.receive({ chat: 'tg:-2', text: 'd' })).toMatchObject({ kind: 'stored' });
  });

  it('a tenant under an ancestor that never had a valid configuration wires nothing (fail closed)', async () => {
    const sink = setup({ 'acme/PERSONA.md': '---\nnmae: acme\n---\n', 'acme/desk/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n') });
    expect(sink.wirings()).toEqual([]);
    expect(await tg.receive({ chat: 'tg:-1', text: 'a' })).toMatchObject({ kind: 'dropped' });
  });

  it('several tenants on one chat: each engaged tenant gets the message once, and replies once', async () => {
    setup({
      'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n'),
      'acme/sales/PERSONA.md': persona('  - {chat: "tg:-1", engage: mention, unknown: public}\n'),
    });
    const topic = topicFor('shared', 'tg:-1', null);
    await tg.receive({ chat: 'tg:-1', text: 'for acme only' });
    await tg.receive({ chat: 'tg:-1', text: '@all for both', mentioned: true });
    expect(turn('acme', topic, 'acme here')!.texts).toEqual(['for acme only', '@all for both']);
    expect(turn('acme/sales', topic, 'sales here')!.texts).toEqual(['@all for both']);
    expect(turn('acme', topic, 'again')).toBeNull();
    expect(turn('acme/sales', topic, 'again')).toBeNull();
    expect((await deliverAll(2)).map((d) => d.text)).toEqual(['acme here', 'sales here']);
  });

  it('a message that cannot be stored (empty, too long) is refused as an outcome, storing nothing for anyone', async () => {
    setup({
      'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n'),
      'acme/sales/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n'),
    });
    expect(await tg.receive({ chat: 'tg:-1', text: '' })).toEqual({ kind: 'dropped', reason: expect.stringMatching(/^refused: text/) });
    expect(await tg.receive({ chat: 'tg:-1', text: 'x'.repeat(70_000) })).toMatchObject({ kind: 'dropped' });
    expect(await tg.receive({ chat: 'tg:-1', text: 'hi', sender: { id: 'tg:\u200b1' } })).toMatchObject({ kind: 'dropped' });
    expect(runs.pendingTopics()).toEqual([]);
  });

  it('admin commands go to the commands hook before routing', async () => {
    const asked: string[] = [];
    setup({ 'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n') }, (event, _via, tenant) => {
      asked.push(`${tenant} ${event.command!.name}`);
      return event.command!.name === 'status' ? { kind: 'handled', reply: 'all good' } : null;
    });
    expect(await tg.receive({ chat: 'tg:-1', text: '/status', command: { name: 'status', args: '' } })).toEqual({ kind: 'handled', reply: 'all good' });
    expect(await tg.receive({ chat: 'tg:-1', text: '/other', command: { name: 'other', args: '' } })).toMatchObject({ kind: 'stored' });
    expect(asked).toEqual(['acme status', 'acme other']);
  });

  it("tells the hook whether the sender's messages reach the tenant: public chat, listed or approved sender", async () => {
    const reached: string[] = [];
    const sink = setup(
      {
        'acme/PERSONA.md': persona('  - {chat: "tg:-1", engage: always, unknown: public}\n  - {chat: "tg:-2", engage: always, senders: ["tg:5"]}\n'),
      },
      (event, _via, tenant, reaches) => {
        reached.push(`${event.chat} ${event.sender.id} ${tenant} ${reaches}`);
        return { kind: 'handled', reply: 'ok' };
      },
    );
    const status = (chat: string, sender: string) => tg.receive({ chat, text: '/status', sender: { id: sender }, command: { name: 'status', args: '' } });
    await status('tg:-1', 'tg:9');
    await status('tg:-2', 'tg:5');
    await status('tg:-2', 'tg:9');
    const { approval } = (await tg.receive({ chat: 'tg:-2', text: 'may I?', sender: { id: 'tg:9' } })) as { approval: string };
    sink.decide(approval, 'approved');
    await status('tg:-2', 'tg:9');
    expect(reached).toEqual(['tg:-1 tg:9 acme true', 'tg:-2 tg:5 acme true', 'tg:-2 tg:9 acme false', 'tg:-2 tg:9 acme true']);
  });
});
