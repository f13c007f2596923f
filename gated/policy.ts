// Per-tenant compiled policy: effective rules, the compiled evaluator and the tools/list answer, built once per
// change and shared by every connection of that tenant. A change to a tenant invalidates it and its whole subtree
// (ancestors' deny rules apply below them).
import { z } from 'zod';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { compileRules, visibility, type CompiledRules } from '../core/grants/evaluate.js';
import { describeRule } from '../core/grants/describe.js';
import { effectiveRules, workerRules } from '../core/grants/effective.js';

import type { Rule } from '../core/grants/types.js';
import { ancestorsOf, isStrictDescendant, parentOf, tierOf, type TenantPath } from '../core/tenant-path.js';
import type { TenantRegistry } from '../core/tree/registry.js';
import { TOOLS } from './tools/index.js';

export interface TenantPolicy {
  tenant: TenantPath;
  rules: Rule[];
  compiled: CompiledRules;
  /**
   * For a worker's socket: the workers' rules (workerRules), which its calls must pass as well as `compiled`. Null on
   * every other socket.
   */
  worker: CompiledRules | null;
  /**
   * Why every call is refused regardless of rules (an ancestor without any valid configuration), or null. Shown to
   * the calling agent, so it names no host path and no error of the ancestor's files: the operator sees those in
   * gated's log and in `warren tenants`.
   */
  closedBecause: string | null;
  tools: Tool[];
  /** For whoami, computed once per change: the rules as `describeRule` prints them, and the direct children. */
  ruleDescriptions: string[];
  children: TenantPath[];
}

const inputSchemas = new Map<string, Tool['inputSchema']>(
  TOOLS.map((t) => [t.name, z.toJSONSchema(t.input, { target: 'draft-7' }) as Tool['inputSchema']]),
);

/** The "Rules that apply" text of one tool stops at about this many bytes, so tools/list stays small. */
export const MAX_RULES_TEXT_BYTES = 2048;

/** The rules that apply to a tool, as many as fit in MAX_RULES_TEXT_BYTES, then how many more there are. */
export function rulesThatApply(rules: readonly Rule[]): string {
  const shown: string[] = [];
  let bytes = 0;
  for (const rule of rules) {
    const text = describeRule(rule);
    bytes += Buffer.byteLength(text, 'utf8') + 2;
    if (bytes > MAX_RULES_TEXT_BYTES) {
      const more = `${rules.length - shown.length} more rule${rules.length - shown.length === 1 ? '' : 's'}`;
      return [...shown, `and ${more} (whoami lists them all)`].join('; ');
    }
    shown.push(text);
  }
  return shown.join('; ');
}

/** What an agent is told when an ancestor has no valid configuration; the details are for the operator only. */
export function closedByAncestor(ancestor: TenantPath): string {
  return (
    `the configuration of ${ancestor}, which your group belongs to, is invalid, so every call is refused until an ` +
    'operator fixes it; say so in your answer and ask an operator to fix it'
  );
}

/**
 * Why every call of `tenant` is refused whatever its rules: its nearest existing ancestor has no valid configuration
 * (its denies are unknown, so they could narrow this tenant). Null when none. Costs the ancestry, not a compile.
 */
export function closedBecauseOf(registry: TenantRegistry, tenant: TenantPath): string | null {
  for (const path of ancestorsOf(tenant)) {
    const state = registry.get(path); // root need not exist as a folder
    // Which files and why stays with the operator (registry log, `warren tenants`).
    if (state && !state.config) return closedByAncestor(path);
  }
  return null;
}

/** Whose calls a policy decides: the tenant's own turns, or one of its workers (held to the workers' rules too). */
export type PolicyRole = 'tenant' | 'worker';

export function buildPolicy(registry: TenantRegistry, tenant: TenantPath, role: PolicyRole = 'tenant'): TenantPolicy | null {
  const own = registry.config(tenant);
  if (!own) return null;
  const closedBecause = closedBecauseOf(registry, tenant);
  const ancestors: { path: TenantPath; rules: Rule[] }[] = [];
  for (const path of ancestorsOf(tenant)) {
    const config = registry.config(path);
    if (config) ancestors.push({ path, rules: config.grants });
  }
  const tenantRules = closedBecause ? [] : effectiveRules(tierOf(tenant), own.grants, ancestors);
  const compiled = compileRules(tenantRules);
  const asWorker = role === 'worker' ? workerRules(own.grants, ancestors) : [];
  const worker = role === 'worker' ? compileRules(asWorker) : null;
  // `rules` stays the tenant's own (what `grant` may hand on); whoami shows a worker both sets.
  const rules = tenantRules;
  const tools: Tool[] = [];
  for (const def of TOOLS) {
    const v = visibility(compiled, def.name);
    const w = worker ? visibility(worker, def.name) : null;
    if (!v.listed || (w && !w.listed)) continue;
    tools.push({
      name: def.name,
      description: `${def.description}\n\nRules that apply: ${rulesThatApply([...v.rules, ...(w?.rules ?? [])])}`,
      inputSchema: inputSchemas.get(def.name)!,
    });
  }
  const children = registry.childrenOf(tenant);
  const ruleDescriptions = [...tenantRules, ...asWorker].map(describeRule);
  return { tenant, rules, compiled, worker, closedBecause, tools, ruleDescriptions, children };
}

export class PolicyCache {
  private readonly cache = new Map<TenantPath, TenantPolicy | null>();
  /** Workers' policies, dropped together with their tenant's. */
  private readonly workers = new Map<TenantPath, TenantPolicy | null>();

  constructor(private readonly registry: TenantRegistry) {}

  get(tenant: TenantPath, role: PolicyRole = 'tenant'): TenantPolicy | null {
    const cache = role === 'worker' ? this.workers : this.cache;
    let policy = cache.get(tenant);
    if (policy === undefined) {
      policy = buildPolicy(this.registry, tenant, role);
      cache.set(tenant, policy);
    }
    return policy;
  }

  /** Whether the tenant's policy is compiled now (they compile on first use, not at start). */
  isCompiled(tenant: TenantPath): boolean {
    return this.cache.has(tenant);
  }

  /**
   * Drops the cached policy of `tenant` and of its subtree (ancestors' denies apply below them), and its parent's
   * (whose list of children may have changed); returns the tenants that were cached.
   */
  invalidate(tenant: TenantPath): TenantPath[] {
    const dropped: TenantPath[] = [];
    for (const path of this.workers.keys()) if (path === tenant || isStrictDescendant(path, tenant)) this.workers.delete(path);
    const parent = parentOf(tenant);
    if (parent !== null && this.cache.delete(parent)) dropped.push(parent);
    for (const path of this.cache.keys()) {
      if (path === tenant || isStrictDescendant(path, tenant)) {
        this.cache.delete(path);
        dropped.push(path);
      }
    }
    return dropped;
  }
}
