// `warren grants explain`: the decision for one call with everything that went into it. Pure; the CLI prints it.
import { describeRule, sourceLabel } from './describe.js';
import { compileRules, decide, rulesForCall, visibility, type CompiledRules } from './evaluate.js';
import type { Decision, DecisionContext, Rule } from './types.js';

export interface AppliedRule {
  rule: Rule;
  /** e.g. `deny !like [tenants/acme/grants:4]`. */
  description: string;
  /** True when the rule's argument predicates held for this call (its tool glob always matches). */
  holds: boolean;
}

export interface Explanation {
  tool: string;
  args: Record<string, unknown>;
  decision: Decision;
  allowed: boolean;
  /** The deciding rule (first holding deny, else first holding allow), null when none. */
  rule: Rule | null;
  /** Where the deciding rule comes from, e.g. `tenants/acme/grants:3`; null when no rule decided. */
  source: string | null;
  /** Whether tools/list shows the tool to this tenant. */
  listed: boolean;
  /** Every rule whose tool glob matches the tool, in order. */
  applied: AppliedRule[];
}

/** Explains a call against a tenant's effective rules (or an already compiled set). */
export function explainDecision(
  rules: readonly Rule[] | CompiledRules,
  tool: string,
  args: Record<string, unknown>,
  ctx: DecisionContext,
): Explanation {
  const compiled = Array.isArray(rules) ? compileRules(rules) : (rules as CompiledRules);
  const decision = decide(compiled, tool, args, ctx);
  return {
    tool,
    args,
    decision,
    allowed: decision.allowed,
    rule: decision.rule,
    source: decision.rule ? sourceLabel(decision.rule.source) : null,
    listed: visibility(compiled, tool).listed,
    applied: rulesForCall(compiled, tool, args ?? {}, ctx).map(({ rule, holds }) => ({
      rule,
      description: describeRule(rule),
      holds,
    })),
  };
}
