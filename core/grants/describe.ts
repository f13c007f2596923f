// How rules and their sources read in denials, tools/list descriptions and `warren grants explain`.
import { basename } from 'node:path';
import type { Rule, RuleSource } from './types.js';

/**
 * `tier 2 default` or `tenants/acme/grants:3`. The file is named relative to the tenant tree, which is what an
 * operator edits and all an agent needs; the host's absolute layout stays out of agent-visible text.
 */
export function sourceLabel(source: RuleSource): string {
  if (source.kind === 'tier-default') return `tier ${source.tier} default`;
  if (source.kind === 'worker-default') return 'worker default';
  return `tenants/${source.tenant}/${basename(source.file)}:${source.line}`;
}

/** `allow send_message(chat=$routed) [tier 2 default]`, `deny !like [tenants/acme/grants:4]`. */
export function describeRule(rule: Rule): string {
  return `${rule.effect} ${rule.text} [${sourceLabel(rule.source)}]`;
}
