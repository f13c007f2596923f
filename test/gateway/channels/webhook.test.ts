// Webhooks: POST /hook/<token> through the gateway's real HTTP server into a real warren.db.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOOK_MAX_BODY, hookBodyText, RateLimiter, signatureMatches, signBody } from '../../../gateway/channels/webhook.js';
import { tokenProblem } from '../../../gateway/channels/redeem.js';
import { MAX_TEXT } from '../../../gated/tools/messaging.js';
import { startChannelServer, type ChannelServer } from './helpers.js';

const chatMessages = (s: ChannelServer, chat: string) =>
  s.db.prepare(`SELECT tenant, chat, sender, text FROM messages WHERE chat = ? ORDER BY id`).all(chat) as {
    tenant: string;
    chat: string;
    sender: string;
    text: string;
  }[];

describe('webhook decisions', () => {
  it.each([
    ['application/json', '{"a":1}', { text: '{\n  "a": 1\n}' }],
    ['application/json; charset=utf-8', '[1,2]', { text: '[\n  1,\n  2\n]' }],
    ['application/vnd.github+json', '{"x":true}', { text: '{\n  "x": true\n}' }],
    ['text/plain', 'deploy done\n', { text: 'deploy done\n' }],
    ['application/json', '{"a":', { status: 400 }],
    ['text/plain', '   ', { status: 400 }],
    ['application/x-www-form-urlencoded', 'a=1', { status: 415 }],
    [undefined, 'x', { status: 415 }],
  ])('%s %j', (type, body, expected) => {
    expect(hookBodyText(type, Buffer.from(body))).toMatchObject(expected);
  });

  it('cuts a body longer than a message may be, and says so', () => {
    const r = hookBodyText('text/plain', Buffer.alloc(MAX_TEXT + 10, 'a')) as { text: string };
    expect(r.text.length).toBe(MAX_TEXT);
    expect(r.text).toMatch(/cut: the webhook body was longer/);
  });

  it.each([
    ['the right signature', (key: string, body: Buffer) => signBody(key, body), true],
    ['upper-case hex', (key: string, body: Buffer) => signBody(key, body).toUpperCase().replace('SHA256=', 'sha256='), true],
    ['another key', (_k: string, body: Buffer) => signBody('other', body), false],
    ['another body', (key: string) => signBody(key, 'other'), false],
    ['sha1', (key: string, body: Buffer) => signBody(key, body).replace('sha256', 'sha1'), false],
    ['a short digest', (key: string, body: Buffer) => signBody(key, body).slice(0, 40), false],
    ['no header', () => undefined, false],
  ])('signature: %s', (_label, header, ok) => {
    const body = Buffer.from('{"a":1}');
    expect(signatureMatches('k3y', body, header('k3y', body))).toBe(ok);
  });

  it('token problems', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(tokenProblem({ expires_at: '2026-01-02T00:00:00Z', revoked_at: null }, now)).toBeNull();
    expect(tokenProblem({ expires_at: '2025-12-31T00:00:00Z', revoked_at: null }, now)).toBe('expired');
    expect(tokenProblem({ expires_at: 'garbage', revoked_at: null }, now)).toBe('expired');
    expect(tokenProblem({ expires_at: '2026-01-02T00:00:00Z', revoked_at: '2025-12-31T00:00:00Z' }, now)).toBe('revoked');
  });

  it('rate limiter: a burst, then one per refill interval, per key', () => {
    const limiter = new RateLimiter(2, 1);
    expect([limiter.take('a', 0), limiter.take('a', 0)]).toEqual([0, 0]);
    expect(limiter.take('a', 0)).toBe(1000);
    expect(limiter.take('b', 0)).toBe(0);
    expect(limiter.take('a', 1000)).toBe(0);
    expect(limiter.take('a', 1000)).toBeGreaterThan(0);
  });
});

describe('POST /hook/<token>', () => {
  let s: ChannelServer;
  beforeEach(async () => {
    s = await startChannelServer({ rate: { burst: 3, perSecond: 0.001 } });
    s.wiring.set('hook:deploys', 'acme/support');
  });
  afterEach(() => s.close());

  const post = (secret: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${s.url}/hook/${secret}`, { method: 'POST', headers, body });

  it('stores a JSON body once as a pretty message on the hook chat, and answers 202 with its id', async () => {
    const hook = s.hook('acme/support', 'deploys');
    const res = await post(hook.secret, '{"ref":"main","ok":true}');
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: number };
    const rows = chatMessages(s, 'hook:deploys');
    expect(rows).toEqual([{ tenant: 'acme/support', chat: 'hook:deploys', sender: 'hook:deploys', text: '{\n  "ref": "main",\n  "ok": true\n}' }]);
    expect(s.db.prepare(`SELECT id FROM messages`).all()).toEqual([{ id: body.id }]);
  });

  it('stores a text body as it is', async () => {
    const hook = s.hook('acme/support', 'hook:Deploys');
    expect(hook.target).toBe('hook:deploys');
    expect((await post(hook.secret, 'build 41 failed', { 'content-type': 'text/plain; charset=utf-8' })).status).toBe(202);
    expect(chatMessages(s, 'hook:deploys').map((r) => r.text)).toEqual(['build 41 failed']);
  });

  it('answers unknown, malformed, expired and revoked tokens alike with 404, storing nothing', async () => {
    const expired = s.hook('acme/support', 'deploys', { ttlS: 60 });
    s.db.prepare(`UPDATE tokens SET expires_at = ? WHERE id = ?`).run('2020-01-01T00:00:00.000Z', expired.id);
    const revoked = s.hook('acme/support', 'deploys');
    expect(s.store.revokeToken('acme/support', revoked.id)).toBe(true);
    const link = s.chatLink('acme/support', 'web:help');
    const answers = [];
    for (const secret of [`wrn_${'A'.repeat(43)}`, 'nonsense', expired.secret, revoked.secret, link.secret]) {
      const res = await post(secret, '{}');
      answers.push([res.status, await res.text()]);
    }
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify([404, '{"error":"no such webhook"}'])]));
    expect(chatMessages(s, 'hook:deploys')).toEqual([]);
  });

  it('refuses a body over the cap with 413 before storing, by header or by counting', async () => {
    const hook = s.hook('acme/support', 'deploys');
    const big = Buffer.alloc(HOOK_MAX_BODY + 1, 'a');
    expect((await post(hook.secret, big, { 'content-type': 'text/plain' })).status).toBe(413);
    // Chunked, so no Content-Length: the reader counts.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(HOOK_MAX_BODY / 4));
        c.close();
      },
    });
    const res = await fetch(`${s.url}/hook/${hook.secret}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: `body larger than ${HOOK_MAX_BODY} bytes` });
    expect(chatMessages(s, 'hook:deploys')).toEqual([]);
  });

  it('refuses malformed JSON (400) and other content types (415)', async () => {
    const hook = s.hook('acme/support', 'deploys');
    const bad = await post(hook.secret, '{"a": ');
    expect([bad.status, await bad.json()]).toEqual([400, { error: 'body is not valid JSON' }]);
    const form = await post(hook.secret, 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(chatMessages(s, 'hook:deploys')).toEqual([]);
  });

  it('a hook chat wired to no tenant is refused with 422 and stores nothing', async () => {
    const hook = s.hook('acme/support', 'nowhere');
    const res = await post(hook.secret, '{}');
    expect(res.status).toBe(422);
    expect((await res.json()) as object).toEqual({ error: 'not delivered to any agent: hook:nowhere is wired to no tenant' });
    expect(s.db.prepare(`SELECT COUNT(*) AS n FROM messages`).get()).toEqual({ n: 0 });
  });

  describe('HMAC', () => {
    it('accepts the right X-Hub-Signature-256 and refuses a wrong or missing one', async () => {
      const hook = s.hook('acme/support', 'deploys', { hmac: true });
      expect(hook.hmacKey).toMatch(/^whs_/);
      const body = '{"action":"opened"}';
      const good = await post(hook.secret, body, { 'content-type': 'application/json', 'x-hub-signature-256': signBody(hook.hmacKey!, body) });
      expect(good.status).toBe(202);
      const wrong = await post(hook.secret, body, { 'content-type': 'application/json', 'x-hub-signature-256': signBody('guess', body) });
      expect(wrong.status).toBe(401);
      const missing = await post(hook.secret, body);
      expect([missing.status, await missing.json()]).toEqual([401, { error: 'missing or wrong X-Hub-Signature-256 (sha256=<hex HMAC of the body>)' }]);
      expect(chatMessages(s, 'hook:deploys')).toHaveLength(1);
    });

    it('the HMAC key is stored only sealed: not in clear in the database', async () => {
      const hook = s.hook('acme/support', 'deploys', { hmac: true });
      const row = s.db.prepare(`SELECT * FROM tokens WHERE id = ?`).get(hook.id) as Record<string, unknown>;
      expect(JSON.stringify(row)).not.toContain(hook.hmacKey!.slice(4));
      expect(JSON.stringify(row)).not.toContain(hook.secret.slice(4));
      expect(row.hmac).toMatch(/^v1\./);
    });

    it('a hook without HMAC ignores the header', async () => {
      const hook = s.hook('acme/support', 'deploys');
      expect((await post(hook.secret, '{}', { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' })).status).toBe(202);
    });
  });

  it('limits each token: past its burst it answers 429 with Retry-After, other tokens unaffected', async () => {
    const a = s.hook('acme/support', 'deploys');
    const b = s.hook('acme/support', 'deploys');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(a.secret, `{"n":${i}}`)).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const limited = await post(a.secret, '{}');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await post(b.secret, '{}')).status).toBe(202);
    expect(chatMessages(s, 'hook:deploys')).toHaveLength(4);
  });

  it('a reply to a hook chat is delivered nowhere: ok, with no platform message id', async () => {
    const item = { id: 1, tenant: 'acme/support', kind: 'reply' as const, chat: 'hook:deploys', thread: null, text: 'thanks', replyTo: null, reaction: null, filePath: null };
    expect(await s.webhook.deliver(item)).toEqual({ ok: true, platformMessageId: null });
  });

  it('GET on a hook is 405, as JSON', async () => {
    const get = await fetch(`${s.url}/hook/x`);
    expect([get.status, await get.json()]).toEqual([405, { error: 'webhooks take POST /hook/<token>' }]);
  });
});

describe('webhook token targets', () => {
  let s: ChannelServer;
  beforeEach(async () => {
    s = await startChannelServer();
  });
  afterEach(() => s.close());

  it('refuses names outside the rule', () => {
    for (const bad of ['', 'hook:', 'a b', 'hook:x/y', 'tg:1', 'x'.repeat(65)]) expect(() => s.hook('acme', bad)).toThrow(/not a webhook name/);
  });

  it("a hook chat belongs to its first issuer's subtree: an ancestor may issue for it, a sibling or child may not", () => {
    s.hook('acme/support', 'deploys');
    expect(() => s.hook('acme', 'deploys')).not.toThrow();
    expect(() => s.hook('globex', 'deploys')).toThrow(/hook:deploys belongs to another subtree \(acme\)/);
    expect(() => s.hook('acme/support/triage', 'deploys')).toThrow(/belongs to another subtree/);
  });
});
