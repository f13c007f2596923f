// The grant engine in one import: parse grants files, build a tenant's effective rules, compile them, decide calls.
export type { ArgPredicate, Decision, DecisionContext, Rule, RuleSource } from './types.js';
export { parseGrants, parseRuleText, MAX_FILE_BYTES, MAX_LINE_BYTES, type ParseResult, type RuleParse } from './parse.js';
export { canonicalArg, canonicalChat, canonicalPath, canonicalTenantArg, CANONICALISERS, chatIdProblem, HOME } from './canonical.js';
export { TOOL_ARGS, ruleNamesProblem } from './tool-args.js';
export { compileGlob, globMatches, type GlobMatcher } from './glob.js';
export { ALL_TOOLS, TIER_DEFAULT_TEXT, WORKER_DEFAULT_TEXT, tierDefaults, workerDefaults } from './defaults.js';
export { effectiveRules, workerRules, type AncestorRules } from './effective.js';
export { compileRules, decide, decideAsWorker, visibility, NO_ROUTES, type CompiledRules } from './evaluate.js';
export { describeRule, sourceLabel } from './describe.js';
export { grantable, type Grantability } from './grantable.js';
export { explainDecision, type AppliedRule, type Explanation } from './explain.js';
