// The dashboard over HTTP on the gateway's real server: login and sessions, CSRF on every write, the security headers,
// a scoped token's pages and live output cut to its subtree by the API's own `authorize`, and hostile tenant content
// rendered as text on every page. The same flows in a real browser: browser.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../../gateway/dashboard/html.js';
import { SECURITY_HEADERS } from '../../../gateway/dashboard/routes.js';
import { csrfMatches, DashboardSessions, LOGIN_CODE_TTL_MS, MAX_SESSIONS, SESSION_COOKIE, SESSION_TTL_MS } from '../../../gateway/dashboard/sessions.js';
import { RunStore } from '../../../gateway/run-store.js';
import { firstLine } from '../../../gateway/status.js';
import { OPERATOR_TOKEN } from '../../helpers/http-api.js';
import { HOSTILE, loginByHand, startDashboard, type DashboardFixture } from './helpers.js';

describe('html and sessions (pure)', () => {
  it('escapes every interpolated value, braces included, and keeps what html built', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'"><x'}">${HOSTILE}${inner}</p>`.text).toBe(`<p title="${escapeHtml('"><x')}">${escapeHtml(HOSTILE)}<b>&lt;i&gt;</b></p>`);
    expect(escapeHtml(HOSTILE)).not.toMatch(/[<>"'{}]/);
  });

  it('compares CSRF tokens whole: a prefix, another token, nothing at all do not match', () => {
    expect(csrfMatches('abc', 'abc')).toBe(true);
    for (const presented of ['ab', 'abd', 'abcd', '', undefined]) expect(csrfMatches('abc', presented)).toBe(false);
  });

  it('a login code opens one session, once, and not after it expires', () => {
    let now = 1_000_000;
    const sessions = new DashboardSessions(() => now);
    const code = sessions.loginCode({ kind: 'operator' });
    const session = sessions.redeem(code)!;
    expect(session.principal).toEqual({ kind: 'operator' });
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${session.id}`)?.id).toBe(session.id);
    expect(sessions.redeem(code)).toBeNull();
    const late = sessions.loginCode({ kind: 'operator' });
    now += LOGIN_CODE_TTL_MS;
    expect(sessions.redeem(late)).toBeNull();
  });

  it('a session ends when it expires, when its token stops being valid, and the oldest goes past MAX_SESSIONS', () => {
    let now = 0;
    let tokenValid = true;
    const sessions = new DashboardSessions(() => now);
    const expiring = sessions.open({ kind: 'operator' });
    const scoped = sessions.open({ kind: 'scoped', id: 't1', scope: 'acme', access: 'read' }, () => tokenValid);
    tokenValid = false;
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${scoped.id}`)).toBeNull();
    tokenValid = true;
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${scoped.id}`)).toBeNull(); // gone for good
    now = SESSION_TTL_MS;
    expect(sessions.fromCookie(`other=1; ${SESSION_COOKIE}=${expiring.id}`)).toBeNull();
    const first = sessions.open({ kind: 'operator' });
    for (let i = 0; i < MAX_SESSIONS; i++) sessions.open({ kind: 'operator' });
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${first.id}`)).toBeNull();
  });
});

let d: DashboardFixture;
let operator: { cookie: string; csrf: string };
let runId: string;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const get = (path: string, cookie?: string) => fetch(d.url + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
const post = (path: string, cookie: string, body: Record<string, string>) =>
  fetch(d.url + path, { method: 'POST', headers: { cookie, ...FORM }, body: new URLSearchParams(body), redirect: 'manual' });

beforeAll(async () => {
  d = await startDashboard();
  const store = d.api.gated.store;
  store.createTopic('acme/support', `topic ${HOSTILE}`, null, null);
  store.addMessage({ tenant: 'acme/support', topic: `topic ${HOSTILE}`, kind: 'chat', chat: 'tg:ann', sender: `ann ${HOSTILE}`, text: `hello ${HOSTILE}` });
  store.setRoute(`web:${HOSTILE}`, 'acme/support', 'acme');
  runId = new RunStore(d.api.db, 'test', store).tryStart('acme/support', `topic ${HOSTILE}`, 4)!.id;
  d.api.live.store.begin(runId, 'acme/support');
  d.api.live.store.append(runId, 'log', { text: `line ${HOSTILE}` });
  store.addWorker({ tenant: 'acme/support', topic: `topic ${HOSTILE}`, spawnedBy: runId, brief: `brief ${HOSTILE}` });
  const login = await loginByHand(d.url, OPERATOR_TOKEN);
  operator = { cookie: login.cookie!, csrf: login.csrf! };
});
afterAll(() => d?.stop());

describe('login, sessions and CSRF', () => {
  it('exchanges a token for an HttpOnly, SameSite=Strict session cookie (never Secure over plain http)', async () => {
    const formPage = await get('/login');
    const csrf = /name="csrf" value="([^"]+)"/.exec(await formPage.text())![1]!;
    const res = await fetch(`${d.url}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie: formPage.headers.get('set-cookie')!.split(';')[0]!, ...FORM },
      body: new URLSearchParams({ csrf, token: OPERATOR_TOKEN }),
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/']);
    expect(res.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=\\d+$`));
  });

  it('refuses a wrong token (401) and a login form without its pre-login cookie (403), opening no session', async () => {
    expect((await loginByHand(d.url, 'wop_wrong')).status).toBe(401);
    const formPage = await (await get('/login')).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(formPage)![1]!;
    const res = await fetch(`${d.url}/login`, { method: 'POST', redirect: 'manual', headers: FORM, body: new URLSearchParams({ csrf, token: OPERATOR_TOKEN }) });
    expect([res.status, res.headers.get('set-cookie')?.startsWith(SESSION_COOKIE)]).toEqual([403, false]);
  });

  it('sends a page without a session to the login form', async () => {
    for (const path of ['/', '/tenants', '/tenants/acme', '/audit', '/egress', '/workers']) {
      const res = await get(path);
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 303, '/login']);
    }
  });

  it('refuses a write without the session CSRF token, and does it with the token', async () => {
    const forged = await post('/tenants/globex/explain', operator.cookie, { tool: 'send_message', args: '{}' });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('CSRF');
    const wrong = await post('/tenants/globex/explain', operator.cookie, { csrf: operator.csrf.slice(1) + 'x', tool: 'send_message' });
    expect(wrong.status).toBe(403);
    const explained = await post('/tenants/globex/explain', operator.cookie, { csrf: operator.csrf, tool: 'send_message', args: '{}' });
    const page = await explained.text();
    expect(explained.status).toBe(200);
    // the same decision the API gives
    const api = await (await fetch(`${d.url}/v1/tenants/globex/explain`, {
      method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' }, body: '{"tool":"send_message"}',
    })).json() as { allowed: boolean; message: string };
    expect(api.allowed).toBe(false);
    expect(page).toContain(`<strong>denied</strong>`);
    expect(page).toContain(escapeHtml(api.message));
  });

  it('logs out only with the CSRF token; the cookie is worthless afterwards', async () => {
    const { cookie, csrf } = await loginByHand(d.url, OPERATOR_TOKEN);
    expect((await post('/logout', cookie!, {})).status).toBe(403);
    expect((await get('/', cookie!)).status).toBe(200);
    const out = await post('/logout', cookie!, { csrf: csrf! });
    expect([out.status, out.headers.get('location')]).toEqual([303, '/login']);
    expect((await get('/', cookie!)).status).toBe(303);
  });
});

describe('every page', () => {
  const pages = () => ['/', '/tenants', '/tenants/acme.support', '/tenants/globex', `/tenants/acme.support/conversation?topic=${encodeURIComponent(`topic ${HOSTILE}`)}`,
    `/tenants/acme.support/runs/${runId}`, '/audit', '/audit?decision=deny&tool=' + encodeURIComponent(`tool${HOSTILE}`), '/egress', '/workers', '/login'];

  it('carries a strict CSP (no inline script), no framing, nosniff and no referrer', async () => {
    for (const path of [...pages(), '/dashboard/app.js', '/dashboard/style.css']) {
      const res = await get(path, operator.cookie);
      expect([path, res.status]).toEqual([path, 200]);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect([path, name, res.headers.get(name)]).toEqual([path, name, value]);
    }
    expect(SECURITY_HEADERS['content-security-policy']).toMatch(/script-src 'self';/);
    expect(SECURITY_HEADERS['content-security-policy']).not.toMatch(/unsafe-inline/);
  });

  it('renders hostile persona, messages, topics, output, tool names, argument shapes and grants errors as text', async () => {
    const seen = new Map<string, string>();
    for (const path of pages()) {
      const text = await (await get(path, operator.cookie)).text();
      seen.set(path, text);
      expect(text).not.toContain('<script>alert');
      expect(text).not.toContain('<img src=x');
      expect(text).not.toContain('{{7*7}}');
      expect(text).not.toContain('<b id="grants-markup">');
      expect(text.match(/<script/g)).toEqual(['<script']); // app.js, and nothing else
    }
    const escaped = escapeHtml(HOSTILE);
    expect(seen.get('/tenants/acme.support')).toContain(escaped); // persona
    expect(seen.get('/tenants/acme.support')).toContain(`<code>web:${escaped}</code>`); // a chat routed to it
    // Its work now (/status): the running turn's latest line and the queued worker's brief, cut and escaped.
    expect(seen.get('/tenants/acme.support')).toMatch(/<pre id="work-status">acme\/support: 1 turn running\n/);
    expect(seen.get('/tenants/acme.support')).toContain(`  &gt; ${escapeHtml(firstLine(`line ${HOSTILE}`))}`);
    expect(seen.get('/tenants/acme.support')).toContain(escapeHtml(firstLine(`brief ${HOSTILE}`)));
    expect(seen.get('/tenants/globex')).toContain(escapeHtml('<b id="grants-markup">')); // grants text and its error
    expect(seen.get('/tenants')).toContain(escapeHtml('<b id="grants-markup">')); // the error with file:line
    expect(seen.get('/tenants')).toMatch(/globex\/grants:1/);
    expect(seen.get(pages()[4]!)).toContain(`hello ${escaped}`);
    expect(seen.get('/audit')).toContain(`tool${escaped}`);
    expect(seen.get('/audit')).toContain(`no ${escaped}`);
    expect(seen.get('/')).toContain(`tool${escaped}`); // recent denials
    expect(seen.get('/egress')).toContain(`not allowed ${escaped}`);
  });

  it('filters the audit log by tenant, tool and decision, and pages it with the before cursor', async () => {
    for (let i = 0; i < 60; i++) {
      void d.api.gated.audit.record({ tenant: 'acme', run: null, tool: 'paged', decision: i % 2 ? 'allow' : 'deny', rule: null, durationUs: 1, outcome: i % 2 ? 'ok' : 'denied', args: {} });
    }
    await d.api.gated.audit.flush();
    const ids = (html: string) => [...html.matchAll(/<tr><td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
    const first = await (await get('/audit?tool=paged', operator.cookie)).text();
    expect(ids(first)).toHaveLength(50);
    const older = /id="older" href="([^"]+)"/.exec(first)![1]!.replaceAll('&amp;', '&');
    const second = await (await get(older, operator.cookie)).text();
    expect(ids(second)).toHaveLength(10);
    expect(Math.max(...ids(second))).toBeLessThan(Math.min(...ids(first)));
    expect(second).not.toContain('id="older"');
    expect(ids(await (await get('/audit?tool=paged&decision=deny', operator.cookie)).text())).toHaveLength(30);
    expect(ids(await (await get('/audit?tool=paged&tenant=globex', operator.cookie)).text())).toHaveLength(0);
    expect(ids(await (await get('/audit?tenant=globex', operator.cookie)).text())).toHaveLength(1);
  });
});

describe('a scoped token', () => {
  let scoped: { cookie: string; csrf: string };
  let tokenId: string;
  beforeAll(async () => {
    const issued = d.api.tokens.issue({ scope: 'acme', access: 'read' });
    tokenId = issued.row.id;
    const login = await loginByHand(d.url, issued.token);
    scoped = { cookie: login.cookie!, csrf: login.csrf! };
  });

  it('sees its subtree only: tree, tenant pages, audit, overview', async () => {
    const tree = await (await get('/tenants', scoped.cookie)).text();
    expect(tree).toContain('acme/support');
    expect(tree).not.toContain('globex');
    expect((await get('/tenants/globex', scoped.cookie)).status).toBe(403);
    expect((await post('/tenants/globex/explain', scoped.cookie, { csrf: scoped.csrf, tool: 'whoami' })).status).toBe(403);
    expect((await get('/tenants/acme.support', scoped.cookie)).status).toBe(200);
    expect(await (await get('/audit', scoped.cookie)).text()).not.toContain('globex');
    expect((await get('/audit?tenant=globex', scoped.cookie)).status).toBe(403);
    expect(await (await get('/', scoped.cookie)).text()).not.toContain('globex');
    expect((await get('/workers', scoped.cookie)).status).toBe(403);
  });

  it('the session cookie opens the live output of its own runs only (same authorize as the API), and nothing without it', async () => {
    d.api.live.store.begin('run-globex', 'globex');
    const open = async (path: string, cookie?: string) => {
      const abort = new AbortController();
      const res = await fetch(d.url + path, { headers: cookie ? { cookie } : {}, signal: abort.signal });
      abort.abort();
      return res.status;
    };
    expect(await open(`/v1/tenants/acme.support/runs/${runId}/output`, scoped.cookie)).toBe(200);
    expect(await open('/v1/tenants/globex/runs/run-globex/output', scoped.cookie)).toBe(403);
    expect(await open(`/v1/tenants/acme.support/runs/${runId}/output`)).toBe(401);
    expect(await open(`/v1/tenants/acme.support/runs/${runId}/output`, `${SESSION_COOKIE}=forged`)).toBe(401);
    // only the SSE route takes the cookie
    expect((await fetch(`${d.url}/v1/tenants`, { headers: { cookie: scoped.cookie } })).status).toBe(401);
  });

  it('loses its session when the token is revoked', async () => {
    expect(d.api.tokens.revoke(tokenId)).toBe(true);
    expect((await get('/tenants', scoped.cookie)).status).toBe(303);
  });
});
