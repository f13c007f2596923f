// Observation: a read-only watch on a descendant's messages. Nothing here writes to the source.
import { z } from 'zod';
import { canonicalTenant } from './targets.js';
import { isStrictDescendant } from '../../core/tenant-path.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

const source = z.string().min(1).max(1024);

function observableGuard(ctx: ToolContext, raw: string): string | null {
  const path = canonicalTenant(raw);
  if (!path || !isStrictDescendant(path, ctx.tenant)) {
    return `you can only observe your descendants, and "${raw}" is not one (you are ${ctx.tenant})`;
  }
  return null;
}

export const observeGroup = defineTool({
  name: 'observe_group',
  description: "Start a read-only watch on a descendant group's messages; read them with read_observed.",
  input: z.object({ source }).strict(),
  guard: (ctx, { source }) => observableGuard(ctx, source),
  handler(ctx, { source }) {
    const path = canonicalTenant(source)!;
    if (!ctx.registry.get(path)) throw new ToolError(`tenant ${path} does not exist`);
    const added = ctx.store.observe(ctx.tenant, path);
    return { text: added ? `observing ${path}` : `already observing ${path}`, data: { source: path } };
  },
});

export const unobserveGroup = defineTool({
  name: 'unobserve_group',
  description: 'Stop watching a group.',
  input: z.object({ source }).strict(),
  handler(ctx, { source }) {
    const path = canonicalTenant(source);
    const removed = path !== null && ctx.store.unobserve(ctx.tenant, path);
    return { text: removed ? `stopped observing ${path}` : `you were not observing ${source}` };
  },
});

export const readObserved = defineTool({
  name: 'read_observed',
  description: 'Read new messages of the groups you observe (all of them, or one source).',
  input: z.object({ source: source.optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
  handler(ctx, { source, limit }) {
    const sources = source ? [canonicalTenant(source) ?? source] : ctx.store.observations(ctx.tenant).map((o) => o.source);
    const out: Record<string, { id: number; topic: string; kind: string; sender: string; text: string; at: string }[]> = {};
    for (const s of sources) {
      // Re-check the guard on read: a grant or tree change may have moved the source out of reach.
      if (observableGuard(ctx, s) !== null) continue;
      const rows = ctx.store.readObserved(ctx.tenant, s, limit ?? 100);
      if (rows === null) throw new ToolError(`you are not observing ${s}; call observe_group first`);
      out[s] = rows.map((r) => ({ id: r.id, topic: r.topic, kind: r.kind, sender: r.sender, text: r.text, at: r.created_at }));
    }
    const count = Object.values(out).reduce((n, rows) => n + rows.length, 0);
    return { text: `${count} new message(s)\n${JSON.stringify(out)}`, data: { messages: out } };
  },
});

export const observeTools = [observeGroup, unobserveGroup, readObserved];
