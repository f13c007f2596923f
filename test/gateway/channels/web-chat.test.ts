// The web chat, in real Chromium (Debian's chromium, driven by playwright-core) against the gateway's real HTTP
// server: a chat link is exchanged for an HttpOnly session cookie, messages are stored through the inbound path,
// replies stream in over SSE and a reconnect resumes without loss or duplicates.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chatPage, escapeHtml } from '../../../gateway/channels/web-page.js';
import { MAX_SESSIONS_PER_LINK, webReply } from '../../../gateway/channels/web.js';
import { CHAT_MAX_BODY, webChannels } from '../../../gateway/channels/http-routes.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import { silentLogger } from '../../../core/log.js';
import { topicForChat } from '../../../gateway/inbound.js';
import { eventually } from '../../helpers/wait.js';
import { startChannelServer, type ChannelServer } from './helpers.js';

// Functions given to page.evaluate run in the page; tests are compiled without the DOM library.
declare const document: { cookie: string; querySelector(s: string): { dataset: Record<string, string> } | null };

const ARTIFACTS = join(import.meta.dirname, '../../../test-artifacts');

describe('web chat page (pure)', () => {
  it('escapes everything it interpolates', () => {
    const html = chatPage({ chat: 'web:<img src=x onerror=alert(1)>', csrf: '"><script>' });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('"><script>');
    expect(html).toContain(escapeHtml('<img src=x onerror=alert(1)>'));
  });

  it('shows the person only what a reply says: no tenant, topic, run or file path', () => {
    const row = {
      id: 7, tenant: 'acme', topic: 't', kind: 'file', chat: 'web:x', text: 'report', reply_to: null, reaction: null, file_path: '/host/secret/path', run: 'r1', created_at: 'now',
      delivery_state: null, delivery_attempts: 0, delivery_error: null, delivered_at: null, platform_message_id: null,
    };
    expect(webReply(row)).toEqual({ id: 7, kind: 'file', text: '[a file was sent: report]', at: 'now' });
    expect(webReply({ ...row, kind: 'like' })).toBeNull();
  });
});

describe('web chat sessions and factories', () => {
  let s: ChannelServer;
  beforeEach(async () => {
    s = await startChannelServer();
  });
  afterEach(() => s.close());

  it('one link holds at most MAX_SESSIONS_PER_LINK sessions: opening it again ends the oldest', () => {
    const link = s.chatLink('acme/support', 'web:help');
    const other = s.web.openLink(s.chatLink('acme/support', 'web:other').secret)!;
    const opened = Array.from({ length: MAX_SESSIONS_PER_LINK + 1 }, () => s.web.openLink(link.secret)!);
    expect(s.web.session(opened[0]!.id)).toBeNull();
    expect(s.web.session(opened[1]!.id)).not.toBeNull();
    expect(s.web.session(opened.at(-1)!.id)?.chat).toBe('web:help');
    expect(s.web.session(other.id)?.chat).toBe('web:other');
  });

  /** Opens a link the way a browser does, without one: the cookie and the page's CSRF token. */
  const openByHand = async (secret: string) => {
    const opened = await fetch(`${s.url}/chat/${secret}`, { redirect: 'manual' });
    expect([opened.status, opened.headers.get('location')]).toEqual([303, '/chat/']);
    const setCookie = opened.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^warren_chat=[A-Za-z0-9_-]{43}; Path=\/chat; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(';')[0]!;
    const html = await (await fetch(`${s.url}/chat/`, { headers: { cookie } })).text();
    const csrf = /data-csrf="([^"]+)"/.exec(html)![1]!;
    const send = (body: string | Uint8Array, type = 'application/json') =>
      fetch(`${s.url}/chat/send`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': type }, body });
    return { cookie, csrf, send };
  };

  it('a send is refused when the chat is wired to no agent, too large, not JSON or has no text, storing nothing', async () => {
    s.wiring.set('web:help', 'acme/support');
    const unwired = await openByHand(s.chatLink('acme/support', 'web:nobody').secret);
    const res = await unwired.send('{"text":"hello"}');
    expect([res.status, await res.json()]).toEqual([422, { error: 'not delivered to any agent: web:nobody is wired to no tenant' }]);
    const { send } = await openByHand(s.chatLink('acme/support', 'web:help').secret);
    expect((await send(JSON.stringify({ text: 'x'.repeat(CHAT_MAX_BODY) }))).status).toBe(413);
    expect((await send('text=hi', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await send('{"text":')).status).toBe(400);
    expect((await send('{"text":"   "}')).status).toBe(400);
    expect((await send('null')).status).toBe(400);
    expect(s.db.prepare(`SELECT COUNT(*) AS n FROM messages`).get()).toEqual({ n: 0 });
    const ok = await send('{"text":"hello"}');
    expect([ok.status, await ok.json()]).toEqual([202, { outcome: 'stored' }]);
    expect(s.db.prepare(`SELECT chat, text FROM messages`).all()).toEqual([{ chat: 'web:help', text: 'hello' }]);
  });

  it("a session reads only its own chat's replies, from the outbox row after Last-Event-ID", async () => {
    const a = s.chatLink('acme/support', 'web:help');
    const { cookie } = await openByHand(a.secret);
    const first = s.store.addOutbox({ tenant: 'acme/support', topic: topicForChat('web:help'), kind: 'message', chat: 'web:help', text: 'one' });
    s.store.addOutbox({ tenant: 'acme/support', topic: 'x', kind: 'message', chat: 'web:other', text: 'not yours' });
    s.store.addOutbox({ tenant: 'globex', topic: 'x', kind: 'message', chat: 'web:help', text: 'another tenant' });
    s.store.addOutbox({ tenant: 'acme/support', topic: topicForChat('web:help'), kind: 'message', chat: 'web:help', text: 'two' });
    const read = async (lastEventId?: string) => {
      const controller = new AbortController();
      const res = await fetch(`${s.url}/chat/events`, { headers: { cookie, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: controller.signal });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('two')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      return text;
    };
    const all = await read();
    expect([...all.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!).text ?? null)).toEqual([null, 'one', 'two']);
    expect(all).not.toMatch(/not yours|another tenant/);
    const resumed = await read(String(first));
    expect([...resumed.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!).text ?? null)).toEqual([null, 'two']);
    expect((await fetch(`${s.url}/chat/events`)).status).toBe(401);
  });

  it('the session cookie is Secure when the page is served over TLS', async () => {
    const { routes } = webChannels({ store: s.store, outbox: new OutboxView(s.db), log: silentLogger() });
    const overTls = await routes.fetch(new Request(`https://warren.example/chat/${s.chatLink('acme', 'web:help').secret}`));
    expect(overTls.headers.get('set-cookie')).toMatch(/; Path=\/chat; HttpOnly; Secure; SameSite=Strict$/);
    const plain = await routes.fetch(new Request(`http://warren.example/chat/${s.chatLink('acme', 'web:help').secret}`));
    expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
  });

  it('webChannels gives the hub one installation-wide factory per prefix, each creating the adapter its routes serve', () => {
    const channels = webChannels({ store: s.store, outbox: new OutboxView(s.db), log: silentLogger() });
    expect(channels.factories.map((f) => [f.prefix, f.scope])).toEqual([['hook', 'installation'], ['web', 'installation']]);
    const context = { world: null, credential: null, env: {}, dataDir: s.tree.data, log: silentLogger() };
    expect(channels.factories.map((f) => f.create(context))).toEqual([channels.webhook, channels.web]);
  });
});

describe('web chat in Chromium', () => {
  let profile: string;
  let s: ChannelServer;
  let context: BrowserContext;
  let page: Page;

  beforeEach(async () => {
    s = await startChannelServer({ pollMs: 200 });
    s.wiring.set('web:help', 'acme/support');
    // A fresh profile per test: no cookie or cache carries over.
    profile = mkdtempSync(join(tmpdir(), 'warren-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 60_000);
  afterEach(async () => {
    await context?.close();
    await s.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const reply = (text: string, chat = 'web:help', tenant = 'acme/support') =>
    s.store.addOutbox({ tenant: tenant as 'acme/support', topic: topicForChat(chat), kind: 'message', chat, text });
  const agentTexts = () => page.locator('li.msg.agent').allTextContents();

  it('opens a link, sends a message, sees replies stream in, and resumes after a reconnect without loss or duplicates', async () => {
    const link = s.chatLink('acme/support', 'web:help');
    reply('Welcome! How can we help?');
    reply('this is for another chat', 'web:other');
    const response = await page.goto(`${s.url}/chat/${link.secret}`);
    expect(response?.status()).toBe(200);
    // The secret left the address bar and the history entry.
    expect(page.url()).toBe(`${s.url}/chat/`);
    expect(page.url()).not.toContain(link.secret);
    // The session cookie is there, and the page's script cannot read it.
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).toEqual([['warren_chat', true, 'Strict', '/chat']]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    // Replies already in the outbox are shown once the stream opens (a reader who was away sees them).
    await eventually(async () => (await agentTexts()).length === 1, 'the stored reply on the page', 10_000);
    expect(await agentTexts()).toEqual(['Welcome! How can we help?']);

    await page.fill('#text', 'My order <b>42</b> has not arrived');
    await page.keyboard.press('Enter');
    type Stored = { tenant: string; chat: string; sender: string; text: string };
    const storedRows = () => s.db.prepare(`SELECT tenant, chat, sender, text FROM messages`).all() as Stored[];
    await eventually(() => storedRows().length > 0, 'the message stored', 10_000);
    const stored = storedRows();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ tenant: 'acme/support', chat: 'web:help', text: 'My order <b>42</b> has not arrived' });
    expect(stored[0]!.sender).toMatch(/^web:help#[0-9a-f]{8}$/);
    await expect(page.locator('li.msg.me').allTextContents()).resolves.toEqual(['My order <b>42</b> has not arrived']);

    // A reply: deliver() wakes the stream.
    const id = reply('Sorry about that! <script>alert(1)</script> It ships today.');
    await s.web.deliver({ id, tenant: 'acme/support', kind: 'message', chat: 'web:help', thread: null, text: null, replyTo: null, reaction: null, filePath: null });
    await eventually(async () => (await agentTexts()).length === 2, 'the reply streamed in', 10_000);
    expect((await agentTexts())[1]).toBe('Sorry about that! <script>alert(1)</script> It ships today.');

    // The server drops the stream; replies stored meanwhile arrive after the browser reconnects with Last-Event-ID.
    const reconnects: Promise<string | undefined>[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/chat/events')) reconnects.push(r.allHeaders().then((h) => h['last-event-id']));
    });
    s.web.endStreams();
    reply('While you were away: tracking number ZX-1.');
    reply('And a voucher for the wait.');
    await eventually(async () => (await agentTexts()).length === 4, 'the missed replies after the reconnect', 15_000);
    expect(await reconnects[0]).toBe(String(id));
    await new Promise((r) => setTimeout(r, 600)); // a few more poll ticks: nothing may arrive twice
    expect(await agentTexts()).toEqual([
      'Welcome! How can we help?',
      'Sorry about that! <script>alert(1)</script> It ships today.',
      'While you were away: tracking number ZX-1.',
      'And a voucher for the wait.',
    ]);
    expect(await page.locator('#state').textContent()).toBe('connected');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 900, height: 640 });
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat.png') });
  }, 60_000);

  it('refuses a wrong link and an expired one, setting no cookie', async () => {
    for (const secret of [`wrn_${'B'.repeat(43)}`, 'not-a-token']) {
      const res = await page.goto(`${s.url}/chat/${secret}`);
      expect(res?.status()).toBe(404);
      await expect(page.locator('h1').textContent()).resolves.toBe('This chat link does not work');
    }
    const expired = s.chatLink('acme/support', 'web:help', 60);
    s.db.prepare(`UPDATE tokens SET expires_at = ? WHERE id = ?`).run('2020-01-01T00:00:00.000Z', expired.id);
    expect((await page.goto(`${s.url}/chat/${expired.secret}`))?.status()).toBe(404);
    // A link to a chat that is not a web chat opens nothing either.
    const tg = s.chatLink('acme/support', 'tg:100');
    expect((await page.goto(`${s.url}/chat/${tg.secret}`))?.status()).toBe(404);
    expect(await context.cookies()).toEqual([]);
    expect((await page.goto(`${s.url}/chat/`))?.status()).toBe(401);
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-refused.png') });
  }, 30_000);

  it('revoking the link ends the open session: the stream says so, sending and reopening are refused', async () => {
    const link = s.chatLink('acme/support', 'web:help');
    await page.goto(`${s.url}/chat/${link.secret}`);
    await eventually(async () => (await page.locator('#state').textContent()) === 'connected', 'the stream connected', 10_000);
    expect(s.store.revokeToken('acme/support', link.id)).toBe(true);
    await eventually(async () => (await page.locator('#state').textContent()) === 'This chat link has been revoked or has expired.', 'the page told', 10_000);
    expect(await page.locator('#text').isDisabled()).toBe(true);
    const send = await page.evaluate(async () => {
      const res = await fetch('/chat/send', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': document.querySelector('main')!.dataset.csrf! }, body: '{"text":"hi"}' });
      return res.status;
    });
    expect(send).toBe(401);
    expect((await page.goto(`${s.url}/chat/${link.secret}`))?.status()).toBe(404);
    expect((await page.goto(`${s.url}/chat/`))?.status()).toBe(401);
    expect(s.db.prepare(`SELECT COUNT(*) AS n FROM messages`).get()).toEqual({ n: 0 });
  }, 30_000);

  it('a send without the session CSRF token is refused, and the page has a strict CSP', async () => {
    const link = s.chatLink('acme/support', 'web:help');
    const res = await page.goto(`${s.url}/chat/${link.secret}`);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(res?.headers()['referrer-policy']).toBe('no-referrer');
    const statuses = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) => fetch('/chat/send', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"text":"hi"}' }).then((r) => r.status);
      return [await post({}), await post({ 'x-csrf-token': 'guess' })];
    });
    expect(statuses).toEqual([403, 403]);
    expect(s.db.prepare(`SELECT COUNT(*) AS n FROM messages`).get()).toEqual({ n: 0 });
  }, 30_000);
});
