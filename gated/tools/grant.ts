// grant/revoke: a tenant may hand a descendant a subset of what it holds itself, or narrow it with deny rules.
// It can never change its own grants.
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalTenant } from './targets.js';
import { parseGrants } from '../../core/grants/parse.js';
import { grantable } from '../../core/grants/grantable.js';
import type { Rule } from '../../core/grants/types.js';
import { GRANTS_FILE } from '../../core/tree/layout.js';
import { isStrictDescendant, type TenantPath } from '../../core/tenant-path.js';
import { appendGrant, removeGrant } from '../grants-file.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

const input = z.object({ group: z.string().min(1).max(1024), rule: z.string().min(1).max(1024) }).strict();

function descendantGuard(ctx: ToolContext, group: string): string | null {
  const path = canonicalTenant(group);
  if (path === ctx.tenant) return 'you can never change your own grants; ask your parent (escalate_group)';
  if (!path || !isStrictDescendant(path, ctx.tenant)) return `"${group}" is not one of your descendants`;
  return null;
}

/** The one rule in `text`, parsed as a grants file line would be (so a misspelt tool or argument is refused too). */
function parseOne(verb: 'grant' | 'revoke', text: string, tenant: TenantPath): Rule {
  if (/[\r\n]/.test(text)) throw new ToolError('a rule is a single line');
  const { rules, errors } = parseGrants(text, '<rule>', tenant);
  if (errors.length > 0) throw new ToolError(`cannot ${verb} "${text}": ${errors.map((e) => e.message).join('; ')}`);
  if (rules.length !== 1) throw new ToolError('give exactly one rule');
  return rules[0]!;
}

function grantsFileOf(ctx: ToolContext, group: TenantPath): string {
  const config = ctx.registry.config(group);
  if (!config) throw new ToolError(`${group} does not exist or has no valid configuration`);
  return join(config.dir, GRANTS_FILE);
}

export const grant = defineTool({
  name: 'grant',
  description:
    'Give a descendant group a rule (a subset of what you hold), or narrow it with a deny rule ("!tool").',
  input,
  guard: (ctx, { group }) => descendantGuard(ctx, group),
  handler(ctx, { group, rule }) {
    const target = canonicalTenant(group)!;
    const parsed = parseOne('grant', rule, target);
    const check = grantable(ctx.rules as Rule[], parsed);
    if (!check.ok) throw new ToolError(`cannot grant "${parsed.text}": ${check.reason}`);
    try {
      appendGrant(grantsFileOf(ctx, target), parsed.text, ctx.tenant);
    } catch (error) {
      throw new ToolError(`cannot grant "${parsed.text}": ${(error as Error).message}`);
    }
    ctx.refreshTenant(target);
    return { text: `granted "${parsed.text}" to ${target}`, data: { group: target, rule: parsed.text } };
  },
});

export const revoke = defineTool({
  name: 'revoke',
  description: 'Remove a rule that you (or a group between you and the target) granted to a descendant.',
  input,
  guard: (ctx, { group }) => descendantGuard(ctx, group),
  handler(ctx, { group, rule }) {
    const target = canonicalTenant(group)!;
    const wanted = parseOne('revoke', rule, target).text;
    const removed = removeGrant(
      grantsFileOf(ctx, target),
      (lineRule) => {
        const { rules } = parseGrants(lineRule, '<line>', target);
        return rules.length === 1 && rules[0]!.text === wanted;
      },
      (by) => by === ctx.tenant || isStrictDescendant(by, ctx.tenant),
    );
    if (removed === 0) throw new ToolError(`no granted rule "${wanted}" on ${target} that you may revoke`);
    ctx.refreshTenant(target);
    return { text: `revoked "${wanted}" from ${target} (${removed} line(s))`, data: { group: target, removed } };
  },
});

export const grantTools = [grant, revoke];
