// Virtual hosts of the web listener: which tenant's web/ a host name serves (docs/web.md). Setting and removing one
// is root's (tier 0): a host name is shared ground between worlds, and the grants file cannot hand it on — the guard
// refuses any other caller even if a rule allows the call. Listing shows the caller its own subtree's hosts.
import { z } from 'zod';
import { ROOT, isStrictDescendant } from '../../core/tenant-path.js';
import { canonicalTenant } from './targets.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

/** Why a host name cannot be a vhost, or null. An IP address is refused: it would shadow the /t/ prefix form. */
export function vhostNameProblem(host: string): string | null {
  if (host.length > 253) return 'a host name is at most 253 characters';
  const labels = host.split('.');
  if (labels.length < 2) return 'a host name has at least two labels, like "reports.acme.example"';
  for (const label of labels) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) return `"${label}" is not a host name label (a-z, 0-9, "-")`;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'an IP address is not a virtual host';
  return null;
}

/** A host name as stored: lowercase, without a trailing dot. */
export function canonicalHost(raw: string): string {
  return raw.trim().toLowerCase().replace(/\.$/, '');
}

const hostSchema = z.string().min(1).max(254);

function rootOnly(ctx: ToolContext): string | null {
  return ctx.tenant === ROOT ? null : 'only root (tier 0) manages virtual hosts';
}

function requireHost(raw: string): string {
  const host = canonicalHost(raw);
  const problem = vhostNameProblem(host);
  if (problem) throw new ToolError(`${JSON.stringify(raw)}: ${problem}`);
  return host;
}

export const setVhost = defineTool({
  name: 'set_vhost',
  description: "Serve a group's web/ (PERSONA.md web: true) at a host name on the web listener; replaces an existing mapping.",
  input: z.object({ host: hostSchema, group: z.string().min(1).max(1024) }).strict(),
  guard: (ctx) => rootOnly(ctx),
  handler(ctx, { host, group }) {
    const canonical = requireHost(host);
    const tenant = canonicalTenant(group);
    if (!tenant || !ctx.registry.get(tenant)) throw new ToolError(`tenant ${group} does not exist`);
    ctx.store.setVhost(canonical, tenant, ctx.tenant);
    const publishes = ctx.registry.get(tenant)?.config?.persona.frontmatter.web === true;
    return {
      text: `${canonical} -> ${tenant}${publishes ? '' : ` (not served until ${tenant}'s PERSONA.md says web: true)`}`,
      data: { host: canonical, group: tenant, publishes },
    };
  },
});

export const removeVhost = defineTool({
  name: 'remove_vhost',
  description: 'Stop serving a host name on the web listener.',
  input: z.object({ host: hostSchema }).strict(),
  guard: (ctx) => rootOnly(ctx),
  handler(ctx, { host }) {
    const canonical = requireHost(host);
    const removed = ctx.store.deleteVhost(canonical);
    return { text: removed ? `removed ${canonical}` : `${canonical} was not mapped`, data: { host: canonical, removed } };
  },
});

export const listVhosts = defineTool({
  name: 'list_vhosts',
  description: 'List the virtual hosts that serve your group or its descendants.',
  input: z.object({}).strict(),
  handler(ctx) {
    const vhosts = ctx.store
      .vhosts()
      .filter((v) => ctx.tenant === ROOT || v.tenant === ctx.tenant || isStrictDescendant(v.tenant, ctx.tenant));
    return { text: JSON.stringify(vhosts), data: { vhosts } };
  },
});

export const vhostTools = [setVhost, removeVhost, listVhosts];
