// The Telegram adapter: its pure decisions by table, then grammY long-polling a Bot API stand-in on loopback.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelAdapter, InboundEvent, InboundOutcome, InboundSink, OutboundItem } from '../../../gateway/channels/adapter.js';
import { telegramApiRoot, telegramFactory, type TelegramOptions } from '../../../gateway/channels/telegram.js';
import {
  deliveryOutcome, normaliseUpdate, pollingVerdict, splitText, MAX_INBOUND_TEXT,
} from '../../../gateway/channels/telegram-updates.js';
import { startTelegramStandIn, type TelegramStandIn } from '../../../bench/telegram-stand-in.js';
import { eventually } from '../../helpers/wait.js';

const BOT = { id: 4242, username: 'warren_test_bot' };
const TOKEN = '123456:AAE-secret-token_value';

const user = { id: 777, is_bot: false, first_name: 'Ada', username: 'ada' };
const dm = (text: string, extra: Record<string, unknown> = {}) => ({
  message: { message_id: 10, date: 1, chat: { id: 777, type: 'private' }, from: user, text, ...extra },
});
const group = (text: string, extra: Record<string, unknown> = {}, chat: Record<string, unknown> = {}) => ({
  message: { message_id: 20, date: 1, chat: { id: -100123, type: 'supergroup', ...chat }, from: user, text, ...extra },
});
const entity = (type: string, text: string, part: string, extra: Record<string, unknown> = {}) => ({
  type, offset: text.indexOf(part), length: part.length, ...extra,
});

describe('normaliseUpdate', () => {
  const event = (u: Record<string, unknown>): InboundEvent => {
    const n = normaliseUpdate({ update_id: 1, ...u }, BOT);
    if (n.kind !== 'event') throw new Error(`ignored: ${n.reason}`);
    return n.event;
  };
  const ignored = (u: unknown): string => {
    const n = normaliseUpdate(u, BOT);
    if (n.kind !== 'ignore') throw new Error('not ignored');
    return n.reason;
  };

  it('a DM is direct, from and to tg: ids', () => {
    expect(event(dm('hello'))).toEqual({
      chat: 'tg:777', thread: null, sender: { id: 'tg:777', name: 'ada' }, text: 'hello', platformMessageId: '10',
      replyTo: null, direct: true, mentioned: false, command: null,
    });
  });

  it.each([
    ['a mention entity of the bot', (t: string) => [entity('mention', t, '@Warren_Test_Bot')], 'hi @Warren_Test_Bot', true],
    ['a mention of another bot', (t: string) => [entity('mention', t, '@other_bot')], 'hi @other_bot', false],
    ['the name in text without an entity', () => [], 'hi @warren_test_bot', false],
    ['a text_mention of the bot id', (t: string) => [entity('text_mention', t, 'Warren', { user: { id: BOT.id } })], 'hi Warren', true],
    ['a broken entity (out of range)', () => [{ type: 'mention', offset: 50, length: 17 }], 'hi @warren_test_bot', false],
  ])('group: %s -> mentioned %s', (_what, entities, text, mentioned) => {
    const e = event(group(text, { entities: entities(text) }));
    expect(e).toMatchObject({ chat: 'tg:-100123', direct: false, mentioned, thread: null });
  });

  it.each([
    ['/status', null, { name: 'status', args: '' }, false],
    ['/new please now', null, { name: 'new', args: 'please now' }, false],
    ['/pause@warren_test_bot 5m', null, { name: 'pause', args: '5m' }, true],
    ['/pause@other_bot 5m', null, null, false],
    ['say /status', 4, null, false],
  ])('command %j', (text, offset, command, mentioned) => {
    const cmd = text.split(' ')[offset === null ? 0 : 1]!;
    const e = event(group(text, { entities: [{ type: 'bot_command', offset: offset ?? 0, length: cmd.length }] }));
    expect(e.command).toEqual(command);
    expect(e.mentioned).toBe(mentioned);
  });

  it('a forum topic is a thread; a reply chain in an ordinary group is not', () => {
    const topic = event(group('hi', { message_thread_id: 55, is_topic_message: true, reply_to_message: { message_id: 55 } }, { is_forum: true }));
    expect(topic).toMatchObject({ thread: '55', replyTo: null });
    const reply = event(group('hi', { message_thread_id: 55, reply_to_message: { message_id: 55 } }));
    expect(reply).toMatchObject({ thread: null, replyTo: '55' });
  });

  it('a reply inside a topic keeps both; a reply to the bot addresses it', () => {
    const e = event(group('yes', { message_thread_id: 55, reply_to_message: { message_id: 60, from: { id: BOT.id } } }, { is_forum: true }));
    expect(e).toMatchObject({ thread: '55', replyTo: '60', mentioned: true });
  });

  it('a caption is the text of a photo', () => {
    const text = '@warren_test_bot look';
    expect(event(group('', { text: undefined, caption: text, caption_entities: [entity('mention', text, '@warren_test_bot')] }))).toMatchObject({
      text, mentioned: true,
    });
  });

  it.each([
    ['not an object', 'junk', /malformed/],
    ['no update_id', { message: dm('x').message }, /malformed/],
    ['an edited message', { update_id: 1, edited_message: dm('x').message }, /edited_message/],
    ['a channel post', { update_id: 1, channel_post: {} }, /channel_post/],
    ['a message that is a string', { update_id: 1, message: 'x' }, /malformed message/],
    ['a chat without an id', { update_id: 1, message: { message_id: 1, chat: { type: 'private' }, from: user, text: 'x' } }, /malformed/],
    ['a sticker', { update_id: 1, ...dm('x', { text: undefined, sticker: { file_id: 'f' } }) }, /without text/],
    ['no sender', { update_id: 1, ...dm('x', { from: undefined }) }, /without a sender/],
    ['the bot itself', { update_id: 1, ...dm('x', { from: { id: BOT.id, is_bot: true } }) }, /the bot itself/],
    ['an oversized text', { update_id: 1, ...dm('x'.repeat(MAX_INBOUND_TEXT + 1)) }, /oversized/],
  ])('ignores %s', (_what, update, reason) => {
    expect(ignored(update)).toMatch(reason);
  });
});

describe('splitText', () => {
  it.each([
    ['short', 'hello', 10, ['hello']],
    ['at a line break', 'aaaaaa\nbbbb', 8, ['aaaaaa', 'bbbb']],
    ['at a space', 'aaaaa bbbb', 8, ['aaaaa', 'bbbb']],
    ['hard, without a break', 'abcdefghij', 4, ['abcd', 'efgh', 'ij']],
    ['never inside a surrogate pair', 'abc😀def', 4, ['abc', '😀de', 'f']],
  ])('%s', (_what, text, limit, parts) => {
    expect(splitText(text, limit)).toEqual(parts);
  });

  it('keeps every part within 4096 and loses nothing but the break characters', () => {
    const text = Array.from({ length: 900 }, (_, i) => `word${i}`).join(' ') + '\n' + 'x'.repeat(5000);
    const parts = splitText(text);
    expect(parts.every((p) => p.length <= 4096)).toBe(true);
    expect(parts.join('').replace(/[ \n]/g, '')).toBe(text.replace(/[ \n]/g, ''));
  });
});

describe('deliveryOutcome and pollingVerdict', () => {
  it.each([
    [{ kind: 'answer', code: 429, description: 'Too Many Requests', retryAfter: 7 }, { retryable: true, retryAfterMs: 7000, revoked: false }],
    [{ kind: 'answer', code: 400, description: 'Bad Request: chat not found' }, { retryable: false, revoked: false }],
    [{ kind: 'answer', code: 403, description: 'Forbidden: bot was blocked by the user' }, { retryable: false, revoked: false }],
    [{ kind: 'answer', code: 401, description: 'Unauthorized' }, { retryable: false, revoked: true }],
    [{ kind: 'answer', code: 502, description: 'Bad Gateway' }, { retryable: true, revoked: false }],
    [{ kind: 'network', message: 'ECONNREFUSED' }, { retryable: true, revoked: false }],
    [{ kind: 'local', message: 'no such file' }, { retryable: false, revoked: false }],
  ] as const)('%j', (failure, expected) => {
    expect(deliveryOutcome(failure)).toMatchObject({ ok: false, ...expected });
  });

  const backoff = { maxConflicts: 3, baseMs: 100 };
  it.each([
    [{ kind: 'answer', code: 401, description: 'Unauthorized' }, 1, { kind: 'fatal', error: expect.stringMatching(/revoked or invalid/) }],
    [{ kind: 'answer', code: 409, description: 'Conflict' }, 1, { kind: 'retry', afterMs: 100, error: expect.stringMatching(/another poller/) }],
    [{ kind: 'answer', code: 409, description: 'Conflict' }, 3, { kind: 'retry', afterMs: 400 }],
    [{ kind: 'answer', code: 409, description: 'Conflict' }, 4, { kind: 'give-up', error: expect.stringMatching(/gave up after 3/) }],
    [{ kind: 'network', message: 'ECONNRESET' }, 0, { kind: 'retry', afterMs: 100 }],
  ] as const)('%j (409 number %d)', (failure, conflicts, expected) => {
    expect(pollingVerdict(failure, { ...backoff, conflicts })).toMatchObject(expected);
  });

  it('the API root comes from WARREN_TELEGRAM_API_ROOT, without a trailing slash', () => {
    expect(telegramApiRoot({})).toBe('https://api.telegram.org');
    expect(telegramApiRoot({ WARREN_TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/' })).toBe('http://127.0.0.1:8081');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against the stand-in

class RecordingSink implements InboundSink {
  events: InboundEvent[] = [];
  failures = 0;
  receive(event: InboundEvent): Promise<InboundOutcome> {
    this.events.push(event);
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('database is locked'));
    }
    return Promise.resolve({ kind: 'stored', messages: [{ tenant: 'acme', id: this.events.length }] });
  }
}

interface Running {
  stand: TelegramStandIn;
  adapter: ChannelAdapter;
  sink: RecordingSink;
  logs: string[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function standIn(): Promise<TelegramStandIn> {
  const stand = await startTelegramStandIn({ token: TOKEN, username: BOT.username, botId: BOT.id });
  cleanups.push(() => stand.close());
  return stand;
}

function adapterFor(stand: TelegramStandIn, logs: string[], options: TelegramOptions = {}): ChannelAdapter {
  const stream = new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) });
  const adapter = telegramFactory({ pollTimeoutSeconds: 1, backoffMs: 50, sinkRetryMs: { first: 20, max: 100 }, requestTimeoutMs: 2000, ...options }).create({
    world: 'acme', credential: TOKEN, env: { WARREN_TELEGRAM_API_ROOT: stand.apiRoot }, dataDir: '/nonexistent',
    log: pino({ level: 'debug' }, stream),
  });
  cleanups.push(() => adapter.stop());
  return adapter;
}

async function running(options: TelegramOptions = {}): Promise<Running> {
  const stand = await standIn();
  const logs: string[] = [];
  const adapter = adapterFor(stand, logs, options);
  const sink = new RecordingSink();
  await adapter.start(sink);
  await eventually(() => adapter.status().state === 'connected', 'the adapter to connect', 10_000);
  return { stand, adapter, sink, logs };
}

const item = (over: Partial<OutboundItem>): OutboundItem => ({
  id: 1, tenant: 'acme', kind: 'message', chat: 'tg:777', thread: null, text: 'hi', replyTo: null, reaction: null, filePath: null, ...over,
});

describe('the Telegram adapter against the Bot API stand-in', () => {
  it('long-polls with offsets: an update is confirmed only after the sink stored it', async () => {
    const { stand, sink } = await running();
    expect(stand.callsOf('getUpdates')[0]!.params).toMatchObject({ allowed_updates: ['message'], timeout: 1 });
    const first = stand.push(dm('one'));
    const second = stand.push(group('two @warren_test_bot', { entities: [entity('mention', 'two @warren_test_bot', '@warren_test_bot')] }));
    await eventually(() => sink.events.length === 2, 'both updates at the sink', 10_000);
    await eventually(() => stand.confirmedBelow() === second + 1, 'both confirmed', 10_000);
    expect(stand.confirmedBelow()).toBeGreaterThan(first);
    expect(sink.events.map((e) => [e.chat, e.direct, e.mentioned])).toEqual([['tg:777', true, false], ['tg:-100123', false, true]]);
  });

  it('a failing sink holds the update unconfirmed and gets it again until it is stored', async () => {
    const { stand, sink } = await running();
    sink.failures = 1000; // failing until the test lets it store, so the check below cannot race a success
    const id = stand.push(dm('keep me'));
    await eventually(() => sink.events.length >= 2, 'the sink to fail twice', 10_000);
    // While the sink fails, grammY makes no getUpdates call that would confirm it.
    expect(stand.pending()).toContain(id);
    const failed = sink.events.length;
    sink.failures = 0;
    await eventually(() => sink.events.length === failed + 1 && stand.confirmedBelow() > id, 'stored, then confirmed', 10_000);
    expect(sink.events.map((e) => e.text)).toEqual(Array(failed + 1).fill('keep me'));
  });

  it('stopping while the sink fails leaves the update for the next start', async () => {
    const { stand, adapter, sink } = await running();
    sink.failures = 1000;
    const id = stand.push(dm('do not lose me'));
    await eventually(() => sink.events.length >= 1, 'the sink to be tried', 10_000);
    await adapter.stop();
    expect(stand.pending()).toContain(id);
    expect(stand.confirmedBelow()).toBeLessThanOrEqual(id);

    const again = adapterFor(stand, []);
    const sink2 = new RecordingSink();
    await again.start(sink2);
    await eventually(() => sink2.events.length === 1 && stand.confirmedBelow() > id, 'redelivered and confirmed', 10_000);
    expect(sink2.events[0]!.text).toBe('do not lose me');
  });

  it('a forum topic reply goes back into the topic; a non-forum reply carries no thread', async () => {
    const { stand, adapter, sink } = await running();
    stand.push(group('in topic', { message_id: 31, message_thread_id: 9, is_topic_message: true }, { is_forum: true }));
    stand.push(group('in group', { message_id: 32, message_thread_id: 9, reply_to_message: { message_id: 9 } }));
    await eventually(() => sink.events.length === 2, 'both at the sink', 10_000);
    const [topic, plain] = sink.events as [InboundEvent, InboundEvent];
    expect([topic.thread, plain.thread, plain.replyTo]).toEqual(['9', null, '9']);

    for (const e of [topic, plain]) {
      const out = await adapter.deliver(item({ kind: 'reply', chat: e.chat, thread: e.thread, replyTo: e.platformMessageId, text: 'answer' }));
      expect(out.ok).toBe(true);
    }
    const [a, b] = stand.callsOf('sendMessage').map((c) => c.params);
    expect(a).toMatchObject({ chat_id: '-100123', text: 'answer', message_thread_id: 9, reply_parameters: { message_id: 31 } });
    expect(b).toMatchObject({ chat_id: '-100123', reply_parameters: { message_id: 32 } });
    expect(b).not.toHaveProperty('message_thread_id');

    // A reply to a message whose Telegram id is unknown still reaches the topic, unthreaded.
    expect(await adapter.deliver(item({ kind: 'reply', chat: topic.chat, thread: '9', replyTo: null, text: 'later' }))).toMatchObject({ ok: true });
    const c = stand.callsOf('sendMessage')[2]!.params;
    expect(c).toMatchObject({ text: 'later', message_thread_id: 9 });
    expect(c).not.toHaveProperty('reply_parameters');
  });

  it('a bot command arrives as a command; edited messages and malformed updates are skipped without a crash', async () => {
    const { stand, sink, adapter, logs } = await running();
    stand.push({ message: 'garbage' });
    stand.push({ message: { message_id: 1, chat: { id: 'x' } } });
    stand.push(dm('x'.repeat(MAX_INBOUND_TEXT + 10)));
    stand.push(dm('/status@warren_test_bot now', { entities: [{ type: 'bot_command', offset: 0, length: 23 }] }));
    await eventually(() => sink.events.length === 1, 'the command at the sink', 10_000);
    expect(sink.events[0]!.command).toEqual({ name: 'status', args: 'now' });
    await eventually(() => stand.pending().length === 0, 'every update confirmed', 10_000);
    expect(adapter.status().state).toBe('connected');
    expect(logs.join('')).toMatch(/malformed message/);
    expect(logs.join('')).toMatch(/oversized text/);
  });

  it('delivers messages (split past 4096), reactions and documents', async () => {
    const { stand, adapter } = await running();
    const long = 'a'.repeat(4000) + '\n' + 'b'.repeat(3000);
    expect(await adapter.deliver(item({ text: long }))).toEqual({ ok: true, platformMessageId: expect.any(String) });
    expect(stand.callsOf('sendMessage').map((c) => (c.params.text as string).length)).toEqual([4000, 3000]);

    expect(await adapter.deliver(item({ kind: 'like', replyTo: '10', reaction: '👍' }))).toEqual({ ok: true, platformMessageId: null });
    expect(stand.callsOf('setMessageReaction')[0]!.params).toEqual({ chat_id: '777', message_id: 10, reaction: [{ type: 'emoji', emoji: '👍' }] });

    const dir = mkdtempSync(join(tmpdir(), 'warren-tg-'));
    const file = join(dir, 'report.txt');
    writeFileSync(file, 'the report body');
    expect(await adapter.deliver(item({ kind: 'file', filePath: file, text: 'here it is', thread: '4' }))).toMatchObject({ ok: true });
    expect(stand.callsOf('sendDocument')[0]!.params).toMatchObject({
      chat_id: 777, caption: 'here it is', message_thread_id: 4, document: { filename: 'report.txt', text: 'the report body' },
    });
    expect(await adapter.deliver(item({ kind: 'file', filePath: join(dir, 'gone') }))).toMatchObject({ ok: false, retryable: false });
  });

  it('429 is retryable after retry_after; 400 and 403 are not; a hanging call times out as retryable', async () => {
    const { stand, adapter } = await running({ requestTimeoutMs: 300 });
    stand.fail('sendMessage', { code: 429, description: 'Too Many Requests: retry after 3', retryAfter: 3 });
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: true, retryAfterMs: 3000 });
    expect(await adapter.deliver(item({ chat: 'tg:notanumber' }))).toMatchObject({ ok: false, retryable: false });
    stand.fail('sendMessage', { code: 400, description: 'Bad Request: chat not found' });
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/chat not found/) });
    stand.fail('sendMessage', { code: 403, description: 'Forbidden: bot was blocked by the user' });
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: false });
    stand.fail('sendMessage', 'hang');
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: true });
    expect(adapter.status().state).toBe('connected');
  });

  it('409 from getUpdates is reported and retried a bounded number of times, then stays in error', async () => {
    const stand = await standIn();
    stand.fail('getUpdates', { code: 409, description: 'Conflict: terminated by other getUpdates request' }, 100);
    const adapter = adapterFor(stand, [], { maxConflictRetries: 2, backoffMs: 20 });
    await adapter.start(new RecordingSink());
    await eventually(() => /gave up after 2/.test(adapter.status().error ?? ''), 'the adapter to give up', 10_000);
    const tries = stand.callsOf('getUpdates').length;
    expect(adapter.status()).toMatchObject({ state: 'error', error: expect.stringMatching(/another poller or a webhook/) });
    expect(tries).toBe(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(stand.callsOf('getUpdates').length).toBe(tries);
  });

  it('a 409 that clears recovers to connected', async () => {
    const stand = await standIn();
    stand.fail('getUpdates', { code: 409, description: 'Conflict: can\'t use getUpdates method while webhook is active' }, 1);
    const adapter = adapterFor(stand, []);
    const sink = new RecordingSink();
    await adapter.start(sink);
    await eventually(() => adapter.status().state === 'connected', 'connected after the conflict', 10_000);
    stand.push(dm('after'));
    await eventually(() => sink.events.length === 1, 'an update after recovery', 10_000);
  });

  it('a 500 from getUpdates shows in status while grammY retries, and updates flow again after it', async () => {
    const { stand, adapter, sink } = await running();
    stand.fail('getUpdates', { code: 500, description: 'Internal Server Error' }, 1);
    stand.push(dm('wake the held poll')); // ends the held getUpdates, so the next one meets the scripted 500
    await eventually(() => /answered 500/.test(adapter.status().error ?? ''), 'the 500 in status', 10_000);
    expect(adapter.status().state).toBe('error');
    stand.push(dm('after the outage'));
    await eventually(() => sink.events.some((e) => e.text === 'after the outage'), 'the update after the outage', 15_000);
    expect(adapter.status()).toMatchObject({ state: 'connected', error: null });
  });

  it('a getUpdates that never answers is given up and polling goes on', async () => {
    const { stand, sink } = await running();
    stand.fail('getUpdates', 'hang', 1);
    stand.push(dm('wake the held poll')); // the next getUpdates is the one that hangs
    await eventually(() => sink.events.length === 1, 'the first update', 10_000);
    stand.push(dm('after the hang'));
    await eventually(() => sink.events.some((e) => e.text === 'after the hang'), 'the update after the hung poll', 30_000);
  });

  it('an invalid token at start and a token revoked mid-run put the adapter in error without retrying', async () => {
    const stand = await standIn();
    const logs: string[] = [];
    const wrong = telegramFactory({ pollTimeoutSeconds: 1 }).create({
      world: 'acme', credential: '999:wrong-token-value', env: { WARREN_TELEGRAM_API_ROOT: stand.apiRoot }, dataDir: '/x', log: pino({ level: 'silent' }),
    });
    cleanups.push(() => wrong.stop());
    await wrong.start(new RecordingSink());
    await eventually(() => wrong.status().state === 'error', 'the wrong token to be reported', 10_000);
    expect(wrong.status().error).toMatch(/bot token revoked or invalid/);

    const adapter = adapterFor(stand, logs);
    await adapter.start(new RecordingSink());
    await eventually(() => adapter.status().state === 'connected', 'connected', 10_000);
    stand.revoke();
    await eventually(() => adapter.status().state === 'error', 'the revocation to be reported', 10_000);
    expect(adapter.status().error).toMatch(/bot token revoked or invalid/);
    const calls = stand.calls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(stand.calls.length).toBe(calls);
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: false });
  });

  it('a 401 on delivery stops polling too', async () => {
    const { stand, adapter } = await running();
    stand.fail('sendMessage', { code: 401, description: 'Unauthorized' });
    expect(await adapter.deliver(item({}))).toMatchObject({ ok: false, retryable: false });
    expect(adapter.status()).toMatchObject({ state: 'error', error: expect.stringMatching(/revoked or invalid/) });
  });

  it('never puts the token in logs or reported errors, even when the network fails', async () => {
    const stand = await standIn();
    const logs: string[] = [];
    const adapter = adapterFor(stand, logs);
    const sink = new RecordingSink();
    sink.failures = 1;
    await adapter.start(sink);
    await eventually(() => adapter.status().state === 'connected', 'connected', 10_000);
    stand.push(dm('x'));
    await eventually(() => sink.events.length === 2, 'the update after one sink failure', 10_000);
    await stand.close(); // every request now fails at the network level, with the URL (and token) in node's error
    const out = await adapter.deliver(item({}));
    expect(out).toMatchObject({ ok: false, retryable: true });
    await eventually(() => adapter.status().state === 'error', 'polling failure reported', 10_000);
    const reported = JSON.stringify([out, adapter.status()]) + logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    expect(reported).not.toContain(TOKEN);
    expect(reported).not.toContain(encodeURIComponent(TOKEN));
    expect(reported).not.toContain('AAE-secret');
  });
});
