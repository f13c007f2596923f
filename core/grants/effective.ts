// The rules that govern one tenant: its tier's defaults, its own grants file, and every ancestor's deny rules.
// A parent can always narrow its subtree; its allows never leak down (a team gets nothing because its world has it).
import type { Tier, TenantPath } from '../tenant-path.js';
import { tierDefaults } from './defaults.js';
import type { Rule } from './types.js';

export interface AncestorRules {
  path: TenantPath;
  /** The ancestor's own grants file rules. */
  rules: readonly Rule[];
}

export function effectiveRules(tier: Tier, own: readonly Rule[], ancestors: readonly AncestorRules[]): Rule[] {
  const out: Rule[] = [...tierDefaults(tier), ...own];
  for (const ancestor of ancestors) {
    for (const rule of ancestor.rules) if (rule.effect === 'deny') out.push(rule);
  }
  return out;
}
