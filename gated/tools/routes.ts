// Routing: which tenant a chat's messages go to. A tenant routes only within its own subtree and never takes a
// chat that is routed outside it.
import { z } from 'zod';
import { chatIdSchema } from './messaging.js';
import { canonicalTenant, requireChat } from './targets.js';
import { ROOT, isStrictDescendant, type TenantPath } from '../../core/tenant-path.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

function inSubtree(ctx: ToolContext, path: string): boolean {
  return ctx.tenant === ROOT || path === ctx.tenant || isStrictDescendant(path, ctx.tenant);
}

export const setRoute = defineTool({
  name: 'set_route',
  description: 'Route a chat to your group or a descendant; omit `group` to remove the route.',
  input: z.object({ chat: chatIdSchema(), group: z.string().min(1).max(1024).optional() }).strict(),
  guard(ctx, { group }) {
    if (group === undefined) return null;
    const path = canonicalTenant(group);
    return path && inSubtree(ctx, path) ? null : `you can only route to your own group or a descendant, not "${group}"`;
  },
  handler(ctx, { chat, group }) {
    const canonical = requireChat(chat);
    const existing = ctx.store.route(canonical);
    if (existing && !inSubtree(ctx, existing.tenant)) {
      throw new ToolError(`${canonical} is routed to ${existing.tenant}, outside your subtree; ask its owner`);
    }
    if (group === undefined) {
      const removed = ctx.store.deleteRoute(canonical);
      return { text: removed ? `removed route for ${canonical}` : `${canonical} had no route` };
    }
    const target = canonicalTenant(group) as TenantPath;
    if (!ctx.registry.get(target)) throw new ToolError(`tenant ${target} does not exist`);
    ctx.store.setRoute(canonical, target, ctx.tenant);
    return { text: `${canonical} -> ${target}`, data: { chat: canonical, group: target } };
  },
});

export const listRoutes = defineTool({
  name: 'list_routes',
  description: 'List the routes that lead into your subtree.',
  input: z.object({}).strict(),
  handler(ctx) {
    const routes = ctx.store.routes().filter((r) => inSubtree(ctx, r.tenant));
    return { text: JSON.stringify(routes), data: { routes } };
  },
});

export const routeTools = [setRoute, listRoutes];
