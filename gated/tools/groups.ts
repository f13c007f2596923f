// The tree as a tenant sees it: who am I, what is below me, and making a direct child.
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PERSONA_FILE } from '../../core/tree/layout.js';
import {
  isStrictDescendant, parentOf, segmentProblem, tierOf, type TenantPath,
} from '../../core/tenant-path.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

export const MAX_PERSONA = 32 * 1024;

function inSubtree(ctx: ToolContext, path: TenantPath): boolean {
  return path === ctx.tenant || isStrictDescendant(path, ctx.tenant);
}

export const whoami = defineTool({
  name: 'whoami',
  description: 'Your tenant, tier, parent, children and effective rules.',
  input: z.object({}).strict(),
  handler(ctx) {
    const data = {
      tenant: ctx.tenant,
      tier: ctx.tier,
      parent: parentOf(ctx.tenant),
      children: ctx.children,
      run: ctx.run?.id ?? null,
      topic: ctx.run?.topic ?? 'main',
      rules: ctx.ruleDescriptions,
    };
    return { text: JSON.stringify(data), data };
  },
});

export const listGroups = defineTool({
  name: 'list_groups',
  description: 'List your group and every group below it, with tier and configuration status.',
  input: z.object({}).strict(),
  handler(ctx) {
    const groups = ctx.registry
      .list()
      .filter((s) => inSubtree(ctx, s.path))
      .map((s) => ({
        path: s.path,
        tier: tierOf(s.path),
        status: s.config === null ? 'invalid (no socket)' : s.errors.length > 0 ? 'invalid (last good config in use)' : 'ok',
      }));
    return { text: JSON.stringify(groups), data: { groups } };
  },
});

/** YAML-safe scalar: JSON strings are valid YAML double-quoted scalars. */
const yamlString = (s: string) => JSON.stringify(s);

export const createGroup = defineTool({
  name: 'create_group',
  description: 'Create a direct child group (a new folder with a PERSONA.md). It becomes a live tenant at once.',
  input: z
    .object({
      name: z.string().min(1).max(64).describe('lowercase letters, digits, "-" and "_"'),
      persona: z.string().max(MAX_PERSONA).optional().describe('persona text for the new group'),
      description: z.string().max(500).optional(),
    })
    .strict(),
  guard(ctx, { name }) {
    if (parentOf(ctx.tenant) === null) return 'root has no child groups; an operator creates worlds as folders';
    return segmentProblem(name);
  },
  handler(ctx, { name, persona, description }) {
    const own = ctx.registry.config(ctx.tenant);
    if (!own) throw new ToolError('your tenant has no valid configuration');
    const child = `${ctx.tenant}/${name}`;
    const dir = join(own.dir, name);
    try {
      mkdirSync(dir, { mode: 0o755 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ToolError(code === 'EEXIST' ? `${child} already exists` : `could not create ${child}: ${code}`);
    }
    const front = [`name: ${yamlString(name)}`];
    if (description) front.push(`description: ${yamlString(description)}`);
    const body = persona?.trim() ? persona.trim() + '\n' : `You are the ${name} group of ${ctx.tenant}.\n`;
    writeFileSync(join(dir, PERSONA_FILE), `---\n${front.join('\n')}\n---\n${body}`, { flag: 'wx', mode: 0o644 });
    if (!lstatSync(dir).isDirectory()) throw new ToolError(`could not create ${child}`);
    ctx.refreshTenant(child);
    return { text: `created ${child}`, data: { group: child } };
  },
});

export const groupTools = [whoami, listGroups, createGroup];
