// Every route of the HTTP API with every kind of principal: the operator token, a scoped read token, a scoped write
// token, another world's token, no token, a revoked token and an expired one. The routes come from the server's own
// route table, so a new route without a sample request here fails the test rather than going unchecked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, type Need, type Principal } from '../../../gateway/http/principals.js';
import type { Route } from '../../../gateway/http/route.js';
import { OPERATOR_TOKEN, startApi, type ApiFixture } from '../../helpers/http-api.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

interface Sample {
  path: string;
  body?: unknown;
  /** Puts the state the request needs in place (called before every request). */
  before?(api: ApiFixture): void;
}

/** One request per route, all of them on acme/support (inside the acme tokens' scope, outside globex's). */
const SAMPLES: Record<string, Sample> = {
  'GET /v1/health': { path: '/v1/health' },
  'GET /v1/openapi.json': { path: '/v1/openapi.json' },
  'GET /metrics': { path: '/metrics' },
  'POST /v1/messages': { path: '/v1/messages', body: { tenant: 'acme/support', text: 'hello' } },
  'GET /v1/messages': { path: '/v1/messages?tenant=acme/support' },
  'GET /v1/stream': { path: '/v1/stream?tenant=acme/support' },
  'GET /v1/tenants': { path: '/v1/tenants' },
  'GET /v1/tenants/:tenant': { path: '/v1/tenants/acme.support' },
  'PUT /v1/tenants/:tenant/files/:file': {
    path: '/v1/tenants/acme.support/files/persona',
    body: { text: '---\nname: support\n---\nSupport team.\n' },
  },
  'POST /v1/tenants/:tenant/explain': { path: '/v1/tenants/acme.support/explain', body: { tool: 'whoami', args: {} } },
  'GET /v1/audit': { path: '/v1/audit?tenant=acme/support' },
  'GET /v1/egress': { path: '/v1/egress?tenant=acme/support' },
  'GET /v1/tenants/:tenant/runs': { path: '/v1/tenants/acme.support/runs' },
  'GET /v1/tenants/:tenant/runs/:run': {
    path: '/v1/tenants/acme.support/runs/run-matrix',
    before: (api) => {
      api.db.prepare(`INSERT OR IGNORE INTO runs (id, instance, tenant, topic, status, attempt, depth, started_at)
        VALUES ('run-matrix', 'test', 'acme/support', 'main', 'done', 1, 0, '2026-01-01T00:00:00.000Z')`).run();
    },
  },
  'GET /v1/tenants/:tenant/runs/:run/output': {
    path: '/v1/tenants/acme.support/runs/run-matrix/output',
    before: (api) => {
      if (!api.live.store.state('run-matrix')) api.live.store.begin('run-matrix', 'acme/support');
    },
  },
  'GET /v1/tenants/:tenant/status': { path: '/v1/tenants/acme.support/status' },
  'GET /v1/tenants/:tenant/topics': { path: '/v1/tenants/acme.support/topics' },
  'GET /v1/tenants/:tenant/inbox': { path: '/v1/tenants/acme.support/inbox' },
  'GET /v1/tenants/:tenant/outbox': { path: '/v1/tenants/acme.support/outbox' },
  'GET /v1/tenants/:tenant/secrets': { path: '/v1/tenants/acme.support/secrets' },
  'PUT /v1/tenants/:tenant/secrets/:name': { path: '/v1/tenants/acme.support/secrets/API_KEY', body: { value: 's3cret' } },
  'DELETE /v1/tenants/:tenant/secrets/:name': {
    path: '/v1/tenants/acme.support/secrets/API_KEY',
    before: (api) => api.deps.secrets!.set('acme/support', 'API_KEY', 's3cret'),
  },
  'GET /v1/workers': { path: '/v1/workers' },
  'GET /v1/channels': { path: '/v1/channels' },
};

type Kind = 'operator' | 'scoped read' | 'scoped write' | 'another world' | 'no token' | 'revoked' | 'expired';
const KINDS: Kind[] = ['operator', 'scoped read', 'scoped write', 'another world', 'no token', 'revoked', 'expired'];

/** What each principal should get, written out from the rules rather than computed by the code under test. */
function expected(kind: Kind, need: Need, success: number): number {
  if (need.kind === 'public') return success;
  if (kind === 'no token' || kind === 'revoked' || kind === 'expired') return 401;
  if (kind === 'operator') return success;
  if (need.kind === 'operator') return 403;
  if (kind === 'scoped read' && need.access === 'write') return 403;
  if (kind === 'another world') return need.tenant === null ? success : 403;
  return success;
}

describe('the authorisation matrix', () => {
  let tree: TempTree;
  let api: ApiFixture;
  const tokens = {} as Record<Kind, string | null>;

  beforeAll(async () => {
    tree = standardTree();
    api = await startApi(tree);
    tokens.operator = OPERATOR_TOKEN;
    tokens['scoped read'] = api.tokens.issue({ scope: 'acme', access: 'read' }).token;
    tokens['scoped write'] = api.tokens.issue({ scope: 'acme', access: 'write' }).token;
    tokens['another world'] = api.tokens.issue({ scope: 'globex', access: 'write' }).token;
    tokens['no token'] = null;
    const revoked = api.tokens.issue({ scope: 'acme', access: 'write' });
    api.tokens.revoke(revoked.row.id);
    tokens.revoked = revoked.token;
    tokens.expired = api.tokens.issue({ scope: 'acme', access: 'write', ttlMs: 60_000, now: new Date(Date.now() - 120_000) }).token;
  });
  afterAll(async () => {
    await api?.stop();
    tree?.cleanup();
  });

  it('has a sample request for every route the server serves, and no sample for a route it does not', () => {
    const served = api.routes.map((r) => `${r.method} ${r.path}`).sort();
    expect(Object.keys(SAMPLES).sort()).toEqual(served);
  });

  it('answers every route for every principal as the rules say', async () => {
    const outcomes: string[] = [];
    const wanted: string[] = [];
    for (const route of api.routes as Route[]) {
      const key = `${route.method} ${route.path}`;
      const sample = SAMPLES[key]!;
      // The need of the sample request (every sample is on acme/support, or on no tenant for listings).
      const need = route.need({ params: { tenant: 'acme/support' }, query: { tenant: 'acme/support' }, body: { tenant: 'acme/support' } } as never);
      for (const kind of KINDS) {
        sample.before?.(api);
        const headers: Record<string, string> = {};
        if (tokens[kind]) headers.authorization = `Bearer ${tokens[kind]}`;
        if (sample.body !== undefined) headers['content-type'] = 'application/json';
        const abort = new AbortController();
        const res = await fetch(api.url + sample.path, {
          method: route.method,
          headers,
          body: sample.body === undefined ? undefined : JSON.stringify(sample.body),
          signal: abort.signal,
        });
        abort.abort(); // the SSE route never ends on its own
        outcomes.push(`${key} as ${kind}: ${res.status}`);
        wanted.push(`${key} as ${kind}: ${expected(kind, need, route.status ?? 200)}`);
      }
    }
    expect(outcomes).toEqual(wanted);
  });

  it("cuts a listing to a scoped token's subtree", async () => {
    const get = async (path: string, token: string) =>
      (await (await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
    const mine = await get('/v1/tenants', tokens['another world']!);
    expect(mine.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(['globex']);
    const acme = await get('/v1/tenants', tokens['scoped read']!);
    expect(acme.tenants.map((t: { tenant: string }) => t.tenant).sort()).toEqual(['acme', 'acme/support', 'acme/support/triage']);
    const all = await get('/v1/tenants', OPERATOR_TOKEN);
    expect(all.tenants.map((t: { tenant: string }) => t.tenant)).toContain('root');
    // Asking for another world's rows by name is refused, not silently emptied.
    const res = await fetch(api.url + '/v1/audit?tenant=acme', { headers: { authorization: `Bearer ${tokens['another world']}` } });
    expect(res.status).toBe(403);
  });
});

describe('authorize (the decision, by table)', () => {
  const op: Principal = { kind: 'operator' };
  const read: Principal = { kind: 'scoped', id: 't1', scope: 'acme', access: 'read' };
  const write: Principal = { kind: 'scoped', id: 't2', scope: 'acme', access: 'write' };
  it.each([
    ['anyone on a public route', null, { kind: 'public' }, { ok: true, under: null }],
    ['nobody on a tenant route', null, { kind: 'tenant', access: 'read', tenant: 'acme' }, { ok: false, status: 401 }],
    ['the operator on an operator route', op, { kind: 'operator' }, { ok: true, under: null }],
    ['a scoped token on an operator route', write, { kind: 'operator' }, { ok: false, status: 403 }],
    ['a read token writing', read, { kind: 'tenant', access: 'write', tenant: 'acme' }, { ok: false, status: 403 }],
    ['a token below its scope', read, { kind: 'tenant', access: 'read', tenant: 'acme/support' }, { ok: true, under: 'acme/support' }],
    ['a token on a sibling named like its scope', write, { kind: 'tenant', access: 'read', tenant: 'acme-evil' }, { ok: false, status: 403 }],
    ['a token above its scope', write, { kind: 'tenant', access: 'read', tenant: 'root' }, { ok: false, status: 403 }],
    ['a token on a listing', read, { kind: 'tenant', access: 'read', tenant: null, listing: true }, { ok: true, under: 'acme' }],
    ['a token on a tree-wide non-listing', read, { kind: 'tenant', access: 'read', tenant: null }, { ok: false, status: 403 }],
  ] as [string, Principal | null, Need, object][])('%s', (_name, principal, need, want) => {
    expect(authorize(principal, need)).toMatchObject(want);
  });
});
