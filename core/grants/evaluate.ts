// Compiled rules and the decision. Compiled once per tenant; a decision then touches only the rules that can apply
// to the tool (an index by exact tool name plus the wildcard-tool rules, merged once per tool name) and, among those,
// only the rules whose literal argument value equals the call's (a hash lookup), so it stays in microseconds at
// thousands of rules.
//
// Closed by default: deny wins over allow whatever the order; no matching allow is a denial; a value that cannot be
// compared (object, array, boolean, null, NaN) never satisfies a predicate of an allow rule and always satisfies one
// of a deny rule, so an odd value can neither unlock a rule nor dodge one.
import { CANONICALISERS } from './canonical.js';
import { ALL_TOOLS } from './defaults.js';
import { sourceLabel } from './describe.js';
import { compileGlob, isLiteralGlob, type GlobMatcher } from './glob.js';
import type { ArgPredicate, Decision, DecisionContext, Rule } from './types.js';

interface CompiledPredicate {
  name: string;
  kind: ArgPredicate['kind'];
  test: GlobMatcher | null;
}

interface CompiledRule {
  rule: Rule;
  /** Position in the rule list: "first matching" means lowest order. */
  order: number;
  deny: boolean;
  tool: GlobMatcher;
  predicates: CompiledPredicate[];
}

/** The rules that can apply to one tool name, indexed for the decision. */
interface ToolIndex {
  /** Every rule whose tool glob matches, in order. */
  all: CompiledRule[];
  allows: CompiledRule[];
  /** Rules without a literal-valued predicate: always evaluated. */
  scan: CompiledRule[];
  /** Rules keyed by one literal-valued predicate: argument name -> canonical value -> rules. */
  keyed: Map<string, Map<string, CompiledRule[]>>;
  /** All keyed rules per argument name (a deny rule applies whatever its key when the value cannot be compared). */
  keyedAll: Map<string, CompiledRule[]>;
  listed: boolean;
}

/** Unknown tool names get an index too, but only this many are remembered: agents choose tool names. */
const MAX_CACHED_UNKNOWN_TOOLS = 256;

export class CompiledRules {
  readonly rules: readonly Rule[];
  private readonly exact = new Map<string, CompiledRule[]>();
  private readonly wildcard: CompiledRule[] = [];
  private readonly indexes = new Map<string, ToolIndex>();
  private unknownCached = 0;

  constructor(rules: readonly Rule[]) {
    this.rules = Object.freeze([...rules]);
    this.rules.forEach((rule, order) => {
      const compiled: CompiledRule = {
        rule,
        order,
        deny: rule.effect === 'deny',
        tool: compileGlob(rule.tool),
        predicates: rule.args.map((a) => ({
          name: a.name,
          kind: a.kind,
          test: a.kind === 'match' ? compileGlob(a.glob) : null,
        })),
      };
      if (isLiteralGlob(rule.tool)) {
        const list = this.exact.get(rule.tool);
        if (list) list.push(compiled);
        else this.exact.set(rule.tool, [compiled]);
      } else {
        this.wildcard.push(compiled);
      }
    });
    for (const tool of ALL_TOOLS) this.indexes.set(tool, this.build(tool));
    for (const tool of this.exact.keys()) if (!this.indexes.has(tool)) this.indexes.set(tool, this.build(tool));
  }

  /** @internal */
  index(tool: string): ToolIndex {
    const known = this.indexes.get(tool);
    if (known) return known;
    const built = this.build(tool);
    if (this.unknownCached < MAX_CACHED_UNKNOWN_TOOLS) {
      this.unknownCached++;
      this.indexes.set(tool, built);
    }
    return built;
  }

  private build(tool: string): ToolIndex {
    const all = [...(this.exact.get(tool) ?? []), ...this.wildcard.filter((r) => r.tool(tool))].sort(
      (a, b) => a.order - b.order,
    );
    const index: ToolIndex = {
      all,
      allows: all.filter((r) => !r.deny),
      scan: [],
      keyed: new Map(),
      keyedAll: new Map(),
      listed: all.some((r) => !r.deny) && !all.some((r) => r.deny && r.predicates.length === 0),
    };
    for (const r of all) {
      const key = r.rule.args.find((a) => a.kind === 'match' && isLiteralGlob(a.glob));
      if (!key || key.kind !== 'match') {
        index.scan.push(r);
        continue;
      }
      let byValue = index.keyed.get(key.name);
      if (!byValue) index.keyed.set(key.name, (byValue = new Map()));
      const list = byValue.get(key.glob);
      if (list) list.push(r);
      else byValue.set(key.glob, [r]);
      const allForName = index.keyedAll.get(key.name);
      if (allForName) allForName.push(r);
      else index.keyedAll.set(key.name, [r]);
    }
    return index;
  }
}

/** Builds the per-tenant decision structure once (cheap to keep, cheap to rebuild on a grants change). */
export function compileRules(rules: readonly Rule[]): CompiledRules {
  return new CompiledRules(rules);
}

/** A context for callers that have no routes (every `$routed` predicate then fails, closed). */
export const NO_ROUTES: DecisionContext = Object.freeze({ isRoutedChat: () => false });

/** Absent, present but not comparable, or the canonical string. */
type ArgValue = undefined | null | string;

class CallArgs {
  private readonly seen = new Map<string, ArgValue>();

  constructor(private readonly args: Record<string, unknown>) {}

  get(name: string): ArgValue {
    if (this.seen.has(name)) return this.seen.get(name);
    const value = readArg(this.args, name);
    this.seen.set(name, value);
    return value;
  }
}

/** Own properties only: `constructor` or `__proto__` in a rule must not find something on the prototype. */
function readArg(args: Record<string, unknown>, name: string): ArgValue {
  const raw = Object.hasOwn(args, name) ? args[name] : undefined;
  if (raw === undefined) return undefined;
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) text = String(raw);
  else return null;
  const canon = CANONICALISERS.get(name);
  return canon ? canon.value(text) : text;
}

function predicateHolds(p: CompiledPredicate, args: CallArgs, deny: boolean, ctx: DecisionContext): boolean {
  const value = args.get(p.name);
  if (p.kind === 'absent') return value === undefined || (deny && value === null);
  if (value === undefined) return false;
  if (value === null) return deny;
  if (p.kind === 'match') return p.test !== null && p.test(value);
  try {
    return ctx.isRoutedChat(value) === true;
  } catch {
    return deny;
  }
}

function ruleHolds(r: CompiledRule, args: CallArgs, ctx: DecisionContext): boolean {
  for (const p of r.predicates) if (!predicateHolds(p, args, r.deny, ctx)) return false;
  return true;
}

/** The first (lowest order) rule of the wanted effect that holds among the candidates of this call. */
function firstHolding(index: ToolIndex, deny: boolean, args: CallArgs, ctx: DecisionContext): CompiledRule | null {
  let best: CompiledRule | null = null;
  const consider = (list: readonly CompiledRule[] | undefined) => {
    if (!list) return;
    for (const r of list) {
      if (best !== null && r.order >= best.order) break; // lists are in order: nothing later can win
      if (r.deny === deny && ruleHolds(r, args, ctx)) best = r;
    }
  };
  consider(index.scan);
  for (const [name, byValue] of index.keyed) {
    const value = args.get(name);
    if (value === undefined) continue;
    if (value === null) {
      if (deny) consider(index.keyedAll.get(name));
      continue;
    }
    consider(byValue.get(value));
  }
  return best;
}

/** Why a call's arguments are refused before any rule is consulted, or null. */
function argumentProblem(args: Record<string, unknown>): string | null {
  for (const [name, canon] of CANONICALISERS) {
    const raw = Object.hasOwn(args, name) ? args[name] : undefined;
    const text = typeof raw === 'string' ? raw : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : null;
    if (text === null || canon.value(text) !== null) continue;
    return `argument "${name}": ${canon.refusal(text)}`;
  }
  return null;
}

/** Decides one call. Pure apart from `ctx.isRoutedChat`; never throws: anything unexpected is a denial. */
export function decide(
  compiled: CompiledRules,
  tool: string,
  args: Record<string, unknown> | undefined,
  ctx: DecisionContext,
): Decision {
  try {
    return decideUnguarded(compiled, tool, args, ctx);
  } catch {
    // e.g. arguments with a throwing getter: nothing legitimate gets here, and nothing gets through.
    return { allowed: false, rule: null, reason: 'the grant check could not evaluate this call, so it is refused' };
  }
}

/**
 * A worker's call: allowed only when its tenant's rules allow it and the workers' rules (workerRules) do too. The
 * deciding rule is the tenant's allow, or whichever rule refused it; a refusal by the workers' rules says so.
 */
export function decideAsWorker(
  tenant: CompiledRules,
  worker: CompiledRules,
  tool: string,
  args: Record<string, unknown> | undefined,
  ctx: DecisionContext,
): Decision {
  const d = decide(tenant, tool, args, ctx);
  if (!d.allowed) return d;
  const w = decide(worker, tool, args, ctx);
  return w.allowed ? d : { ...w, reason: `a worker may not make this call: ${w.reason}` };
}

function decideUnguarded(
  compiled: CompiledRules,
  tool: string,
  args: Record<string, unknown> | undefined,
  ctx: DecisionContext,
): Decision {
  if (typeof tool !== 'string' || tool.length === 0) return { allowed: false, rule: null, reason: 'no tool named' };
  if (args === undefined || args === null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    return { allowed: false, rule: null, reason: 'tool arguments must be an object' };
  }
  const problem = argumentProblem(args);
  if (problem !== null) return { allowed: false, rule: null, reason: problem };

  const index = compiled.index(tool);
  const call = new CallArgs(args);
  const deny = firstHolding(index, true, call, ctx);
  if (deny) {
    return { allowed: false, rule: deny.rule, reason: `denied by rule "${deny.rule.text}" (${sourceLabel(deny.rule.source)})` };
  }
  const allow = firstHolding(index, false, call, ctx);
  if (allow) {
    return { allowed: true, rule: allow.rule, reason: `allowed by rule "${allow.rule.text}" (${sourceLabel(allow.rule.source)})` };
  }
  return { allowed: false, rule: null, reason: noAllowReason(tool, index) };
}

const MAX_LISTED_FORMS = 5;

function noAllowReason(tool: string, index: ToolIndex): string {
  if (index.allows.length === 0) return `no rule allows "${tool}" for this tenant`;
  const forms = index.allows.slice(0, MAX_LISTED_FORMS).map((r) => `"${r.rule.text}" (${sourceLabel(r.rule.source)})`);
  const more = index.allows.length > MAX_LISTED_FORMS ? ` and ${index.allows.length - MAX_LISTED_FORMS} more` : '';
  return `no rule allows "${tool}" with these arguments for this tenant; allowed forms: ${forms.join(', ')}${more}`;
}

/**
 * Whether tools/list shows the tool, and every rule whose tool glob matches it (described at the end of the tool's
 * description). Listed iff some allow rule could match it and no argument-free deny rule matches it.
 */
export function visibility(compiled: CompiledRules, tool: string): { listed: boolean; rules: Rule[] } {
  const index = compiled.index(tool);
  return { listed: index.listed, rules: index.all.map((r) => r.rule) };
}

/** Every rule whose tool glob matches, in order, and whether its argument predicates hold for this call. */
export function rulesForCall(
  compiled: CompiledRules,
  tool: string,
  args: Record<string, unknown>,
  ctx: DecisionContext,
): { rule: Rule; holds: boolean }[] {
  const call = new CallArgs(typeof args === 'object' && args !== null && !Array.isArray(args) ? args : {});
  return compiled.index(tool).all.map((r) => ({ rule: r.rule, holds: ruleHolds(r, call, ctx) }));
}
