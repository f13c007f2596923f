// Property tests: the engine's promises hold for random rule sets and calls, checked against a naive reference
// written from the grammar (regex globs, a linear scan), not from the engine's code.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseGrants } from '../../../core/grants/parse.js';
import { compileRules, decide } from '../../../core/grants/evaluate.js';
import { canonicalArg } from '../../../core/grants/canonical.js';
import type { DecisionContext, Rule } from '../../../core/grants/types.js';

const TOOLS = ['send_message', 'send_file', 'reply', 'like'];
const TOOL_GLOBS = [...TOOLS, 'send_*', '*', '*e*', '**'];
const VALUE_GLOBS: Record<string, string[]> = {
  chat: ['tg:*', 'tg:1', 'TG:2', '*', '**', 'slack:*', '$routed', '"tg:1"'],
  path: ['reports/**', 'reports/a', 'reports/*', '*', '**', '/home/node/reports/a'],
  text: ['hi', '*', '"a b"', 'h*'],
  message_id: ['1', '*', '2'],
};
const NAMES = Object.keys(VALUE_GLOBS);
const VALUES: unknown[] = [
  'tg:1', 'TG:1', 'tg:2', 'slack:x', 'reports/a', 'reports/b/c', '/home/node/reports/a', 'hi', 'a b', '1', 1, 2, 1.5,
  null, true, ['tg:1'], { a: 1 }, '',
];
const ROUTED = new Set(['tg:1']);
const ctx: DecisionContext = { isRoutedChat: (c) => ROUTED.has(c) };

const predicate = fc.oneof(
  fc.constantFrom(...NAMES).map((n) => `!${n}`),
  fc.constantFrom(...NAMES).chain((n) => fc.constantFrom(...VALUE_GLOBS[n]!).map((v) => `${n}=${v}`)),
);
const ruleText = fc
  .record({
    deny: fc.boolean(),
    tool: fc.constantFrom(...TOOL_GLOBS),
    preds: fc.uniqueArray(predicate, { maxLength: 3, selector: (p) => p.replace(/^!/, '').split('=')[0] }),
  })
  .map(({ deny, tool, preds }) => `${deny ? '!' : ''}${tool}${preds.length ? `(${preds.join(', ')})` : ''}`);
const FILE = '/t/tenants/acme/grants';
// Lines naming an argument their tools do not take are typos the parser refuses; the properties are about the rest.
const accepted = (line: string) => parseGrants(line, FILE, 'acme').errors.length === 0;
const ruleSet = fc.array(ruleText.filter(accepted), { maxLength: 12 }).map((lines) => {
  const r = parseGrants(lines.join('\n'), FILE, 'acme');
  if (r.errors.length) throw new Error(JSON.stringify(r.errors));
  return r.rules;
});
const call = fc.record({
  tool: fc.constantFrom(...TOOLS, 'other'),
  args: fc.dictionary(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES), { maxKeys: 4 }),
});

// ---- the reference: plain regexes and the grammar's words, strict semantics ("matching" in the brief's sense)
function refGlob(glob: string, value: string): boolean {
  const source = glob
    .split(/(\*+)/)
    .map((part, i) => (i % 2 === 1 ? (part.length >= 2 ? '[\\s\\S]*' : '[^/]*') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(value);
}
function refValue(args: Record<string, unknown>, name: string): string | null | undefined {
  const v = Object.hasOwn(args, name) ? args[name] : undefined;
  if (v === undefined) return undefined;
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return canonicalArg(name, String(v));
  return null;
}
function refMatches(rule: Rule, tool: string, args: Record<string, unknown>): boolean {
  if (!refGlob(rule.tool, tool)) return false;
  return rule.args.every((p) => {
    const v = refValue(args, p.name);
    if (p.kind === 'absent') return v === undefined;
    if (typeof v !== 'string') return false;
    return p.kind === 'routed' ? ROUTED.has(v) : refGlob(p.glob, v);
  });
}

describe('decision properties', () => {
  it('a call matching any deny rule is never allowed', () => {
    fc.assert(
      fc.property(ruleSet, call, (rules, { tool, args }) => {
        const d = decide(compileRules(rules), tool, args, ctx);
        if (rules.some((r) => r.effect === 'deny' && refMatches(r, tool, args))) expect(d.allowed).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });

  it('a call is allowed only if some allow rule matches', () => {
    fc.assert(
      fc.property(ruleSet, call, (rules, { tool, args }) => {
        const d = decide(compileRules(rules), tool, args, ctx);
        if (d.allowed) {
          expect(rules.some((r) => r.effect === 'allow' && refMatches(r, tool, args))).toBe(true);
          expect(d.rule?.effect).toBe('allow');
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('with plain string values, the decision is exactly "some allow matches and no deny matches"', () => {
    const stringCall = fc.record({
      tool: fc.constantFrom(...TOOLS),
      args: fc.dictionary(fc.constantFrom(...NAMES), fc.constantFrom('tg:1', 'tg:2', 'TG:1', 'reports/a', 'hi', '1'), { maxKeys: 4 }),
    });
    fc.assert(
      fc.property(ruleSet, stringCall, (rules, { tool, args }) => {
        const expected =
          rules.some((r) => r.effect === 'allow' && refMatches(r, tool, args)) &&
          !rules.some((r) => r.effect === 'deny' && refMatches(r, tool, args));
        expect(decide(compileRules(rules), tool, args, ctx).allowed).toBe(expected);
      }),
      { numRuns: 1500 },
    );
  });

  it('reordering the rules never changes the decision', () => {
    fc.assert(
      fc.property(
        ruleSet.chain((rules) => fc.tuple(fc.constant(rules), fc.shuffledSubarray(rules, { minLength: rules.length, maxLength: rules.length }))),
        call,
        ([rules, shuffled], { tool, args }) => {
          const a = decide(compileRules(rules), tool, args, ctx);
          const b = decide(compileRules(shuffled), tool, args, ctx);
          expect(b.allowed).toBe(a.allowed);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('parser properties', () => {
  const grammarish = fc.string({
    unit: fc.constantFrom('a', 'z', '_', '*', '!', '(', ')', ',', '=', '"', '\\', ' ', '\t', '#', '$', '/', '\n', '\r', 'É', '\u0000', '1'),
    maxLength: 200,
  });

  it('never throws: every input gives rules or errors with a line inside the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), grammarish), (text) => {
        const r = parseGrants(text, '/t/grants', 'acme');
        const lines = text.split(/\r?\n/).length;
        if (r.errors.length > 0) expect(r.rules).toEqual([]);
        for (const e of r.errors) {
          expect(e.file).toBe('/t/grants');
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.line).toBeLessThanOrEqual(lines);
          expect(e.message.length).toBeGreaterThan(0);
        }
        for (const rule of r.rules) expect(rule.tool).toMatch(/^[a-z0-9_*]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('a rule it accepts parses again to the same rule from its own text', () => {
    fc.assert(
      fc.property(grammarish, (text) => {
        for (const rule of parseGrants(text, '/t/grants', 'acme').rules) {
          const again = parseGrants(rule.text, '/t/grants', 'acme').rules[0];
          expect(again && { ...again, source: null }).toEqual({ ...rule, source: null });
        }
      }),
      { numRuns: 1500 },
    );
  });
});
