// The HTTP API under a large tree and a large audit log: 1000 tenants and 1,000,000 audit rows, on a real gated and a
// real warren.db. p50/p99 of GET /v1/tenants and of a filtered audit page (operator and scoped token), each compared
// in the same run with the query the facade runs, called in-process (the ratio is the API's own overhead: routing,
// auth, validation, JSON, HTTP). Target: p99 <= 100 ms. `npm run bench:api`; BENCH_AUDIT_ROWS / BENCH_REQUESTS
// shrink it. The dashboard's tenants page and a filtered audit page are measured the same way (a session cookie).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log.js';
import { openWarrenDb } from '../core/warren-db.js';
import { AuditLog, type AuditDecision } from '../gated/audit.js';
import { Gated } from '../gated/broker.js';
import { withDashboard } from '../gateway/dashboard/routes.js';
import { DashboardSessions, SESSION_COOKIE } from '../gateway/dashboard/sessions.js';
import { createHttpApi, listen } from '../gateway/http.js';
import { ApiTokens } from '../gateway/http/api-tokens.js';
import { Metrics } from '../gateway/http/metrics.js';
import { GATEWAY_MIGRATIONS } from '../gateway/migrations.js';
import { OutboxView } from '../gateway/outbox-view.js';
import { ReadFacade } from '../gateway/read/facade.js';
import { TenantFiles } from '../gateway/read/tenant-files.js';

const WORLDS = 10;
const TEAMS_PER_WORLD = 99; // 10 worlds + 990 teams = 1000 tenants
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const TOOLS = ['whoami', 'send_message', 'reply', 'delegate', 'escalate', 'observe_group', 'send_file', 'create_group'];
const TOKEN = 'wop_bench';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function time(n: number, fn: () => unknown): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await fn(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'warren-bench-api-'));
  const tenantsDir = join(root, 'tenants');
  const dataDir = join(root, 'd');
  const tenants: string[] = [];
  for (let w = 0; w < WORLDS; w++) {
    tenants.push(`w${w}`);
    for (let t = 0; t < TEAMS_PER_WORLD; t++) tenants.push(`w${w}/t${t}`);
  }
  for (const t of tenants) mkdirSync(join(tenantsDir, t), { recursive: true });
  const db = openWarrenDb(dataDir, GATEWAY_MIGRATIONS);
  const gated = await Gated.start({ tenantsDir, dataDir, db, log: silentLogger(), watch: false });
  try {
    // 1,000,000 audit rows through gated's own writer, in batches.
    const audit = gated.audit;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < AUDIT_ROWS; i++) {
      const decision: AuditDecision = rnd() < 0.1 ? 'deny' : 'allow';
      void audit.record({
        time: new Date(t0 + i * 1000).toISOString(),
        tenant: tenants[Math.floor(rnd() * tenants.length)]!,
        run: null,
        tool: TOOLS[Math.floor(rnd() * TOOLS.length)]!,
        decision,
        rule: null,
        durationUs: 10,
        outcome: decision === 'allow' ? 'ok' : 'denied',
        args: { n: i },
      });
      if (i % 10_000 === 9_999) await audit.flush();
    }
    await audit.flush();

    const outbox = new OutboxView(db);
    const tokens = new ApiTokens(db);
    const read = ReadFacade.forGated(db, gated, outbox);
    const sessions = new DashboardSessions();
    const server = createHttpApi(withDashboard({
      token: TOKEN, tokens, store: gated.store, registry: gated.registry, outbox, read, files: new TenantFiles(tenantsDir),
      metrics: new Metrics(db, () => 0, gated.audit.db), secrets: null, log: silentLogger(), onAccepted: () => undefined, activeRuns: () => 0,
    }, sessions));
    const address = await listen(server, '127.0.0.1', 0);
    const url = `http://127.0.0.1:${address.port}`;
    const scoped = tokens.issue({ scope: 'w3', access: 'read' }).token;
    const get = async (path: string, token: string) => {
      const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    const operatorPages = `${SESSION_COOKIE}=${sessions.open({ kind: 'operator' }).id}`;
    const scopedPages = `${SESSION_COOKIE}=${sessions.open({ kind: 'scoped', id: 'bench', scope: 'w3', access: 'read' }).id}`;
    const page = async (path: string, cookie: string) => {
      const res = await fetch(url + path, { headers: { cookie } });
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      await res.arrayBuffer();
    };
    const auditFilter = { under: 'w3', decision: 'deny' as const, limit: 50 };
    const auditQuery = '/v1/audit?tenant=w3&decision=deny&limit=50';
    const rows: [string, { p50: number; p99: number }, { p50: number; p99: number }][] = [
      ['GET /v1/tenants (operator, 1000 tenants)', await time(REQUESTS, () => get('/v1/tenants', TOKEN)), await time(REQUESTS, () => JSON.stringify(read.tenants(null)))],
      ['GET /v1/tenants (token scoped to w3)', await time(REQUESTS, () => get('/v1/tenants', scoped)), await time(REQUESTS, () => JSON.stringify(read.tenants('w3')))],
      [`GET ${auditQuery}`, await time(REQUESTS, () => get(auditQuery, TOKEN)), await time(REQUESTS, () => audit.query(auditFilter))],
      [
        'same audit page, 10th page (before= cursor)',
        await time(REQUESTS, () => get(`${auditQuery}&before=${Math.floor(AUDIT_ROWS * 0.9)}`, scoped)),
        await time(REQUESTS, () => audit.query({ ...auditFilter, before: Math.floor(AUDIT_ROWS * 0.9) })),
      ],
      [
        'GET /v1/audit?tool=delegate&since=…&until=… (one day)',
        await time(REQUESTS, () => get('/v1/audit?tool=delegate&since=2026-01-05T00:00:00.000Z&until=2026-01-06T00:00:00.000Z&limit=50', TOKEN)),
        await time(REQUESTS, () => audit.query({ tool: 'delegate', since: '2026-01-05T00:00:00.000Z', until: '2026-01-06T00:00:00.000Z', limit: 50 })),
      ],
      ['dashboard GET /tenants (operator, 1000 tenants)', await time(REQUESTS, () => page('/tenants', operatorPages)), await time(REQUESTS, () => read.tenants(null))],
      [
        'dashboard GET /audit?tenant=w3&decision=deny (scoped session)',
        await time(REQUESTS, () => page('/audit?tenant=w3&decision=deny', scopedPages)),
        await time(REQUESTS, () => audit.query(auditFilter)),
      ],
      [
        'dashboard GET /audit?tool=delegate&before=… (operator, 10th page)',
        await time(REQUESTS, () => page(`/audit?tool=delegate&before=${Math.floor(AUDIT_ROWS * 0.9)}`, operatorPages)),
        await time(REQUESTS, () => audit.query({ tool: 'delegate', before: Math.floor(AUDIT_ROWS * 0.9), limit: 50 })),
      ],
    ];
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(`\n${tenants.length} tenants, ${AUDIT_ROWS} audit rows, ${REQUESTS} requests each\n\n`);
    process.stdout.write('| request | API p50 ms | API p99 ms | facade query p50 ms | facade query p99 ms | p50 ratio |\n|---|---|---|---|---|---|\n');
    for (const [name, api, raw] of rows) {
      process.stdout.write(`| ${name} | ${f(api.p50)} | ${f(api.p99)} | ${f(raw.p50)} | ${f(raw.p99)} | ${(api.p50 / raw.p50).toFixed(1)}x |\n`);
    }
    const worst = Math.max(...rows.map(([, api]) => api.p99));
    process.stdout.write(`\nworst API p99 ${f(worst)} ms (target <= 100 ms): ${worst <= 100 ? 'met' : 'NOT met'}\n`);
  } finally {
    await gated.stop();
    db.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
