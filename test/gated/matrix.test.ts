// The authorization matrix: every tool, called over real sockets with the SDK's real client, by a tier-0, a tier-1
// and a tier-2 tenant, with the outcome the tier defaults and structural guards prescribe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { silentLogger } from '../../core/log.js';
import { ALL_TOOLS } from '../../core/grants/defaults.js';
import { Gated } from '../../gated/broker.js';
import { TOOLS } from '../../gated/tools/index.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree, type TempTree } from '../helpers/tree.js';

type Tenant = 'root' | 'acme' | 'acme/support';
type Expect = 'allow' | 'deny';

interface Case {
  tool: string;
  args: (t: Tenant) => Record<string, unknown>;
  expect: Record<Tenant, Expect>;
}

const child: Record<Tenant, string> = { root: 'acme', acme: 'acme/support', 'acme/support': 'acme/support/triage' };
const all = (e: Expect): Record<Tenant, Expect> => ({ root: e, acme: e, 'acme/support': e });
const worldsOnly: Record<Tenant, Expect> = { root: 'allow', acme: 'allow', 'acme/support': 'deny' };

const cases: Case[] = [
  { tool: 'send_message', args: () => ({ chat: 'tg:999', text: 'hello' }), expect: worldsOnly },
  { tool: 'send_message', args: () => ({ chat: 'TG:100 ', text: 'to a routed chat' }), expect: all('allow') },
  { tool: 'reply', args: () => ({ text: 'hi back' }), expect: all('allow') },
  { tool: 'like', args: () => ({ message_id: -1 }), expect: all('allow') }, // id filled in per tenant
  { tool: 'send_file', args: () => ({ path: 'report.txt', chat: 'tg:100' }), expect: all('allow') },
  { tool: 'delegate_group', args: (t) => ({ group: child[t], prompt: 'do this' }), expect: worldsOnly },
  { tool: 'escalate_group', args: () => ({ prompt: 'help' }), expect: { root: 'deny', acme: 'allow', 'acme/support': 'allow' } },
  { tool: 'observe_group', args: (t) => ({ source: child[t] }), expect: all('allow') },
  { tool: 'read_observed', args: () => ({}), expect: all('allow') },
  { tool: 'unobserve_group', args: (t) => ({ source: child[t] }), expect: all('allow') },
  { tool: 'fork_topic', args: () => ({ parent: 'main', child: 'side' }), expect: worldsOnly },
  { tool: 'create_group', args: () => ({ name: 'fresh' }), expect: { root: 'deny', acme: 'allow', 'acme/support': 'deny' } },
  { tool: 'set_route', args: (t) => ({ chat: `tg:${t.length}`, group: t }), expect: worldsOnly },
  { tool: 'list_routes', args: () => ({}), expect: worldsOnly },
  { tool: 'issue_token', args: (t) => ({ kind: 'invite', target: t, ttl: 3600 }), expect: worldsOnly },
  { tool: 'list_tokens', args: () => ({}), expect: worldsOnly },
  { tool: 'revoke_token', args: () => ({ id: 'tok_none' }), expect: worldsOnly },
  { tool: 'grant', args: (t) => ({ group: child[t], rule: 'like' }), expect: worldsOnly },
  { tool: 'revoke', args: (t) => ({ group: child[t], rule: 'like' }), expect: worldsOnly },
  { tool: 'whoami', args: () => ({}), expect: all('allow') },
  { tool: 'list_groups', args: () => ({}), expect: worldsOnly },
  { tool: 'list_workers', args: () => ({}), expect: all('allow') },
  { tool: 'cancel_worker', args: () => ({ worker: 'w-000000000000' }), expect: all('allow') },
  // Tier 2 lacks spawn_worker; everyone else meets its guard on a socket without a run (a worker needs a turn).
  { tool: 'spawn_worker', args: () => ({ brief: 'build it' }), expect: all('deny') },
  // Structural guards hold whatever the rules say.
  { tool: 'delegate_group', args: () => ({ group: 'globex', prompt: 'not mine' }), expect: { root: 'allow', acme: 'deny', 'acme/support': 'deny' } },
  { tool: 'grant', args: (t) => ({ group: t, rule: 'like' }), expect: all('deny') },
  { tool: 'observe_group', args: () => ({ source: 'globex' }), expect: { root: 'allow', acme: 'deny', 'acme/support': 'deny' } },
];

describe('authorization matrix over real sockets', () => {
  let tree: TempTree;
  let gated: Gated;
  const clients = new Map<Tenant, Client>();
  const seeded = new Map<Tenant, number>();

  beforeAll(async () => {
    tree = standardTree();
    for (const t of ['root', 'acme', 'acme/support'] as Tenant[]) tree.write(`${t}/home/report.txt`, 'numbers');
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    gated.store.setRoute('tg:100', 'acme/support', 'acme');
    for (const t of ['root', 'acme', 'acme/support'] as Tenant[]) {
      seeded.set(t, gated.store.addMessage({ tenant: t, kind: 'chat', chat: 'tg:100', sender: 'ann', text: 'hi' }));
      clients.set(t, await connectClient(gated.socketPath(t)));
    }
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await gated.stop();
    tree.cleanup();
  });

  it('serves exactly the tools the grant engine knows', () => {
    expect(TOOLS.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
  });

  for (const c of cases) {
    for (const tenant of ['root', 'acme', 'acme/support'] as Tenant[]) {
      const expected = c.expect[tenant];
      const args = c.args(tenant);
      it(`${tenant} (tier ${tenant === 'root' ? 0 : tenant.includes('/') ? 2 : 1}) ${c.tool}(${JSON.stringify(args)}) -> ${expected}`, async () => {
        if (c.tool === 'like') args.message_id = seeded.get(tenant);
        const result = await clients.get(tenant)!.callTool({ name: c.tool, arguments: args });
        const text = textOf(result);
        if (expected === 'deny') {
          expect(result.isError).toBe(true);
          expect(text).toMatch(/^denied: /);
        } else {
          expect(text).not.toMatch(/^denied: /);
        }
        const [row] = gated.audit.query({ tenant, limit: 1 });
        expect(row?.tool).toBe(c.tool);
        expect(row?.decision).toBe(expected === 'deny' ? 'deny' : 'allow');
      });
    }
  }

  it('lists only the tools a tier-2 tenant may call, each ending with the rules that apply', async () => {
    const { tools } = await clients.get('acme/support')!.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['cancel_worker', 'escalate_group', 'like', 'list_workers', 'observe_group', 'read_observed', 'reply', 'send_file', 'send_message', 'unobserve_group', 'whoami'].sort(),
    );
    const send = tools.find((t) => t.name === 'send_message')!;
    expect(send.description).toMatch(/Rules that apply: .*\$routed/);
  });

  it('lists every tool for root', async () => {
    const { tools } = await clients.get('root')!.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...ALL_TOOLS].sort());
  });

  it('tells a denied agent which rule decided and what to do', async () => {
    const result = await clients.get('acme/support')!.callTool({ name: 'create_group', arguments: { name: 'x' } });
    expect(textOf(result)).toMatch(/create_group/);
    expect(textOf(result)).toMatch(/escalate_group/);
  });
});
