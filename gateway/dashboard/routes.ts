// The dashboard's routes on the gateway's HTTP server: login (form, one-time link), logout and the pages. Each page
// is cut by `authorize` (gateway/http/principals.ts) with the same need as the API route it mirrors, and reads only
// through the read facade and the API's other ports. Every response carries a strict CSP and no-framing headers;
// every POST carries the session's CSRF token (login: a pre-login double-submit cookie).
import type { Context } from 'hono';
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { InvalidTenantPathError, parseTenantPath, type TenantPath } from '../../core/tenant-path.js';
import { principalOf, type HttpDeps } from '../http.js';
import { statusReport } from '../status.js';
import { authorize, type Need, type Principal } from '../http/principals.js';
import type { ApiDeps } from '../http/routes.js';
import { APP_JS, STYLE_CSS } from './assets.js';
import { html, type Html } from './html.js';
import * as pages from './pages.js';
import { csrfMatches, cookieValue, SESSION_COOKIE, SESSION_TTL_MS, type DashboardSessions, type Session } from './sessions.js';

/** The HTTP server's deps with the dashboard mounted on it and its sessions authenticating the SSE route. */
export function withDashboard(deps: HttpDeps, sessions: DashboardSessions): HttpDeps {
  return {
    ...deps,
    extraRoutes: (app) => {
      deps.extraRoutes?.(app);
      app.route('/', dashboardRoutes({ api: deps, sessions, principalOf: (presented) => principalOf(`Bearer ${presented}`, deps) }));
    },
    sessionPrincipal: (cookie) => sessions.fromCookie(cookie)?.principal ?? null,
  };
}

export interface DashboardDeps {
  api: ApiDeps;
  sessions: DashboardSessions;
  /** The principal a presented token stands for: the API's own resolution (operator token, scoped tokens). */
  principalOf(token: string): Principal | null;
}

const LOGIN_COOKIE = 'warren_login';
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const listing: Need = { kind: 'tenant', access: 'read', tenant: null, listing: true };

class PageError extends Error {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super(message);
  }
}

const secure = (c: Context) => new URL(c.req.url).protocol === 'https:';
const cookie = (c: Context, name: string, value: string, maxAgeS: number) =>
  `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure(c) ? '; Secure' : ''}`;

function send(c: Context, body: Html, status = 200, extra: Record<string, string> = {}): Response {
  return c.html(body.text, status as 200, { ...SECURITY_HEADERS, ...extra });
}

function tenantOf(id: string): TenantPath {
  try {
    return parseTenantPath(id.replaceAll('.', '/'));
  } catch (error) {
    if (error instanceof InvalidTenantPathError) throw new PageError(404, `no tenant ${id}`);
    throw error;
  }
}

export function dashboardRoutes(deps: DashboardDeps): Hono {
  const app = new Hono();
  const { api, sessions } = deps;

  const redirect = (c: Context, to: string, extra: Record<string, string> = {}) => c.body(null, 303, { ...SECURITY_HEADERS, location: to, ...extra });

  /** A page behind a session: the need is authorized first, the body rendered with the subtree it may show. */
  const page = (
    title: (c: Context) => string,
    need: (c: Context) => Need,
    body: (ctx: { c: Context; session: Session; under: TenantPath | null; form?: Record<string, string> }) => Html,
    method: 'get' | 'post' = 'get',
  ) => async (c: Context) => {
    const session = sessions.fromCookie(c.req.header('cookie'));
    if (!session) return method === 'get' ? redirect(c, '/login') : send(c, pages.layout({ title: 'Log in', principal: null, csrf: null }, pages.errorBody('your session ended; log in again')), 401);
    const chrome = (t: string) => ({ title: t, principal: session.principal, csrf: session.csrf });
    try {
      let form: Record<string, string> | undefined;
      if (method === 'post') {
        form = await formOf(c);
        if (!csrfMatches(session.csrf, form.csrf)) return send(c, pages.layout(chrome('Refused'), pages.errorBody('the form is stale or forged (CSRF token mismatch)')), 403);
      }
      const decision = authorize(session.principal, need(c));
      if (!decision.ok) return send(c, pages.layout(chrome('Not allowed'), pages.errorBody(decision.error)), decision.status);
      return send(c, pages.layout(chrome(title(c)), body({ c, session, under: decision.under, form })));
    } catch (error) {
      if (error instanceof PageError) return send(c, pages.layout(chrome('Not found'), pages.errorBody(error.message)), error.status);
      throw error;
    }
  };

  app.get('/dashboard/app.js', (c) => c.body(APP_JS, 200, { ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/dashboard/style.css', (c) => c.body(STYLE_CSS, 200, { ...SECURITY_HEADERS, 'content-type': 'text/css; charset=utf-8' }));

  const loginForm = (c: Context, status = 200, error?: string) => {
    const loginCsrf = randomBytes(24).toString('base64url');
    return send(c, pages.layout({ title: 'Log in', principal: null, csrf: null }, pages.loginPage({ loginCsrf, error })), status, {
      'set-cookie': cookie(c, LOGIN_COOKIE, loginCsrf, 600),
    });
  };
  const startSession = (c: Context, session: Session) => redirect(c, '/', { 'set-cookie': cookie(c, SESSION_COOKIE, session.id, SESSION_TTL_MS / 1000) });

  app.get('/login', (c) => loginForm(c));
  app.post('/login', async (c) => {
    const form = await formOf(c);
    if (!csrfMatches(cookieValue(c.req.header('cookie'), LOGIN_COOKIE) ?? '', form.csrf) || !form.csrf) return loginForm(c, 403, 'the login form is stale; try again');
    const presented = (form.token ?? '').trim();
    const principal = presented ? deps.principalOf(presented) : null;
    if (!principal) return loginForm(c, 401, 'unknown, revoked or expired token');
    return startSession(c, sessions.open(principal, () => deps.principalOf(presented) !== null));
  });
  // The one-time link `warren up` prints: the code is spent here and the redirect takes it out of the address bar.
  app.get('/login/:code', (c) => {
    const session = sessions.redeem(c.req.param('code'));
    if (!session) return loginForm(c, 403, 'this login link was used already or has expired; log in with a token');
    return startSession(c, session);
  });
  app.post('/logout', async (c) => {
    const session = sessions.fromCookie(c.req.header('cookie'));
    const form = await formOf(c);
    if (session && !csrfMatches(session.csrf, form.csrf)) return send(c, pages.errorBody('CSRF token mismatch'), 403);
    if (session) sessions.close(session.id);
    return redirect(c, '/login', { 'set-cookie': cookie(c, SESSION_COOKIE, '', 0) });
  });

  app.get('/', page(() => 'Overview', () => listing, ({ under }) => pages.overviewPage({
    runs: api.activeRuns(),
    queue: api.read.queueDepth(under),
    report: api.read.tenants(under),
    denials: api.read.auditPage({ under: under ?? undefined, decision: 'deny', limit: 10 }).items,
  })));
  app.get('/tenants', page(() => 'Tenants', () => listing, ({ under }) => pages.tenantsPage(api.read.tenants(under))));

  const onTenant = (c: Context): Need => ({ kind: 'tenant', access: 'read', tenant: tenantOf(c.req.param('tenant')!) });
  const tenantView = (tenant: TenantPath, session: Session, explained?: pages.TenantView['explained']): Html => {
    const row = api.read.tenants(tenant).tenants.find((t) => t.tenant === tenant);
    if (!row || !api.registry.get(tenant)) throw new PageError(404, `no tenant ${tenant}`);
    return pages.tenantPage({
      row,
      files: api.files.read(tenant),
      secrets: api.secrets ? api.secrets.names(tenant) : null,
      runs: api.read.runs(tenant, { limit: 20 }),
      topics: api.read.topics(tenant),
      routes: api.store.routes().filter((r) => r.tenant === tenant),
      csrf: session.csrf,
      explained,
      status: statusReport(api.read.status(tenant, api.coordinatorView?.(tenant) ?? null)).text,
    });
  };
  const tenantTitle = (c: Context) => tenantOf(c.req.param('tenant')!);
  app.get('/tenants/:tenant', page(tenantTitle, onTenant, ({ c, session }) => tenantView(tenantOf(c.req.param('tenant')!), session)));
  app.post('/tenants/:tenant/explain', page(tenantTitle, onTenant, ({ c, session, form }) => {
    const tenant = tenantOf(c.req.param('tenant')!);
    const tool = (form!.tool ?? '').trim().slice(0, 200);
    const argsText = form!.args?.trim() || '{}';
    let result: NonNullable<pages.TenantView['explained']>['result'];
    let args: unknown;
    try {
      args = JSON.parse(argsText);
    } catch {
      args = undefined;
    }
    if (!tool) result = { error: 'name a tool' };
    else if (typeof args !== 'object' || args === null || Array.isArray(args)) result = { error: 'arguments must be a JSON object' };
    else result = api.read.explain(tenant, tool, args as Record<string, unknown>);
    return tenantView(tenant, session, { tool, args: argsText, result });
  }, 'post'));
  app.get('/tenants/:tenant/conversation', page(tenantTitle, onTenant, ({ c }) => {
    const tenant = tenantOf(c.req.param('tenant')!);
    const topic = (c.req.query('topic') ?? '').slice(0, 200);
    return html`<h2>${topic}</h2>${pages.conversationPage(tenant, api.read.inbox(tenant, { topic, limit: 100 }))}`;
  }));
  app.get('/tenants/:tenant/runs/:run', page((c) => `run ${c.req.param('run')}`, onTenant, ({ c }) => {
    const tenant = tenantOf(c.req.param('tenant')!);
    const run = c.req.param('run')!.slice(0, 100);
    const turn = api.read.turn(tenant, run);
    const live = api.liveOutput?.store.state(run)?.tenant === tenant;
    if (!turn && !live) throw new PageError(404, `no run ${run} of ${tenant}`);
    return pages.runPage({ tenant, turn, run, live });
  }));

  app.get('/audit', page(() => 'Audit', (c) => {
    const t = c.req.query('tenant')?.trim();
    return { ...listing, tenant: t ? tenantOf(t.replaceAll('/', '.')) : null } as Need;
  }, ({ c, under }) => {
    const q = c.req.query();
    const decision = ['allow', 'deny', 'unknown', 'invalid'].includes(q.decision ?? '') ? (q.decision as 'deny') : undefined;
    const before = /^\d{1,15}$/.test(q.before ?? '') ? Number(q.before) : undefined;
    const tool = q.tool?.trim().slice(0, 200) || undefined;
    const filter = { tenant: q.tenant?.trim() || undefined, tool, decision };
    return pages.auditPage({ filter, page: api.read.auditPage({ under: under ?? undefined, tool, decision, before, limit: 50 }) });
  }));
  app.get('/egress', page(() => 'Egress decisions', () => listing, ({ under }) => pages.egressPage(api.read.egress({ under, limit: 100 }).items)));
  app.get('/workers', page(() => 'Workers', () => ({ kind: 'operator' }), () => pages.workersPage()));
  return app;
}

async function formOf(c: Context): Promise<Record<string, string>> {
  if (!/^application\/x-www-form-urlencoded\b/.test(c.req.header('content-type') ?? '')) return {};
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}
