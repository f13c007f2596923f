// The chat commands the gateway answers itself, driven by a fake event source on a real warren.db: /pair for anyone,
// /status /new /pause /resume only for a covering role, anything else left to the agent.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import type { InboundEvent } from '../../../gateway/channels/adapter.js';
import { classroomCommands, commandName, decideCommand, NO_IDENTITY, NOT_ADMIN, NOT_REACHING, senderIdentity } from '../../../gateway/channels/commands.js';
import { ClassroomStore } from '../../../gateway/channels/users.js';
import { topicForChat } from '../../../gateway/inbound.js';
import { useRunDb } from '../../helpers/run-db.js';

const GROUP = 'acme/student_01';
const CHAT = 'tg:-1001';

describe('commandName and decideCommand', () => {
  it.each([
    [{ name: '/status', args: '' }, 'status'],
    [{ name: 'status', args: '' }, 'status'],
    [{ name: '/Status@acme_bot', args: '' }, 'status'],
    [{ name: '/', args: '' }, null],
    [null, null],
  ])('%j is %s', (command, name) => {
    expect(commandName({ command })).toBe(name);
  });

  it.each([
    ['tg:5551234', 'tg', 'tg:5551234'],
    ['tg:5551234', 'web', null], // another platform's id, claimed through this adapter
    ['tg:', 'tg', null],
    ['', 'tg', null],
    ['tgx:1', 'tg', null],
    ['web:visitor-1', 'web', null], // a web chat visitor names itself
    ['hook:deploys', 'hook', null],
  ])('sender %s through the %s adapter is %s', (id, prefix, expected) => {
    expect(senderIdentity({ sender: { id } }, { prefix })).toBe(expected);
  });

  it.each([
    ['pair', false, false, false, { do: 'pair' }],
    ['status', true, false, false, { do: 'status', admin: true }],
    ['status', true, true, true, { do: 'status', admin: true }],
    ['new', true, true, true, { do: 'new' }],
    ['pause', true, false, true, { do: 'pause' }],
    ['resume', true, false, false, { do: 'resume' }],
    // Anyone whose messages reach the tenant gets its work's status, once a status source is wired.
    ['status', false, true, true, { do: 'status', admin: false }],
    ['status', false, false, true, { do: 'refuse', reason: NOT_REACHING }],
    ['status', false, true, false, { do: 'refuse', reason: NOT_ADMIN }],
    ['status', false, false, false, { do: 'refuse', reason: NOT_ADMIN }],
    // Reaching the tenant is not a role: the admin commands stay admin-only.
    ['new', false, true, true, { do: 'refuse', reason: NOT_ADMIN }],
    ['pause', false, true, true, { do: 'refuse', reason: NOT_ADMIN }],
    ['resume', false, true, true, { do: 'refuse', reason: NOT_ADMIN }],
    ['help', true, true, true, null], // not ours: the agent gets it
    ['start', false, false, false, null],
    [null, true, true, true, null],
  ])('%s from admin=%s reaches=%s (status source: %s) -> %j', (name, admin, reaches, workStatus, expected) => {
    expect(decideCommand(name, { admin, reaches }, workStatus)).toEqual(expected);
  });
});

describe('classroom commands', () => {
  const f = useRunDb();
  const setup = () => {
    const classroom = new ClassroomStore(f.db, f.store);
    let wakes = 0;
    const hook = classroomCommands({ classroom, groupExists: () => true, wake: () => wakes++, log: silentLogger() });
    /** What a Telegram adapter would report for a message in the class group; a `/word` starts a command entity. */
    const say = (sender: string, text: string, chat = CHAT) => {
      const m = /^(\/\S+)\s*([\s\S]*)$/.exec(text);
      const event: InboundEvent = {
        chat, thread: null, sender: { id: sender, name: 'Someone' }, text, platformMessageId: '1', replyTo: null,
        direct: false, mentioned: false, command: m ? { name: m[1]!, args: m[2]! } : null,
      };
      const outcome = hook(event, { prefix: 'tg', world: 'acme' }, GROUP);
      // The sink routes whatever the hook does not handle: the message waits for the group's next turn.
      if (outcome === null) f.store.addMessage({ tenant: GROUP, topic: topicForChat(chat), kind: 'chat', chat, sender, text });
      return outcome;
    };
    const pairAs = (user: string, group: string) => {
      const reply = say(user, `/pair ${classroom.invite(group, 3600).secret}`);
      expect(reply).toMatchObject({ kind: 'handled', reply: expect.stringMatching(/^paired: /) });
    };
    return { classroom, say, pairAs, wakes: () => wakes };
  };

  it('pairs in the chat by the sender id, and says which role', () => {
    const { classroom, say } = setup();
    const code = classroom.invite('acme/ta_01', 3600).secret;
    expect(say('tg:42', `/pair ${code}`)).toEqual({ kind: 'handled', reply: 'paired: you are a TA of acme/ta_01' });
    expect(classroom.bindings('tg:42')).toEqual([{ group: 'acme/ta_01', role: 'ta' }]);
    expect(say('tg:43', `/pair ${code}`)).toEqual({ kind: 'handled', reply: 'that pairing code is not valid (unknown, used, expired or revoked)' });
    expect(say('tg:43', '/pair')).toEqual({ kind: 'handled', reply: 'usage: /pair <code>' });
    expect(classroom.bindings('tg:43')).toEqual([]);
  });

  it('leaves unknown commands and plain messages to the agent', () => {
    const { say } = setup();
    expect(say('tg:1', '/help me')).toBeNull();
    expect(say('tg:1', 'what is /status?')).toBeNull();
    expect(f.runs.pendingTopics()).toEqual([{ tenant: GROUP, topic: topicForChat(CHAT), first: expect.any(Number) }]);
  });

  it('answers /status with running and waiting turns, without a model, for a covering role only', () => {
    const { say, pairAs } = setup();
    pairAs('tg:ta', 'acme/ta_01');
    pairAs('tg:student', GROUP);
    f.store.addMessage({ tenant: GROUP, topic: 'other', kind: 'chat', chat: 'local:x', sender: 'x', text: 'running' });
    expect(f.runs.tryStart(GROUP, 'other', 4)).not.toBeNull();
    say('tg:student', 'one');
    say('tg:student', 'two');
    f.store.addMessage({ tenant: GROUP, topic: 'third', kind: 'chat', chat: 'local:y', sender: 'y', text: 'three' });
    expect(say('tg:ta', '/status')).toEqual({ kind: 'handled', reply: `${GROUP}: 1 turn running, 2 conversations waiting (3 messages)` });
    for (const outsider of ['tg:student', 'tg:stranger']) {
      expect(say(outsider, '/status')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    }
  });

  it("answers /status to anyone the chat reaches the tenant for, with that tenant's work only; the classroom view to admins", () => {
    const classroom = new ClassroomStore(f.db, f.store);
    const asked: string[] = [];
    const hook = classroomCommands({
      classroom,
      groupExists: () => true,
      workStatus: (tenant, topic) => {
        asked.push(`${tenant} seen from ${topic}`);
        return `${tenant}: work of ${tenant}`;
      },
      log: silentLogger(),
    });
    expect(classroom.pair({ id: 'tg:ta' }, classroom.invite('acme/ta_01', 3600).secret, { adapterWorld: 'acme', groupExists: () => true }).ok).toBe(true);
    const status = (sender: string, reaches: boolean, tenant = GROUP) =>
      hook(
        { chat: CHAT, thread: null, sender: { id: sender }, text: '/status', platformMessageId: null, replyTo: null, direct: false, mentioned: false, command: { name: '/status', args: '' } },
        { prefix: 'tg', world: 'acme' },
        tenant,
        reaches,
      );
    expect(status('tg:student', true)).toEqual({ kind: 'handled', reply: `${GROUP}: work of ${GROUP}` });
    expect(status('tg:stranger', false)).toEqual({ kind: 'handled', reply: NOT_REACHING });
    expect(status('tg:ta', false)).toEqual({
      kind: 'handled',
      reply: `${GROUP}: 0 turns running, nothing waiting\n${GROUP}: work of ${GROUP}`,
    });
    // Only the tenant the chat reaches was asked about (from the asker's own conversation; in full for an admin), and
    // nothing for the refused sender.
    expect(asked).toEqual([`${GROUP} seen from ${topicForChat(CHAT)}`, `${GROUP} seen from null`]);
  });

  it('/pause stops turns being scheduled (messages wait) and /resume restarts them; refused users change nothing', () => {
    const { classroom, say, pairAs, wakes } = setup();
    pairAs('tg:teacher', 'acme/instructor_01');
    pairAs('tg:student', GROUP);
    pairAs('tg:other-ta', 'acme/ta_09');
    expect(say('tg:student', '/pause')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(classroom.isPaused(GROUP)).toBe(false);

    expect(say('tg:teacher', '/pause')).toEqual({ kind: 'handled', reply: `paused ${GROUP}: messages wait until /resume` });
    expect(say('tg:teacher', '/pause')).toEqual({ kind: 'handled', reply: `${GROUP} is already paused` });
    say('tg:student', 'are you there?');
    expect(f.runs.pendingTopics()).toEqual([]);
    expect(f.runs.tryStart(GROUP, topicForChat(CHAT), 4)).toBeNull();
    expect(say('tg:teacher', '/status')).toEqual({ kind: 'handled', reply: `${GROUP}: paused; 0 turns running, 1 conversation waiting (1 message)` });

    expect(say('tg:student', '/resume')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(f.runs.pendingTopics()).toEqual([]);
    expect(wakes()).toBe(0);

    expect(say('tg:other-ta', '/resume')).toEqual({ kind: 'handled', reply: `resumed ${GROUP}` });
    expect(wakes()).toBe(1);
    expect(say('tg:teacher', '/resume')).toEqual({ kind: 'handled', reply: `${GROUP} is not paused` });
    expect(f.runs.pendingTopics().map((p) => p.tenant)).toEqual([GROUP]);
    expect(f.runs.tryStart(GROUP, topicForChat(CHAT), 4)!.messages.map((m) => m.text)).toEqual(['are you there?']);
  });

  it('/new gives the next turn of the conversation no session; refused users keep it', () => {
    const { say, pairAs } = setup();
    pairAs('tg:ta', 'acme/ta_01');
    pairAs('tg:student', GROUP);
    const topic = topicForChat(CHAT);
    say('tg:student', 'hello');
    const run = f.runs.tryStart(GROUP, topic, 4)!;
    // While the turn runs, a reset would not hold (its end records the session): say so and keep it.
    expect(say('tg:ta', '/new')).toEqual({ kind: 'handled', reply: 'a turn of this conversation is running; send /new again once it has answered' });
    f.runs.finish(run, { status: 'done', text: 'hi', session: 'sess-1' }, []);
    expect(f.store.topic(GROUP, topic)?.session).toBe('sess-1');

    expect(say('tg:student', '/new')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(f.store.topic(GROUP, topic)?.session).toBe('sess-1');
    // Another conversation of the group keeps its session.
    f.store.setTopicSession(GROUP, 'other', 'sess-other', new Date().toISOString());

    expect(say('tg:ta', '/new')).toEqual({ kind: 'handled', reply: 'the next message here starts a new conversation' });
    // What the turn loop hands the next turn of this topic (gateway/turns.ts): no session to resume.
    expect(f.store.topic(GROUP, topic)?.session ?? null).toBeNull();
    expect(f.store.topic(GROUP, 'other')?.session).toBe('sess-other');
  });

  it("refuses a TA in an instructor's group, and anyone whose pairing was in another world", () => {
    const classroom = new ClassroomStore(f.db, f.store);
    const hook = classroomCommands({ classroom, groupExists: () => true, log: silentLogger() });
    const at = (tenant: string, sender: string, name: string) =>
      hook(
        { chat: CHAT, thread: null, sender: { id: sender }, text: `/${name}`, platformMessageId: null, replyTo: null, direct: true, mentioned: false, command: { name: `/${name}`, args: '' } },
        { prefix: 'tg', world: tenant.split('/')[0]! },
        tenant,
      );
    expect(classroom.pair({ id: 'tg:ta' }, classroom.invite('acme/ta_01', 3600).secret, { adapterWorld: 'acme', groupExists: () => true }).ok).toBe(true);
    expect(at('acme/instructor_01', 'tg:ta', 'pause')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(at('acme', 'tg:ta', 'status')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(at('globex/student_01', 'tg:ta', 'pause')).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(classroom.isPaused('acme/instructor_01') || classroom.isPaused('globex/student_01')).toBe(false);
    expect(at('acme/student_05', 'tg:ta', 'pause')).toEqual({ kind: 'handled', reply: 'paused acme/student_05: messages wait until /resume' });
  });

  it("gives nobody a Telegram user's rights through another adapter, and pairs no self-named sender", () => {
    const classroom = new ClassroomStore(f.db, f.store);
    const hook = classroomCommands({ classroom, groupExists: () => true, log: silentLogger() });
    expect(classroom.pair({ id: 'tg:teacher' }, classroom.invite('acme/instructor_01', 3600).secret, { adapterWorld: 'acme', groupExists: () => true }).ok).toBe(true);
    const event = (sender: string, name: string, args = ''): InboundEvent => ({
      chat: 'web:acme-class', thread: null, sender: { id: sender }, text: `/${name} ${args}`, platformMessageId: null, replyTo: null,
      direct: true, mentioned: false, command: { name, args },
    });
    const web = { prefix: 'web', world: null };
    expect(hook(event('tg:teacher', 'pause'), web, GROUP)).toEqual({ kind: 'handled', reply: NOT_ADMIN });
    expect(classroom.isPaused(GROUP)).toBe(false);
    const code = classroom.invite('acme/ta_01', 3600).secret;
    expect(hook(event('tg:someone', 'pair', code), web, GROUP)).toEqual({ kind: 'handled', reply: NO_IDENTITY });
    expect(hook(event('web:visitor-1', 'pair', code), web, GROUP)).toEqual({ kind: 'handled', reply: NO_IDENTITY });
    expect(classroom.bindings('tg:someone')).toEqual([]);
    expect(classroom.bindings('web:visitor-1')).toEqual([]);
    // The code was not used up: a Telegram user still pairs with it.
    expect(hook(event('tg:someone', 'pair', code), { prefix: 'tg', world: 'acme' }, GROUP)).toEqual({ kind: 'handled', reply: 'paired: you are a TA of acme/ta_01' });
  });
});
