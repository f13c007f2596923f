// The rules that govern one tenant: its tier's defaults, its own grants file, and every ancestor's deny rules.
// A parent can always narrow its subtree; its allows never leak down (a team gets nothing because its world has it).
import type { Tier, TenantPath } from '../tenant-path.js';
import { tierDefaults, workerDefaults } from './defaults.js';
import type { Rule } from './types.js';

export interface AncestorRules {
  path: TenantPath;
  /** The ancestor's own grants file rules. */
  rules: readonly Rule[];
}

export function effectiveRules(tier: Tier, own: readonly Rule[], ancestors: readonly AncestorRules[]): Rule[] {
  const out: Rule[] = [...tierDefaults(tier), ...own.filter((r) => r.role === undefined)];
  for (const ancestor of ancestors) {
    for (const rule of ancestor.rules) if (rule.effect === 'deny' && rule.role === undefined) out.push(rule);
  }
  return out;
}

/**
 * The rules a tenant's workers are held to on top of the tenant's own (a call needs both): the worker defaults, the
 * tenant's `worker:` lines, and every ancestor's `worker:` denies (a parent narrows its subtree's workers too).
 */
export function workerRules(own: readonly Rule[], ancestors: readonly AncestorRules[]): Rule[] {
  const out: Rule[] = [...workerDefaults(), ...own.filter((r) => r.role === 'worker')];
  for (const ancestor of ancestors) {
    for (const rule of ancestor.rules) if (rule.effect === 'deny' && rule.role === 'worker') out.push(rule);
  }
  return out;
}
