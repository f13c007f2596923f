// Every `warren` subcommand: its one-line summary and where its code lives (loaded only when run).
import type { Command } from '../core/command.js';

export interface CommandEntry {
  summary: string;
  load(): Promise<Command>;
}

const lazy = (summary: string, load: () => Promise<{ default: Command }>): CommandEntry => ({
  summary,
  load: async () => (await load()).default,
});

export const COMMANDS: Record<string, CommandEntry> = {
  up: lazy('run gated and the gateway together (the main job)', () => import('./up.js')),
  send: lazy('send a message to a tenant', () => import('../gateway/cli/send.js')),
  chat: lazy('chat with a tenant in the terminal (needs warren up)', () => import('../gateway/cli/chat.js')),
  users: lazy('classroom users and roles: list, pairing codes, remove', () => import('../gateway/cli/users.js')),
  messages: lazy("read a tenant's replies and messages", () => import('../gateway/cli/messages.js')),
  channels: lazy("list each world's channel adapters, their state, wired chats and delivery errors; set a world's credentials (token)", () => import('../gateway/cli/channels.js')),
  routes: lazy('list the chats wired to tenants (PERSONA.md channels and set_route routes)', () => import('../gateway/cli/routes.js')),
  approvals: lazy('list, approve or deny unknown senders waiting to reach an agent', () => import('../gateway/cli/approvals.js')),
  hooks: lazy('issue, list and revoke webhook tokens', () => import('../gateway/cli/hooks.js')),
  chatlinks: lazy('issue, list and revoke web chat links', () => import('../gateway/cli/chatlinks.js')),
  nodes: lazy('list the cluster nodes: state, availability, role, running turns, labels (this host, on local Docker)', () => import('../gateway/cli/nodes.js')),
  runs: lazy('list turns (runs): id, tenant, topic, node, state, age; filter by tenant and state', () => import('../gateway/cli/runs.js')),
  describe: lazy('show one node or one run (with its output) in full', () => import('../gateway/cli/describe.js')),
  cluster: lazy('the cluster at a glance: nodes ready / not ready, turns running / completed / failed, per node', () => import('../gateway/cli/cluster.js')),
  tenants: lazy('list tenants, their tiers and any configuration errors', () => import('../gated/cli/tenants.js')),
  grants: lazy('show tier defaults or explain a grant decision', () => import('../gated/cli/grants.js')),
  audit: lazy('read the audit log of tool calls', () => import('../gated/cli/audit.js')),
  vhosts: lazy("list, set and remove the web listener's virtual hosts (host name -> tenant web/)", () => import('../gated/cli/vhosts.js')),
  tokens: lazy('issue, list and revoke scoped API tokens', () => import('../gateway/cli/tokens.js')),
  secrets: lazy('manage sealed per-tenant secrets', () => import('../core/secrets/cli.js')),
  egress: lazy("read crackbox's egress log (DNS answers and proxy decisions)", () => import('../crackbox/cli/egress.js')),
  crackbox: lazy('run crackbox (egress networks, DNS, proxy, firewall) alone, or show its status', () => import('../crackbox/cli/crackbox.js')),
  gated: lazy('run the capability-gated MCP broker in the foreground', () => import('../gated/cli/gated.js')),
  connect: lazy("bridge stdio to a tenant's gated socket (what MCP clients launch)", () => import('../gated/cli/connect.js')),
  images: lazy('build the agent container image (offline by default) or show its tag', () => import('../images/cli.js')),
};
