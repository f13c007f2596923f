// The HTTP API's resources on a real gated, a real warren.db and a real secrets store: what each route answers, that
// file edits are validated and atomic, that hostile strings come back as data, the OpenAPI document and /metrics.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../core/db.js';
import { silentLogger } from '../../../core/log.js';
import { EGRESS_MIGRATIONS, EgressLog } from '../../../crackbox/egress-log.js';
import { RunStore } from '../../../gateway/run-store.js';
import { MAX_BODY_BYTES } from '../../../gateway/http.js';
import { renderApiDocs } from '../../../gateway/http/api-docs.js';
import { openApiPath } from '../../../gateway/http/openapi.js';
import { OPERATOR_TOKEN, startApi, type ApiFixture } from '../../helpers/http-api.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

const HOSTILE = `<script>alert("x")</script> '; DROP TABLE audit; -- \u0000\u202e ${'🦀'} \\"}{`;

let tree: TempTree;
let api: ApiFixture;
let readAcme: string;

async function call(method: string, path: string, opts: { body?: unknown; token?: string | null; raw?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? OPERATOR_TOKEN : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(api.url + path, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
}

beforeAll(async () => {
  tree = standardTree();
  tree.write('acme/support/skills/refunds/SKILL.md', '---\nname: refunds\ndescription: how to refund\n---\nSteps.\n');
  api = await startApi(tree);
  readAcme = api.tokens.issue({ scope: 'acme', access: 'read' }).token;
});
afterAll(async () => {
  await api?.stop();
  tree?.cleanup();
});

describe('messages, outbox and conversations', () => {
  it('stores a message with hostile text and gives it back byte for byte', async () => {
    const sent = await call('POST', '/v1/messages', { body: { tenant: 'acme/support', text: HOSTILE, sender: 'ann' } });
    expect(sent.status).toBe(202);
    const inbox = await call('GET', '/v1/tenants/acme.support/inbox');
    expect(inbox.json.items[0]).toMatchObject({ id: sent.json.id, text: HOSTILE, sender: 'ann' });
  });

  it('refuses an invalid message with the reason (422) and a message to a tenant outside the tree (422)', async () => {
    expect((await call('POST', '/v1/messages', { body: { tenant: 'acme', text: '' } })).status).toBe(422);
    const nobody = await call('POST', '/v1/messages', { body: { tenant: 'acme/nobody', text: 'hi' } });
    expect(nobody.status).toBe(422);
    expect(nobody.json.error).toMatch(/no tenant acme\/nobody/);
  });

  it('pages the outbox with next_after, shows delivery state, and lists runs and topics', async () => {
    const runs = new RunStore(api.db, 'test', api.gated.store);
    api.gated.store.createTopic('acme', 'main', null, null);
    api.gated.store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'message', chat: 'tg:ann', text: HOSTILE, run: null });
    const page = await call('GET', '/v1/messages?tenant=acme');
    expect(page.json.messages.map((m: { text: string }) => m.text)).toEqual([HOSTILE]);
    expect(page.json.next_after).toBe(page.json.messages[0].id);
    expect((await call('GET', `/v1/messages?tenant=acme&after=${page.json.next_after}`)).json.messages).toEqual([]);
    const outbox = await call('GET', '/v1/tenants/acme/outbox');
    expect(outbox.json.items[0]).toMatchObject({ kind: 'message', chat: 'tg:ann', delivered_at: null });
    api.gated.store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'tg:ann', sender: 'ann', text: 'go' });
    const started = runs.tryStart('acme', 'main', 4)!;
    const listed = await call('GET', '/v1/tenants/acme/runs');
    expect(listed.json.items.map((r: { id: string }) => r.id)).toEqual([started.id]);
    const turn = await call('GET', `/v1/tenants/acme/runs/${started.id}`);
    expect(turn.json.run).toMatchObject({ id: started.id, tenant: 'acme', status: 'running' });
    expect(turn.json.messages.map((m: { text: string }) => m.text)).toEqual(['go']);
    expect((await call('GET', `/v1/tenants/globex/runs/${started.id}`)).status).toBe(404); // another tenant's run
    expect((await call('GET', '/v1/tenants/acme/topics')).json.items.map((t: { topic: string }) => t.topic)).toEqual(['main']);
  });

  it('streams new outbox rows as server-sent events with their ids', async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.url}/v1/stream?tenant=globex`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const id = api.gated.store.addOutbox({ tenant: 'globex', topic: 'main', kind: 'message', chat: 'tg:bo', text: 'live', run: null });
    const reader = res.body!.getReader();
    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes('"live"') && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    expect(text).toContain(`id: ${id}\n`);
    expect(text).toContain('"text":"live"');
  });
});

describe('tenants and their files', () => {
  it('lists the tree with tier and status, as warren tenants does', async () => {
    const res = await call('GET', '/v1/tenants');
    expect(res.json).toEqual(JSON.parse(JSON.stringify(api.gated.describeTenants())));
    expect(res.json.tenants.find((t: { tenant: string }) => t.tenant === 'acme/support')).toMatchObject({ tier: 2, status: 'ok' });
  });

  it("shows a tenant's persona, grants, allowlist and skills", async () => {
    const res = await call('GET', '/v1/tenants/acme.support');
    expect(res.json).toMatchObject({ tenant: 'acme/support', tier: 2, files: { persona: '---\nname: support\n---\nSupport team.\n', grants: null, skills: ['refunds'] } });
    expect((await call('GET', '/v1/tenants/acme.nobody')).status).toBe(404);
    expect((await call('GET', '/v1/tenants/ACME')).status).toBe(400);
  });

  it('refuses a bad grants edit with file:line and leaves the file and the folder as they were', async () => {
    const file = tree.write('acme/grants', 'allow whoami\n');
    const before = readdirSync(join(tree.tenants, 'acme')).sort();
    const res = await call('PUT', '/v1/tenants/acme/files/grants', { body: { text: 'allow whoami\nallow (((\n' } });
    expect(res.status).toBe(422);
    expect(res.json.problems.join('\n')).toContain(`${file}:2:`);
    expect(readFileSync(file, 'utf8')).toBe('allow whoami\n');
    expect(readdirSync(join(tree.tenants, 'acme')).sort()).toEqual(before);
  });

  it('replaces a file whole when it parses, hostile persona text included, and a read token may not', async () => {
    const persona = `---\nname: acme\n---\n${HOSTILE.replace('\u0000', '')}\n`;
    expect((await call('PUT', '/v1/tenants/acme/files/persona', { body: { text: persona }, token: readAcme })).status).toBe(403);
    expect((await call('PUT', '/v1/tenants/acme/files/persona', { body: { text: persona } })).status).toBe(200);
    expect(readFileSync(join(tree.tenants, 'acme/PERSONA.md'), 'utf8')).toBe(persona);
    expect((await call('GET', '/v1/tenants/acme')).json.files.persona).toBe(persona);
    expect(readdirSync(join(tree.tenants, 'acme')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('explains a call by the same decision gated runs', async () => {
    const res = await call('POST', '/v1/tenants/globex/explain', { body: { tool: 'create_group', args: { name: 'x' } } });
    expect(res.json).toEqual(JSON.parse(JSON.stringify(api.gated.explainCall('globex', 'create_group', { name: 'x' }))));
    expect(res.json.tool).toBe('create_group');
  });
});

describe('audit', () => {
  beforeAll(async () => {
    const rows = [
      { tenant: 'acme', tool: 'whoami', decision: 'allow', time: '2026-01-01T00:00:00.000Z' },
      { tenant: 'acme/support', tool: 'send_message', decision: 'deny', time: '2026-01-02T00:00:00.000Z' },
      { tenant: 'globex', tool: 'whoami', decision: 'deny', time: '2026-01-03T00:00:00.000Z' },
      { tenant: 'acme/support', tool: 'whoami', decision: 'allow', time: '2026-01-04T00:00:00.000Z' },
      { tenant: 'acme-evil', tool: 'whoami', decision: 'allow', time: '2026-01-05T00:00:00.000Z' },
    ] as const;
    await Promise.all(rows.map((r) => api.gated.audit.record({ ...r, run: null, rule: null, durationUs: 5, outcome: r.decision === 'allow' ? 'ok' : 'denied', args: { text: HOSTILE } })));
  });

  it('filters by subtree, tool, decision and time, newest first, and pages with before', async () => {
    const q = async (query: string) => (await call('GET', `/v1/audit?${query}`)).json;
    const acme = await q('tenant=acme');
    expect(acme.items.map((r: { tenant: string }) => r.tenant)).toEqual(['acme/support', 'acme/support', 'acme']);
    expect((await q('tool=whoami&decision=deny')).items.map((r: { tenant: string }) => r.tenant)).toEqual(['globex']);
    expect((await q('since=2026-01-02T00:00:00.000Z&until=2026-01-04T00:00:00.000Z')).items.map((r: { tenant: string }) => r.tenant)).toEqual(['globex', 'acme/support']);
    // Within a time range, pages follow time (then id), the cursor still being the last row's id.
    const ranged = await q('since=2026-01-01T00:00:00.000Z&until=2026-01-04T00:00:00.000Z&limit=2');
    expect(ranged.items.map((r: { time: string }) => r.time)).toEqual(['2026-01-03T00:00:00.000Z', '2026-01-02T00:00:00.000Z']);
    const rest = await q(`since=2026-01-01T00:00:00.000Z&until=2026-01-04T00:00:00.000Z&limit=2&before=${ranged.next_before}`);
    expect(rest.items.map((r: { time: string }) => r.time)).toEqual(['2026-01-01T00:00:00.000Z']);
    const first = await q('tenant=acme&limit=2');
    expect(first.items).toHaveLength(2);
    const second = await q(`tenant=acme&limit=2&before=${first.next_before}`);
    expect(second.items.map((r: { tenant: string }) => r.tenant)).toEqual(['acme']);
    expect(JSON.stringify([first, second])).not.toContain('DROP TABLE'); // argument values are never stored
  });

  it("cuts the audit to a scoped token's subtree when it names none", async () => {
    const res = await call('GET', '/v1/audit', { token: readAcme });
    expect(new Set(res.json.items.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(['acme', 'acme/support']));
  });

  it('refuses filters it does not know or cannot read', async () => {
    for (const query of ['decision=maybe', 'limit=0', 'limit=100000', 'before=-1', 'since=yesterday', 'tenatn=acme']) {
      const res = await call('GET', `/v1/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.problems.length, query).toBeGreaterThan(0);
    }
  });
});

describe('egress log', () => {
  it("serves crackbox's decisions by subtree, denied only on request", async () => {
    expect((await call('GET', '/v1/egress')).json).toEqual({ items: [] }); // egress never ran on this DATA
    migrate(api.db, EGRESS_MIGRATIONS);
    const log = new EgressLog(api.db, { now: () => 10, log: silentLogger() });
    for (const [tenant, allowed, time] of [['acme/support', true, 1], ['globex', false, 2], ['acme', false, 3]] as const) {
      log.record({ tenant, kind: 'dns', name: `${tenant.replace('/', '-')}.example`, port: null, allowed, rule: 'r', reason: HOSTILE, time });
    }
    log.close();
    const acme = await call('GET', '/v1/egress?tenant=acme');
    expect(acme.json.items.map((r: { tenant: string }) => r.tenant)).toEqual(['acme', 'acme/support']);
    expect(acme.json.items[0].reason).toBe(HOSTILE);
    expect((await call('GET', '/v1/egress?denied=true', { token: readAcme })).json.items.map((r: { tenant: string }) => r.tenant)).toEqual(['acme']);
  });
});

describe('secrets', () => {
  it('sets a value, lists only names, never answers with the value, and removes it', async () => {
    const value = 'sk-live-do-not-leak-1234';
    expect((await call('PUT', '/v1/tenants/acme/secrets/API_KEY', { body: { value } })).status).toBe(200);
    const listed = await call('GET', '/v1/tenants/acme/secrets');
    expect(listed.json).toEqual({ names: ['API_KEY'] });
    expect((await call('GET', '/v1/tenants/acme')).text).not.toContain(value);
    expect((await call('PUT', '/v1/tenants/acme/secrets/bad-name', { body: { value } })).status).toBe(422);
    expect((await call('DELETE', '/v1/tenants/acme/secrets/API_KEY')).status).toBe(200);
    expect((await call('GET', '/v1/tenants/acme/secrets')).json).toEqual({ names: [] });
    expect((await call('DELETE', '/v1/tenants/acme/secrets/API_KEY')).status).toBe(404);
  });
});

describe('the server', () => {
  it('serves an OpenAPI document that lists every route', async () => {
    const doc = (await call('GET', '/v1/openapi.json', { token: null })).json;
    expect(doc.openapi).toBe('3.1.0');
    for (const r of api.routes) expect(doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    expect(doc.paths['/v1/audit'].get.parameters.map((p: { name: string }) => p.name)).toContain('decision');
  });

  it('answers errors as JSON without internals', async () => {
    const cases = [
      [await call('GET', '/v1/nowhere'), 404],
      [await call('POST', '/v1/messages', { raw: '{"tenant":' }), 400],
      [await call('POST', '/v1/messages', { raw: 'tenant=acme', type: 'text/plain' }), 415],
      [await call('POST', '/v1/messages', { raw: JSON.stringify({ tenant: 'acme', text: 'x'.repeat(MAX_BODY_BYTES + 1) }) }), 413],
      [await call('GET', '/v1/tenants', { token: 'wtk_not-a-token' }), 401],
    ] as const;
    for (const [res, status] of cases) {
      expect(res.status).toBe(status);
      expect(typeof res.json.error).toBe('string');
      expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    }
  });

  it('keeps docs/api.md rendered from the current OpenAPI document (npm run docs:api)', () => {
    expect(readFileSync(join(import.meta.dirname, '../../../docs/api.md'), 'utf8')).toBe(renderApiDocs());
  });

  it('lists no workers and no channels yet', async () => {
    expect((await call('GET', '/v1/workers')).json).toEqual({ items: [] });
    expect((await call('GET', '/v1/channels')).json).toEqual({ items: [] });
  });

  it('exposes Prometheus metrics to the operator only', async () => {
    expect((await call('GET', '/metrics', { token: readAcme })).status).toBe(403);
    api.db
      .prepare(`INSERT INTO runs (id, instance, tenant, topic, status, attempt, depth, started_at, finished_at)
        VALUES ('run-metrics', 'test', 'globex', 'main', 'failed', 1, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:42.000Z')`)
      .run();
    const res = await call('GET', '/metrics');
    expect(res.text).toContain('warren_turn_duration_seconds_count{status="failed"} 1');
    expect(res.text).toContain('warren_turn_duration_seconds_bucket{le="60",status="failed"} 1');
    expect(res.text).toContain('warren_container_runs_total{status="failed"} 1');
    expect(res.type).toMatch(/text\/plain/);
    expect(res.text).toContain('warren_tool_calls_total{tenant="globex",tool="whoami",decision="deny"} 1');
    expect(res.text).toContain('warren_tool_denials_total{tenant="acme/support",tool="send_message"} 1');
    expect(res.text).toMatch(/warren_queue_depth \d+/);
    // Counted once: a second scrape adds nothing that did not happen.
    const again = (await call('GET', '/metrics')).text;
    expect(again).toContain('warren_tool_calls_total{tenant="globex",tool="whoami",decision="deny"} 1');
    expect(again).toContain('warren_container_runs_total{status="failed"} 1');
  });
});
