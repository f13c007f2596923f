// Delegation (down to a descendant) and escalation (up to the parent): both queue work in the target's inbox and
// return a handle at once. The depth comes from the server's record of the work being done, never from arguments.
import { z } from 'zod';
import { canonicalTenant } from './targets.js';
import { isStrictDescendant, parentOf, type TenantPath } from '../../core/tenant-path.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';
import { MAX_TEXT } from './messaging.js';

const prompt = z.string().min(1).max(MAX_TEXT);

/** Work one turn may hand on (delegations and escalations together): a runaway or hijacked agent stops here. */
export const MAX_HANDOFFS_PER_RUN = 10;

function countHandoff(ctx: ToolContext): void {
  if (!ctx.run) return; // an operator's own MCP client on the tenant socket is not a turn
  const done = handoffs.get(ctx.run) ?? 0;
  if (done >= MAX_HANDOFFS_PER_RUN) {
    throw new ToolError(`this turn already handed on ${done} pieces of work (the limit); finish with what you have`);
  }
  handoffs.set(ctx.run, done + 1);
}

/** Per run (the RunContext object lives as long as its socket), forgotten with it. */
const handoffs = new WeakMap<object, number>();

function nextDepth(ctx: ToolContext): number {
  const depth = (ctx.run?.depth ?? 0) + 1;
  if (depth > ctx.maxDelegationDepth) {
    throw new ToolError(
      `delegation depth limit reached (${ctx.maxDelegationDepth}): this work was already handed down ${depth - 1} ` +
        'times; finish it yourself or reply with what you have',
    );
  }
  return depth;
}

function liveTenant(ctx: ToolContext, path: TenantPath): void {
  if (!ctx.registry.config(path)) throw new ToolError(`tenant ${path} does not exist or has no valid configuration`);
}

/** Queues work for another tenant on behalf of the caller's run, within the depth and per-turn limits. */
function handOn(ctx: ToolContext, kind: 'delegate' | 'escalate', to: TenantPath, prompt: string): { id: string; depth: number } {
  liveTenant(ctx, to);
  const depth = nextDepth(ctx);
  countHandoff(ctx);
  const { id } = ctx.store.queueDelegation({
    kind,
    from: ctx.tenant,
    fromTopic: ctx.run?.topic ?? 'main',
    fromChat: ctx.run?.chat ?? null,
    fromRun: ctx.run?.id ?? null,
    to,
    depth,
    prompt,
  });
  return { id, depth };
}

export const delegateGroup = defineTool({
  name: 'delegate_group',
  description:
    "Hand work to one of your descendant groups. Returns a handle at once; the group's result arrives later in your inbox.",
  input: z.object({ group: z.string().min(1).max(1024), prompt }).strict(),
  guard(ctx, { group }) {
    const target = canonicalTenant(group);
    if (!target || !isStrictDescendant(target, ctx.tenant)) {
      return `delegate_group only reaches your descendants, and "${group}" is not one (you are ${ctx.tenant})`;
    }
    return null;
  },
  handler(ctx, { group, prompt }) {
    const to = canonicalTenant(group)!;
    const { id, depth } = handOn(ctx, 'delegate', to, prompt);
    return { text: `delegated to ${to} as ${id}; its result will arrive in your inbox`, data: { handle: id, depth } };
  },
});

export const escalateGroup = defineTool({
  name: 'escalate_group',
  description: 'Ask your parent group for help or a decision. Returns a handle; the answer arrives in your inbox.',
  input: z.object({ prompt }).strict(),
  guard(ctx) {
    return parentOf(ctx.tenant) === null ? 'root has no parent to escalate to' : null;
  },
  handler(ctx, { prompt }) {
    const to = parentOf(ctx.tenant)!;
    const { id, depth } = handOn(ctx, 'escalate', to, prompt);
    return { text: `escalated to ${to} as ${id}; the answer will arrive in your inbox`, data: { handle: id, depth } };
  },
});

export const delegationTools = [delegateGroup, escalateGroup];
