import { describe, expect, it } from 'vitest';
import { compileScript, DEFAULT_SCRIPT, MAX_CALLS_PER_TURN, MAX_RULES } from '../../images/agent/runner/script/schema.js';

describe('script validation', () => {
  it('uses the echo script when there is none', () => {
    const compiled = compileScript(undefined);
    expect(compiled.ok && compiled.rules.map((r) => [r.regex.source, r.reply])).toEqual([['.*', 'echo: $0']]);
    expect(DEFAULT_SCRIPT).toEqual([{ match: '.*', reply: 'echo: $0' }]);
  });

  it('compiles rules with the "is" flags; a rule with calls and no reply answers with the last result', () => {
    const compiled = compileScript([
      { match: '^Hi', reply: 'hello' },
      { match: 'x', calls: [{ tool: 'whoami' }, { tool: 'delegate_group', args: { group: '$1' } }] },
    ]);
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    const [hi, calls] = compiled.rules;
    expect(hi!.regex.flags).toBe('is');
    expect(hi!.regex.test('hI\nthere')).toBe(true);
    expect(calls).toMatchObject({ index: 1, reply: '{{result}}', calls: [{ tool: 'whoami', args: {} }, { tool: 'delegate_group', args: { group: '$1' } }] });
  });

  it.each<[string, unknown, RegExp]>([
    ['not a list', { match: '.*' }, /script must be a list of rules.*a mapping/],
    ['a string', 'echo', /script must be a list of rules.*a string/],
    ['empty "script:"', null, /null \(is "script:" empty\?\)/],
    ['an empty list', [], /script: .*(>=1|at least 1|too small)/i],
    ['a rule without match', [{ reply: 'x' }], /script\[0\]\.match/],
    ['an empty match', [{ match: '', reply: 'x' }], /script\[0\]\.match/],
    ['a bad regex', [{ match: 'a', reply: 'x' }, { match: '[z', reply: 'y' }], /script\[1\]\.match: not a valid regular expression/],
    ['neither reply, exec, calls nor work', [{ match: 'a' }], /script\[0\]: a rule needs a "reply", "exec", "calls" or "work"/],
    ['an empty exec', [{ match: 'a', exec: [] }], /script\[0\]\.exec/],
    ['a bad placeholder in exec', [{ match: 'a', exec: ['echo', '{{nope}}'] }], /script\[0\]\.exec\[1\]: unknown placeholder/],
    ['work beyond its bounds', [{ match: 'a', work: { alloc_mb: -1 } }], /script\[0\]\.work\.alloc_mb/],
    ['unknown work', [{ match: 'a', work: { spin: true } }], /script\[0\]\.work.*spin/],
    ['an unknown key', [{ match: 'a', reply: 'x', replies: 'y' }], /script\[0\].*replies/],
    ['a non-string reply', [{ match: 'a', reply: 5 }], /script\[0\]\.reply/],
    ['an unknown placeholder', [{ match: 'a', reply: '{{who}}' }], /script\[0\]\.reply: unknown placeholder "\{\{who\}\}"/],
    ['a bad tool name', [{ match: 'a', calls: [{ tool: 'rm -rf' }] }], /script\[0\]\.calls\[0\]\.tool: must be a tool name/],
    ['args not a mapping', [{ match: 'a', calls: [{ tool: 'x', args: ['a'] }] }], /script\[0\]\.calls\[0\]\.args/],
    ['a bad placeholder deep in args', [{ match: 'a', calls: [{ tool: 'x', args: { a: [{ b: '{{c}}' }] } }] }], /script\[0\]\.calls\[0\]\.args\.a\[0\]\.b: unknown placeholder/],
    ['too many calls in a rule', [{ match: 'a', calls: Array.from({ length: MAX_CALLS_PER_TURN + 1 }, () => ({ tool: 'x' })) }], /script\[0\]\.calls/],
    ['too many rules', Array.from({ length: MAX_RULES + 1 }, () => ({ match: 'a', reply: 'b' })), /^invalid script: script: /],
  ])('refuses %s', (_name, script, problem) => {
    const compiled = compileScript(script);
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.error).toMatch(/^invalid script: /);
    expect(compiled.error).toMatch(problem);
  });
});
