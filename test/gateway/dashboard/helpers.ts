// The dashboard on the gateway's real HTTP server (a real gated, warren.db and secrets store, see
// test/helpers/http-api.ts), mounted exactly as `warren up` mounts it, plus a tree with hostile tenant content.
import type { Server } from 'node:http';
import { migrate } from '../../../core/db.js';
import { silentLogger } from '../../../core/log.js';
import { EGRESS_MIGRATIONS, EgressLog } from '../../../crackbox/egress-log.js';
import { createHttpApi, listen } from '../../../gateway/http.js';
import { withDashboard } from '../../../gateway/dashboard/routes.js';
import { DashboardSessions } from '../../../gateway/dashboard/sessions.js';
import { startApi, type ApiFixture } from '../../helpers/http-api.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

/** Strings that would run, load or evaluate something if any page interpolated them as HTML or a template. */
export const HOSTILE = `<script>alert(1)</script> "><img src=x onerror=alert(2)> {{7*7}} \${7*7} '; --`;

export interface DashboardFixture {
  tree: TempTree;
  api: ApiFixture;
  sessions: DashboardSessions;
  url: string;
  /** Cuts every open connection (a network blip): EventSource reconnects with Last-Event-ID. */
  dropConnections(): void;
  stop(): Promise<void>;
}

export async function startDashboard(): Promise<DashboardFixture> {
  const tree = standardTree();
  tree.write('acme/support/PERSONA.md', `---\nname: support\n---\nSupport team. ${HOSTILE}\n`);
  tree.write('acme/support/skills/refunds/SKILL.md', '---\nname: refunds\ndescription: how to refund\n---\nSteps.\n');
  tree.write('globex/grants', `this is not a rule <b id="grants-markup">${HOSTILE}</b>\n`);
  const api = await startApi(tree);
  // Hostile rows in the audit log and the egress log, as gated and crackbox would have written them.
  await api.gated.audit.record({ tenant: 'globex', run: null, tool: `tool${HOSTILE}`, decision: 'deny', rule: null, durationUs: 1, outcome: 'denied', args: { [HOSTILE]: 1 }, reason: `no ${HOSTILE}` });
  await api.gated.audit.record({ tenant: 'acme/support', run: null, tool: 'send_message', decision: 'deny', rule: null, durationUs: 1, outcome: 'denied', args: { to: 'x' }, reason: 'no grant for send_message' });
  await api.gated.audit.flush();
  migrate(api.db, EGRESS_MIGRATIONS);
  const egress = new EgressLog(api.db, { now: () => Date.parse('2026-12-01T12:00:00Z'), log: silentLogger() });
  egress.record({ tenant: 'globex', kind: 'dns', name: `evil.example`, port: null, allowed: false, rule: 'default deny', reason: `not allowed ${HOSTILE}`, time: Date.parse('2026-12-01T12:00:00Z') });
  egress.record({ tenant: 'acme/support', kind: 'connect', name: 'api.example.com', port: 443, allowed: true, rule: 'allowlist:1', reason: 'listed', time: Date.parse('2026-12-01T12:00:01Z') });
  egress.close();
  const sessions = new DashboardSessions();
  const server: Server = createHttpApi(withDashboard(api.deps, sessions));
  const address = await listen(server, '127.0.0.1', 0);
  return {
    tree,
    api,
    sessions,
    url: `http://127.0.0.1:${address.port}`,
    dropConnections: () => server.closeAllConnections(),
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await api.stop();
      tree.cleanup();
    },
  };
}

/** Logs in with a token the way the login form does (pre-login cookie and its CSRF value); the session cookie. */
export async function loginByHand(url: string, token: string): Promise<{ status: number; cookie: string | null; csrf: string | null }> {
  const form = await fetch(`${url}/login`);
  const loginCookie = form.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${url}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, token }),
  });
  const cookie = res.status === 303 ? res.headers.get('set-cookie')!.split(';')[0]! : null;
  const page = cookie ? await (await fetch(`${url}/`, { headers: { cookie } })).text() : '';
  return { status: res.status, cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? null };
}
